#include "shared/denied_syscalls.h"

#include <sys/socket.h>

namespace warden::sandboxing {

// Each entry: a system call that has no business in a sandboxed program.
const std::vector<std::string>& denied_syscalls() {
  static const std::vector<std::string> names = {
      // debugging and reading other processes
      "ptrace",
      "process_vm_readv",
      "process_vm_writev",
      "kcmp",
      "pidfd_getfd",
      // kernel keyrings
      "keyctl",
      "add_key",
      "request_key",
      // io_uring bypasses the filter for the operations it performs
      "io_uring_setup",
      "io_uring_enter",
      "io_uring_register",
      // BPF, perf, userfaultfd
      "bpf",
      "perf_event_open",
      "userfaultfd",
      // mounts and namespaces
      "mount",
      "umount2",
      "pivot_root",
      "chroot",
      "unshare",
      "setns",
      "fsopen",
      "fsconfig",
      "fsmount",
      "fspick",
      "move_mount",
      "open_tree",
      "mount_setattr",
      "open_by_handle_at",
      // the machine itself
      "reboot",
      "kexec_load",
      "kexec_file_load",
      "init_module",
      "finit_module",
      "delete_module",
      "swapon",
      "swapoff",
      "acct",
      "quotactl",
      "settimeofday",
      "clock_settime",
      "adjtimex",
      "syslog",
      "vhangup",
      "personality",
      "lookup_dcookie",
      "nfsservctl",
  };
  return names;
}

const std::vector<int>& denied_socket_families() {
  static const std::vector<int> families = {AF_PACKET,    AF_NETLINK, AF_VSOCK, AF_KEY,
                                            AF_BLUETOOTH, AF_ALG,     AF_XDP};
  return families;
}

const std::vector<int>& allowed_socket_types() {
  static const std::vector<int> types = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
  return types;
}

}  // namespace warden::sandboxing
