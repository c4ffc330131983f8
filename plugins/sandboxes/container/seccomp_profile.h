// The seccomp profile both engines get: their default allow list with
// warden's denied system calls taken out, and warden's own rules for socket()
// and ioctl() (the same as the native backend's filter). See
// docs/sandboxes.md, "Seccomp".
#pragma once

#include <filesystem>
#include <string>

namespace warden::containers {

// The engine's default seccomp profile at `path` (an allow list) with
// warden's denied system calls taken out of every rule that allows them, and
// its rules for socket() and ioctl() replaced by warden's, as JSON. Throws
// std::runtime_error when the file cannot be read, is not a profile or
// allows by default.
std::string derive_seccomp_profile(const std::filesystem::path& path);

}  // namespace warden::containers
