// What no sandboxed program may do, whatever the backend: the native
// backend's seccomp filter denies it, and the container backends take it out
// of the engine's default seccomp profile.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace warden::sandboxing {

// System calls denied outright (EPERM).
const std::vector<std::string>& denied_syscalls();

// Address families socket() refuses (EAFNOSUPPORT): raw link-level access,
// netlink, vsock, keys, bluetooth, kernel crypto, XDP.
const std::vector<int>& denied_socket_families();

// The socket types a sandboxed program may open (SOCK_RAW and the rest are
// refused with EPERM). The kernel keeps the type in the low 4 bits of
// socket()'s second argument (SOCK_TYPE_MASK) and flags above them.
const std::vector<int>& allowed_socket_types();
inline constexpr std::uint64_t kSocketTypeMask = 0xf;

// Arguments the kernel reads as 32 bits (int, unsigned int): a filter must
// compare only these bits, whatever a caller puts in the upper half of the
// register, or 0x100000010 passes as a harmless value and the kernel still
// sees AF_NETLINK.
inline constexpr std::uint64_t kIntArgumentMask = 0xffffffffu;

}  // namespace warden::sandboxing
