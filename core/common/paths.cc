#include "common/paths.h"

#include <dlfcn.h>

#include <cstdlib>

#include <warden/error.h>

namespace warden {
namespace fs = std::filesystem;

fs::path install_root() {
  Dl_info info{};
  fs::path binary;
  if (dladdr(reinterpret_cast<void*>(&install_root), &info) != 0 && info.dli_fname != nullptr)
    binary = info.dli_fname;
  std::error_code ec;
  if (binary.empty() || !binary.has_parent_path()) binary = fs::read_symlink("/proc/self/exe", ec);
  fs::path dir = fs::weakly_canonical(binary, ec).parent_path();
  std::string leaf = dir.filename().string();
  if (leaf == "bin" || leaf == "lib" || leaf == "lib64") return dir.parent_path();
  return dir;
}

fs::path default_plugin_directory() {
  return install_root() / "lib" / "warden" / "plugins";
}

fs::path data_directory() {
  return install_root() / "share" / "warden";
}

fs::path resolve_config_path(const std::string& explicit_path) {
  if (!explicit_path.empty()) return fs::absolute(explicit_path);
  if (const char* env = std::getenv("WARDEN_CONFIG"); env != nullptr && *env != '\0')
    return fs::absolute(env);
  return data_directory() / "config" / "warden.yaml";
}

fs::path expand_path(std::string_view text, const fs::path& base, std::string_view what) {
  std::string out;
  std::size_t i = 0;
  if (text.starts_with("~/") || text == "~") {
    const char* home = std::getenv("HOME");
    if (home == nullptr)
      throw Error(ErrorKind::kConfig, std::string(what) + ": '~' used but HOME is not set");
    out = home;
    i = 1;
  }
  while (i < text.size()) {
    if (text[i] != '$') {
      out.push_back(text[i++]);
      continue;
    }
    std::string name;
    if (i + 1 < text.size() && text[i + 1] == '{') {
      std::size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos)
        throw Error(ErrorKind::kConfig,
                    std::string(what) + ": unterminated '${' in '" + std::string(text) + "'");
      name = std::string(text.substr(i + 2, close - i - 2));
      i = close + 1;
    } else {
      std::size_t j = i + 1;
      while (j < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_'))
        ++j;
      name = std::string(text.substr(i + 1, j - i - 1));
      i = j;
    }
    const char* value = std::getenv(name.c_str());
    if (value == nullptr)
      throw Error(ErrorKind::kConfig,
                  std::string(what) + ": environment variable '" + name + "' is not set");
    out += value;
  }
  fs::path p(out);
  return (p.is_absolute() ? p : base / p).lexically_normal();
}

}  // namespace warden
