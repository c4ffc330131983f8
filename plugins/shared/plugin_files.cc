#include "shared/plugin_files.h"

#include <dlfcn.h>

#include <cstdlib>

namespace warden::tools {
namespace fs = std::filesystem;

fs::path plugin_data_directory(const std::string& name) {
  Dl_info info{};
  fs::path plugin;
  if (dladdr(reinterpret_cast<void*>(&plugin_data_directory), &info) != 0 &&
      info.dli_fname != nullptr)
    plugin = info.dli_fname;
  std::error_code ec;
  fs::path root =
      fs::weakly_canonical(plugin, ec).parent_path().parent_path().parent_path().parent_path();
  return root / "share" / "warden" / "plugins" / name;
}

fs::path tools_virtualenv() {
  const char* venv = std::getenv("WARDEN_TOOLS_VENV");
  return venv != nullptr && *venv != '\0' ? fs::path(venv) : fs::path("/opt/warden/tools");
}

}  // namespace warden::tools
