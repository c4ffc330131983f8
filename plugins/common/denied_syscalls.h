// The system calls no sandboxed program may make, whatever the backend: the
// native backend's seccomp filter denies them, and the container backends
// take them out of the engine's default seccomp profile.
#pragma once

#include <string>
#include <vector>

namespace warden::sandboxing {

const std::vector<std::string>& denied_syscalls();

}  // namespace warden::sandboxing
