#include "common/paths.h"

#include <dlfcn.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <vector>

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

namespace {

// The user's home: $HOME, else the home folder of the user's passwd entry (a
// service account started without HOME), else empty.
std::string home_directory() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(getuid(), &entry, buffer.data(), buffer.size(), &found) == 0 && found &&
      found->pw_dir != nullptr)
    return found->pw_dir;
  return "";
}

// "~/", ${VAR}, ${VAR:-fallback} (the fallback expanded in turn when VAR is
// unset or empty) and $VAR expanded in `text`.
std::string expand_text(std::string_view text, std::string_view what) {
  std::string out;
  std::size_t i = 0;
  if (text.starts_with("~/") || text == "~") {
    out = home_directory();
    if (out.empty())
      throw Error(ErrorKind::kConfig, std::string(what) +
                                          ": '~' used but HOME is not set and the user has no "
                                          "home folder (set HOME, or use an absolute path)");
    i = 1;
  }
  while (i < text.size()) {
    if (text[i] != '$') {
      out.push_back(text[i++]);
      continue;
    }
    std::string name;
    std::optional<std::string_view> fallback;
    if (i + 1 < text.size() && text[i + 1] == '{') {
      std::size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos)
        throw Error(ErrorKind::kConfig,
                    std::string(what) + ": unterminated '${' in '" + std::string(text) + "'");
      std::string_view inside = text.substr(i + 2, close - i - 2);
      if (std::size_t dash = inside.find(":-"); dash != std::string_view::npos) {
        fallback = inside.substr(dash + 2);
        inside = inside.substr(0, dash);
      }
      name = std::string(inside);
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
    if (fallback && (value == nullptr || *value == '\0')) {
      out += expand_text(*fallback, what);
      continue;
    }
    if (value == nullptr)
      throw Error(ErrorKind::kConfig,
                  std::string(what) + ": environment variable '" + name + "' is not set");
    out += value;
  }
  return out;
}

}  // namespace

fs::path expand_path(std::string_view text, const fs::path& base, std::string_view what) {
  fs::path p(expand_text(text, what));
  return (p.is_absolute() ? p : base / p).lexically_normal();
}

}  // namespace warden
