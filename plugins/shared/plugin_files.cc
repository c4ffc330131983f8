#include "shared/plugin_files.h"

#include <dlfcn.h>

#include <cstdlib>

namespace warden::tools {
namespace fs = std::filesystem;

const fs::path& plugin_file() {
  // Never destroyed: a backend's pool thread may still ask as the process exits.
  static const fs::path* file = new fs::path([] {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&plugin_file), &info) == 0 || info.dli_fname == nullptr)
      return fs::path();
    std::error_code ec;
    return fs::weakly_canonical(info.dli_fname, ec);
  }());
  return *file;
}

fs::path plugin_data_directory(const std::string& name) {
  fs::path root = plugin_file().parent_path().parent_path().parent_path().parent_path();
  return root / "share" / "warden" / "plugins" / name;
}

fs::path tools_virtualenv() {
  const char* venv = std::getenv("WARDEN_TOOLS_VENV");
  return venv != nullptr && *venv != '\0' ? fs::path(venv) : fs::path("/opt/warden/tools");
}

}  // namespace warden::tools
