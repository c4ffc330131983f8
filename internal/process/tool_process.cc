#include "process/tool_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace warden::tools {
namespace {

constexpr std::size_t kStderrTail = 4096;

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

int remaining_ms(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now())
                  .count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000));
}

}  // namespace

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  return "status " + std::to_string(status);
}

ToolProcess::ToolProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env, const std::string& cwd,
                         Lifetime lifetime) {
  const bool with_thread = lifetime == Lifetime::kWithCallingThread;
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw ToolFailure(ToolFailure::Kind::kIo, errno_text("pipe"));
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> c_argv, c_env;
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  for (const auto& e : env_strings) c_env.push_back(const_cast<char*>(e.c_str()));
  c_argv.push_back(nullptr);
  c_env.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw ToolFailure(ToolFailure::Kind::kIo, errno_text("fork"));
  if (pid_ == 0) {  // async-signal-safe calls only
    ::setpgid(0, 0);
    if (with_thread) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (::dup2(in[0], 0) < 0 || ::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0) ::_exit(127);
    if (::chdir(cwd.c_str()) != 0) ::_exit(127);
    ::execve(c_argv[0], c_argv.data(), c_env.data());
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // also here, so kill() works even before the child ran
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  stdin_ = in[1];
  stdout_ = out[0];
  stderr_ = err[0];
}

ToolProcess::~ToolProcess() {
  kill();
  for (int fd : {stdin_, stdout_, stderr_})
    if (fd >= 0) ::close(fd);
}

void ToolProcess::write(const std::string& data) {
  // A tool that died makes write() fail with EPIPE; SIGPIPE must not kill the host.
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  std::size_t done = 0;
  int error = 0;
  while (done < data.size()) {
    ssize_t n = ::write(stdin_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (error == EPIPE) {
    timespec zero{0, 0};
    sigtimedwait(&pipe_set, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  if (error != 0)
    throw ToolFailure(ToolFailure::Kind::kExited,
                      std::string("the tool stopped reading its input: ") + std::strerror(error));
}

void ToolProcess::close_stdin() {
  if (stdin_ >= 0) ::close(stdin_);
  stdin_ = -1;
}

std::size_t ToolProcess::fill(Deadline deadline) {
  char chunk[65536];
  for (;;) {
    pollfd fds[2] = {{stdout_, POLLIN, 0}, {stderr_, POLLIN, 0}};
    int n = ::poll(fds, stderr_ >= 0 ? 2 : 1, remaining_ms(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ToolFailure(ToolFailure::Kind::kIo, errno_text("poll"));
    if (n == 0) {
      kill();
      throw ToolFailure(ToolFailure::Kind::kTimeout, "the tool did not answer before the deadline");
    }
    if (stderr_ >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = ::read(stderr_, chunk, sizeof chunk);
      if (r > 0) {
        stderr_tail_.append(chunk, static_cast<std::size_t>(r));
        if (stderr_tail_.size() > kStderrTail)
          stderr_tail_.erase(0, stderr_tail_.size() - kStderrTail);
      } else if (r == 0 || errno != EINTR) {
        ::close(stderr_);
        stderr_ = -1;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = ::read(stdout_, chunk, sizeof chunk);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw ToolFailure(ToolFailure::Kind::kIo, errno_text("read"));
      buffer_.append(chunk, static_cast<std::size_t>(r));
      return static_cast<std::size_t>(r);
    }
  }
}

std::string ToolProcess::read_line(Deadline deadline) {
  for (;;) {
    std::size_t newline = buffer_.find('\n', searched_);
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      searched_ = 0;
      return line;
    }
    searched_ = buffer_.size();
    if (fill(deadline) == 0) {
      kill();
      throw ToolFailure(ToolFailure::Kind::kExited,
                        "the tool exited (" + describe_status(status_) + ")");
    }
  }
}

int ToolProcess::read_to_exit(Deadline deadline, std::string& out) {
  while (fill(deadline) > 0) {
  }
  out = std::move(buffer_);
  buffer_.clear();
  searched_ = 0;
  // stdout is closed: the tool is exiting; give it until the deadline.
  while (!reaped_) {
    pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      break;
    }
    if (remaining_ms(deadline) == 0) {
      kill();
      throw ToolFailure(ToolFailure::Kind::kTimeout, "the tool did not exit before the deadline");
    }
    ::usleep(1000);
  }
  return status_;
}

bool ToolProcess::running() {
  if (!reaped_ && ::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

std::string ToolProcess::stderr_tail() const {
  return stderr_tail_;
}

void ToolProcess::kill() {
  if (pid_ <= 0 || reaped_) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
}

}  // namespace warden::tools
