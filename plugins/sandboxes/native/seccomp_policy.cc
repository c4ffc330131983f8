#include "seccomp_policy.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace warden::native {
namespace {

// Each entry: a system call that has no business in a sandboxed program.
const std::vector<std::string> kDenied = {
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

constexpr unsigned long kNamespaceFlags[] = {CLONE_NEWUSER,   CLONE_NEWNS,  CLONE_NEWPID,
                                             CLONE_NEWNET,    CLONE_NEWUTS, CLONE_NEWIPC,
                                             CLONE_NEWCGROUP, CLONE_NEWTIME};

void check(int rc, const char* what) {
  if (rc < 0) throw std::runtime_error(std::string("seccomp: ") + what + ": " + std::strerror(-rc));
}

}  // namespace

const std::vector<std::string>& denied_syscalls() {
  return kDenied;
}

int compile_seccomp_filter() {
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_ALLOW),
                                                       seccomp_release);
  if (!ctx) throw std::runtime_error("seccomp: seccomp_init failed");
  for (const auto& name : kDenied) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 0), name.c_str());
  }
  // clone3 passes its flags in memory the filter cannot read: make libc fall back to clone.
  check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "clone3");
  // clone into new namespaces: one rule per flag (rules for one call are or-ed).
  for (unsigned long flag : kNamespaceFlags)
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)),
          "clone");
  // Raw and link-level sockets, netlink, vsock: nothing a program needs here.
  for (int family : {AF_PACKET, AF_NETLINK, AF_VSOCK, AF_KEY, AF_BLUETOOTH, AF_ALG, AF_XDP})
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                           SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family))),
          "socket");
  // SOCK_RAW in any family.
  check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                         SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_RAW)),
        "socket raw");
  // Typing into the controlling terminal (CVE-2017-5226 class).
  check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                         SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI)),
        "ioctl");
  int fd = ::memfd_create("warden-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error(std::string("seccomp: memfd_create: ") + std::strerror(errno));
  int rc = seccomp_export_bpf(ctx.get(), fd);
  if (rc < 0) {
    ::close(fd);
    check(rc, "export");
  }
  ::lseek(fd, 0, SEEK_SET);
  return fd;
}

}  // namespace warden::native
