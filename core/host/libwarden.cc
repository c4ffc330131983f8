// libwarden: the shared library embedders link (warden::warden). It carries
// the whole core; its exported surface is sdk/include/warden/host.h plus this
// version query, callable from C.
#include <warden/host.h>
#include <warden/version.h>

extern "C" WARDEN_API const char* warden_version(void) {
  return WARDEN_VERSION;
}
