// The native backend's child set-up (plugins/sandboxes/native/sandbox_process.h)
// on its own: what bwrap finds at each file descriptor number.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "sandbox_process.h"

namespace {

// A memfd holding `text`, read from its start, at fd `number`.
void place(const std::string& text, int number) {
  int fd = ::memfd_create("warden-test", MFD_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::lseek(fd, 0, SEEK_SET);
  if (fd != number) {
    REQUIRE(::dup3(fd, number, O_CLOEXEC) == number);
    ::close(fd);
  }
}

}  // namespace

TEST_CASE(
    "a sandbox child finds each inherited file at its number even where the numbers cross "
    "and the host holds many files") {
  // The host's fds 7 and 8 hold B and A, and the child is to find A at 7 and
  // B at 8: done in order, putting A at 7 would overwrite B before it moves.
  // (Threads opening and closing files made such numbers now and then: bwrap
  // then read its seccomp filter from the file it had just read the program
  // from, at its end.)
  int saved[2] = {::fcntl(7, F_DUPFD_CLOEXEC, 20), ::fcntl(8, F_DUPFD_CLOEXEC, 20)};
  place("B", 7);
  place("A", 8);
  // And every number from 9 to 99 is taken, above the run's RLIMIT_NOFILE of
  // 16, as in a busy host (a service with many clients).
  std::vector<int> taken;
  while (taken.empty() || taken.back() < 99) {
    taken.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    REQUIRE(taken.back() >= 0);
  }

  warden::native::ChildSetup setup;
  setup.program = "/bin/sh";
  setup.argv = {"sh", "-c", "cat <&7; cat <&8"};
  setup.env = {"PATH=/usr/bin:/bin"};
  setup.uid = ::getuid();
  setup.gid = ::getgid();
  setup.inherited_fds = {{8, 7}, {7, 8}};
  setup.rlimits = {{RLIMIT_NOFILE, {16, 16}}};
  warden::native::StartedChild child = warden::native::start_child(setup, [] {});
  for (int fd : taken) ::close(fd);
  ::close(child.stdin_fd);
  std::string out;
  char buffer[64];
  for (ssize_t n; (n = ::read(child.stdout_fd, buffer, sizeof buffer)) > 0;)
    out.append(buffer, static_cast<std::size_t>(n));
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  ::close(child.stdout_fd);
  ::close(child.stderr_fd);
  for (int i = 0; i < 2; ++i) {
    if (saved[i] >= 0) {
      ::dup3(saved[i], 7 + i, 0);
      ::close(saved[i]);
    } else {
      ::close(7 + i);
    }
  }
  CHECK(out == "AB");
  CHECK(WIFEXITED(status));
}
