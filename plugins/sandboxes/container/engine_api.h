// Names in the engines' APIs that the container backend uses in several
// places: API versions, the owner label, and URL encoding of names.
#pragma once

#include <cctype>
#include <string>

namespace warden::containers {

enum class Engine { kDocker, kPodman };

inline std::string engine_name(Engine engine) {
  return engine == Engine::kDocker ? "docker" : "podman";
}

inline constexpr const char* kCompatVersion = "/v1.41";  // Podman's Docker-compatible API
inline constexpr const char* kLibpodVersion = "/v4.0.0";
// Docker Engine API versions: every field the spec uses (Init, Tmpfs) is in
// 1.30; calls use at most 1.45.
inline constexpr int kMinDockerApiMinor = 30;
inline constexpr int kMaxDockerApiMinor = 45;

// The label on every container: its host process, "<pid>.<start time>".
inline constexpr const char* kOwnerLabel = "io.warden.owner";

inline std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

}  // namespace warden::containers
