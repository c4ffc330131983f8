#include "seccomp_policy.h"

#include "shared/denied_syscalls.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

namespace warden::native {
namespace {

constexpr unsigned long kNamespaceFlags[] = {CLONE_NEWUSER,   CLONE_NEWNS,  CLONE_NEWPID,
                                             CLONE_NEWNET,    CLONE_NEWUTS, CLONE_NEWIPC,
                                             CLONE_NEWCGROUP, CLONE_NEWTIME};

void check(int rc, const char* what) {
  if (rc < 0) throw std::runtime_error(std::string("seccomp: ") + what + ": " + std::strerror(-rc));
}

// The filter as BPF. Throws std::runtime_error when libseccomp fails.
std::string compile_bpf() {
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_ALLOW),
                                                       seccomp_release);
  if (!ctx) throw std::runtime_error("seccomp: seccomp_init failed");
  for (const auto& name : sandboxing::denied_syscalls()) {
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
  // Raw and link-level sockets, netlink, vsock, ...: nothing a program needs
  // here. socket() takes family and type as ints: compare 32 bits, as the
  // kernel reads them (see denied_syscalls.h).
  using sandboxing::kIntArgumentMask;
  for (int family : sandboxing::denied_socket_families())
    check(seccomp_rule_add(
              ctx.get(), SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
              SCMP_A0(SCMP_CMP_MASKED_EQ, kIntArgumentMask, static_cast<scmp_datum_t>(family))),
          "socket");
  const auto& types = sandboxing::allowed_socket_types();
  for (scmp_datum_t type = 0; type <= sandboxing::kSocketTypeMask; ++type)
    if (std::find(types.begin(), types.end(), static_cast<int>(type)) == types.end())
      check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                             SCMP_A1(SCMP_CMP_MASKED_EQ, sandboxing::kSocketTypeMask, type)),
            "socket type");
  // Typing into the controlling terminal (CVE-2017-5226 class). The request is an
  // unsigned long but the tty layer compares it as unsigned int: mask it alike.
  check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                         SCMP_A1(SCMP_CMP_MASKED_EQ, kIntArgumentMask, TIOCSTI)),
        "ioctl");
  int fd = ::memfd_create("warden-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error(std::string("seccomp: memfd_create: ") + std::strerror(errno));
  int rc = seccomp_export_bpf(ctx.get(), fd);
  std::string bpf(static_cast<std::size_t>(std::max<off_t>(::lseek(fd, 0, SEEK_END), 0)), '\0');
  ssize_t got = ::pread(fd, bpf.data(), bpf.size(), 0);
  ::close(fd);
  check(rc, "export");
  if (bpf.empty() || got != static_cast<ssize_t>(bpf.size()) || bpf.size() % 8 != 0)
    throw std::runtime_error("seccomp: the exported filter cannot be read back");
  return bpf;
}

}  // namespace

int seccomp_filter_fd() {
  // Compiled once (a failure is tried again by the next call): the filter is
  // the same for every run, so no run pays libseccomp's compilation. Never
  // destroyed: the pool's thread may still prepare a sandbox as the process
  // exits.
  static const std::string& bpf = *new std::string(compile_bpf());
  int fd = ::memfd_create("warden-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error(std::string("seccomp: memfd_create: ") + std::strerror(errno));
  if (::write(fd, bpf.data(), bpf.size()) != static_cast<ssize_t>(bpf.size()) ||
      ::lseek(fd, 0, SEEK_SET) != 0) {
    int error = errno;
    ::close(fd);
    throw std::runtime_error(std::string("seccomp: cannot stage the filter: ") +
                             std::strerror(error));
  }
  return fd;
}

}  // namespace warden::native
