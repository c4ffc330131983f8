// The seccomp filter every native sandbox runs under: a deny list of the
// system calls that reach kernel attack surface or escape the namespaces,
// answered with EPERM (ENOSYS for clone3, so libc falls back to clone, whose
// namespace flags the filter can see).
#pragma once

#include <string>
#include <vector>

namespace warden::native {

// Compiles the filter to BPF in a memfd and returns the file descriptor
// (caller closes it). Throws std::runtime_error when libseccomp fails.
int compile_seccomp_filter();

}  // namespace warden::native
