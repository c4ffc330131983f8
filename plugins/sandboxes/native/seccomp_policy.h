// The seccomp filter every native sandbox runs under: a deny list of the
// system calls that reach kernel attack surface or escape the namespaces,
// answered with EPERM (ENOSYS for clone3, so libc falls back to clone, whose
// namespace flags the filter can see).
#pragma once

#include <string>
#include <vector>

namespace warden::native {

// The filter as BPF in a new memfd, at offset 0 (the caller closes it;
// bwrap reads it). Compiled once per process. Thread-safe. Throws
// std::runtime_error when libseccomp fails.
int seccomp_filter_fd();

}  // namespace warden::native
