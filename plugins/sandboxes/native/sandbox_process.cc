#include "sandbox_process.h"

#include "shared/pipe_write.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace warden::native {
namespace {

// What the child reports through the error pipe when a step fails.
struct ChildFailure {
  int step;
  int error;
};

const char* kSteps[] = {
    "join cgroup", "set rlimit", "set up file descriptors", "drop groups", "set gid",
    "set uid",     "exec bwrap", "parent death signal"};

[[noreturn]] void child_fail(int pipe_fd, int step) {
  ChildFailure f{step, errno};
  [[maybe_unused]] auto n = ::write(pipe_fd, &f, sizeof f);
  ::_exit(126);
}

// Runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void child_main(const ChildSetup& s, pid_t host, char* const* argv, char* const* envp,
                             int in_fd, int out_fd, int err_fd, int error_pipe) {
  for (int fd : s.cgroup_fds)
    if (::write(fd, "0", 1) != 1) child_fail(error_pipe, 0);
  if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0)
    child_fail(error_pipe, 2);
  // Each inherited fd is first moved above every target number, then put at
  // its own: one whose number is another's target would otherwise be
  // overwritten before it is moved (both then the same file: bwrap read its
  // seccomp filter from the end of the program it had just copied).
  int first_free = 3;
  for (const auto& [fd, target] : s.inherited_fds) first_free = std::max(first_free, target + 1);
  int moved[kMaxInheritedFds];
  for (std::size_t i = 0; i < s.inherited_fds.size(); ++i)
    if ((moved[i] = ::fcntl(s.inherited_fds[i].first, F_DUPFD_CLOEXEC, first_free)) < 0)
      child_fail(error_pipe, 2);
  for (std::size_t i = 0; i < s.inherited_fds.size(); ++i)
    if (::dup2(moved[i], s.inherited_fds[i].second) < 0) child_fail(error_pipe, 2);
  // Everything else is closed at exec (the error pipe too, which tells the parent exec worked).
  if (::syscall(SYS_close_range, first_free, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
    child_fail(error_pipe, 2);
  // After the moves: a host with many files open has free numbers only above
  // the run's RLIMIT_NOFILE.
  for (const auto& [resource, limit] : s.rlimits)
    if (::setrlimit(resource, &limit) != 0) child_fail(error_pipe, 1);
  if (::setgroups(0, nullptr) != 0) child_fail(error_pipe, 3);
  if (::setresgid(s.gid, s.gid, s.gid) != 0) child_fail(error_pipe, 4);
  if (::setresuid(s.uid, s.uid, s.uid) != 0) child_fail(error_pipe, 5);
  // After the uid change, which clears the parent-death signal: bwrap dies
  // with the host (and the sandbox with bwrap, --die-with-parent), however
  // the host dies. A host already gone is noticed through the parent pid.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(error_pipe, 7);
  if (::getppid() != host) ::_exit(126);
  ::execve(s.program.c_str(), argv, envp);
  child_fail(error_pipe, 6);
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

StartedChild start_child(const ChildSetup& setup, const std::function<void()>& kill_tree) {
  if (setup.inherited_fds.size() > kMaxInheritedFds)
    throw std::runtime_error("sandbox child: too many inherited file descriptors");
  int in[2], out[2], err[2], error_pipe[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC) ||
      ::pipe2(error_pipe, O_CLOEXEC))
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  auto argv = c_strings(setup.argv);
  auto envp = c_strings(setup.env);

  pid_t host = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0)
    child_main(setup, host, argv.data(), envp.data(), in[0], out[1], err[1], error_pipe[1]);

  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ::close(error_pipe[1]);
  ChildFailure failure{};
  ssize_t got = ::read(error_pipe[0], &failure, sizeof failure);
  ::close(error_pipe[0]);
  if (got == sizeof failure) {
    ::waitpid(pid, nullptr, 0);
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    kill_tree();
    throw std::runtime_error(std::string("sandbox child could not ") + kSteps[failure.step] + ": " +
                             std::strerror(failure.error));
  }
  return {.pid = pid, .stdin_fd = in[1], .stdout_fd = out[0], .stderr_fd = err[0]};
}

ChildOutcome run_child(const ChildSetup& setup, std::string_view stdin_data,
                       std::uint64_t wall_time_ms, std::uint64_t output_cap, OutputStream& output,
                       const std::function<bool()>& cancelled,
                       const std::function<bool()>& cpu_exhausted,
                       const std::function<void()>& kill_tree) {
  auto start = std::chrono::steady_clock::now();
  StartedChild child = start_child(setup, kill_tree);
  return pump_child(child, start, stdin_data, wall_time_ms, output_cap, output, cancelled,
                    cpu_exhausted, kill_tree);
}

ChildOutcome pump_child(StartedChild& child, std::chrono::steady_clock::time_point start,
                        std::string_view stdin_data, std::uint64_t wall_time_ms,
                        std::uint64_t output_cap, OutputStream& output,
                        const std::function<bool()>& cancelled,
                        const std::function<bool()>& cpu_exhausted,
                        const std::function<void()>& kill_tree) {
  pid_t pid = child.pid;
  ChildOutcome outcome;
  int &stdin_fd = child.stdin_fd, &stdout_fd = child.stdout_fd, &stderr_fd = child.stderr_fd;
  std::size_t written = 0;
  if (stdin_data.empty())
    close_fd(stdin_fd);
  else
    ::fcntl(stdin_fd, F_SETFL, O_NONBLOCK);
  auto deadline = start + std::chrono::milliseconds(wall_time_ms);
  // No process to reap (a warm sandbox's program, which its launcher reaps):
  // the run ends with its status and output.
  bool reaped = pid <= 0, killed = false;
  int status = 0;
  auto kill_once = [&] {
    if (!killed) kill_tree();
    killed = true;
  };
  char buffer[65536];
  while (stdout_fd >= 0 || stderr_fd >= 0 || !reaped || child.status_fd >= 0) {
    if (!reaped && ::waitpid(pid, &status, WNOHANG) == pid) {
      reaped = true;
      // bwrap is gone; anything it left (it should have left nothing) goes too, and the
      // pipes then close.
      kill_once();
    }
    auto now = std::chrono::steady_clock::now();
    if (!killed && now >= deadline) {
      outcome.timed_out = true;
      kill_once();
    }
    if (!killed && cancelled && cancelled()) {
      outcome.cancelled = true;
      kill_once();
    }
    if (!killed && cpu_exhausted()) {
      outcome.cpu_time_exceeded = true;
      kill_once();
    }
    pollfd fds[4];
    int n = 0, out_i = -1, err_i = -1, in_i = -1, status_i = -1;
    if (child.status_fd >= 0) fds[status_i = n++] = {child.status_fd, POLLIN, 0};
    if (stdout_fd >= 0) fds[out_i = n++] = {stdout_fd, POLLIN, 0};
    if (stderr_fd >= 0) fds[err_i = n++] = {stderr_fd, POLLIN, 0};
    if (stdin_fd >= 0) fds[in_i = n++] = {stdin_fd, POLLOUT, 0};
    int wait_ms = 20;
    if (!killed) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      wait_ms = static_cast<int>(std::max<long long>(0, std::min<long long>(left, 20)));
    }
    if (n == 0) {
      if (pid > 0) ::waitpid(pid, &status, 0);
      reaped = true;
      kill_once();
      break;
    }
    if (::poll(fds, n, wait_ms) < 0 && errno != EINTR) break;
    if (status_i >= 0 && (fds[status_i].revents & (POLLIN | POLLHUP | POLLERR))) {
      // The program has exited (or the launcher is gone): everything left of
      // the sandbox goes now, and its output drains.
      char text[16] = {};
      ssize_t r = ::read(child.status_fd, text, sizeof text - 1);
      int code = -1;
      if (r > 1 && text[r - 1] == '\n' && std::sscanf(text, "%d", &code) == 1 && code >= 0 &&
          code < 256)
        outcome.reported_status = code;
      close_fd(child.status_fd);
      kill_once();
    }
    for (auto [index, fd, text] : {std::tuple{out_i, &stdout_fd, &outcome.out},
                                   std::tuple{err_i, &stderr_fd, &outcome.err}}) {
      if (index < 0 || !(fds[index].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = ::read(*fd, buffer, sizeof buffer);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        close_fd(*fd);
        continue;
      }
      std::size_t room =
          output_cap - std::min<std::uint64_t>(output_cap, outcome.out.size() + outcome.err.size());
      std::string_view kept(buffer, std::min<std::size_t>(room, static_cast<std::size_t>(r)));
      text->append(kept);
      if (text == &outcome.out)
        output.write_stdout(kept);
      else
        output.write_stderr(kept);
      if (static_cast<std::size_t>(r) > room) {
        outcome.output_truncated = true;
        kill_once();
      }
    }
    if (in_i >= 0 && (fds[in_i].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = sandboxing::write_without_sigpipe(stdin_fd, stdin_data.data() + written,
                                                    stdin_data.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if ((w < 0 && errno != EAGAIN) || written == stdin_data.size()) close_fd(stdin_fd);
    }
  }
  close_fd(stdin_fd);
  close_fd(stdout_fd);
  close_fd(stderr_fd);
  close_fd(child.status_fd);
  if (!reaped) ::waitpid(pid, &status, 0);
  child.pid = -1;
  outcome.wait_status = status;
  outcome.wall_time_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - start)
                                     .count());
  return outcome;
}

}  // namespace warden::native
