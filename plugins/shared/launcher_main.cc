// warden-launch: the first program of every container and of every native
// warm sandbox (shared/launcher.h). A static executable, so that it runs in
// any image and starts in about a millisecond (the Python launcher it
// replaces took ~13 ms of CPU per sandbox, as long as the program's own
// interpreter). The host places it in the sandbox's read-only /sandbox.
//
// It opens the FIFO without waiting for a writer; the host opens its end as
// soon as that is done and writes "r" (ready); a host that died before
// (while filling its warm pool, say) never will, so the launcher exits after
// 30 s without it (a loaded engine can take seconds to answer the start that
// comes before the host's open). Then it waits until the host writes "g" (or
// goes away: then it exits), lowers its own rlimits as the launch message
// says (it needs next to nothing: a few files, no CPU to speak of) and spawns
// the program (posix_spawn: no copy of the launcher's memory), which inherits
// them, with exactly the given environment, its stdio from the message's
// "stdio" fds (0, 1, 2 by default) and none of the launcher's. The launcher
// stays as the run's watchdog: when the host's end of the FIFO closes (the
// host died, or ended the run) or `deadline_ms` passes, it kills every
// process of the sandbox user and exits, which ends the sandbox (its init
// exits with its only child). So no run outlives its host or its wall time.
// It exits with the program's status, or 128 + the signal that ended it;
// given a status fd, it first writes that status there (text, a newline
// after it), so that the host learns of the end at once rather than through
// the exits of the sandbox's other processes (bwrap's).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "shared/launcher.h"

namespace {

using Clock = std::chrono::steady_clock;
using warden::sandboxing::kLauncherFailed;
using warden::sandboxing::kLauncherPrefix;

constexpr int kReadyTimeoutMs = 30000;

// The rlimits a launch message may name, after RLIMIT_.
const std::map<std::string, int>& rlimit_names() {
  static const std::map<std::string, int> names = {
      {"AS", RLIMIT_AS},           {"CORE", RLIMIT_CORE},
      {"CPU", RLIMIT_CPU},         {"DATA", RLIMIT_DATA},
      {"FSIZE", RLIMIT_FSIZE},     {"LOCKS", RLIMIT_LOCKS},
      {"MEMLOCK", RLIMIT_MEMLOCK}, {"MSGQUEUE", RLIMIT_MSGQUEUE},
      {"NICE", RLIMIT_NICE},       {"NOFILE", RLIMIT_NOFILE},
      {"NPROC", RLIMIT_NPROC},     {"RSS", RLIMIT_RSS},
      {"RTPRIO", RLIMIT_RTPRIO},   {"SIGPENDING", RLIMIT_SIGPENDING},
      {"STACK", RLIMIT_STACK}};
  return names;
}

// One byte from the host; -1 when its end closed or failed.
int read_byte(int fd) {
  char c = 0;
  ssize_t n;
  while ((n = ::read(fd, &c, 1)) < 0 && errno == EINTR) {
  }
  return n == 1 ? static_cast<unsigned char>(c) : -1;
}

bool read_file(const char* path, std::string& out) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char chunk[65536];
  ssize_t n;
  while ((n = ::read(fd, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out.append(chunk, static_cast<std::size_t>(n));
  ::close(fd);
  return n == 0;
}

// Best effort: the reader may be gone.
void write_text(int fd, const std::string& text) {
  if (fd < 0) return;
  ssize_t written = ::write(fd, text.data(), text.size());
  (void)written;
}

// What the program's start needs, from the launch message (launch_message()).
struct Launch {
  std::vector<std::string> argv, env;
  std::string cwd;
  std::int64_t deadline_ms = 0;
  std::vector<std::tuple<int, rlim_t, rlim_t>> rlimits;
  int status_fd = -1;
  std::vector<int> stdio = {0, 1, 2};
};

// Throws std::exception when the message is not one the host writes.
Launch parse_launch(const std::string& text) {
  nlohmann::json m = nlohmann::json::parse(text);
  Launch l;
  l.argv = m.at("argv").get<std::vector<std::string>>();
  if (l.argv.empty()) throw std::runtime_error("empty argv");
  for (const auto& [k, v] : m.at("env").items()) l.env.push_back(k + "=" + v.get<std::string>());
  l.cwd = m.at("cwd").get<std::string>();
  l.deadline_ms = m.at("deadline_ms").get<std::int64_t>();
  for (const auto& r : m.at("rlimits")) {
    auto name = rlimit_names().find(r.at(0).get<std::string>());
    if (name == rlimit_names().end()) throw std::runtime_error("unknown rlimit");
    l.rlimits.emplace_back(name->second, r.at(1).get<rlim_t>(), r.at(2).get<rlim_t>());
  }
  l.status_fd = m.value("status_fd", -1);
  if (m.contains("stdio")) l.stdio = m["stdio"].get<std::vector<int>>();
  if (l.stdio.size() != 3) throw std::runtime_error("stdio is not three fds");
  return l;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Starts the program as `launch` says; returns its pid, or throws
// std::runtime_error with the reason (the launcher's rlimits may then be
// lowered already: it exits).
pid_t spawn_program(Launch& launch) {
  for (const auto& [resource, soft, hard] : launch.rlimits) {
    rlimit limit{soft, hard};
    if (::setrlimit(resource, &limit) != 0)
      throw std::runtime_error(std::string("setrlimit: ") + std::strerror(errno));
  }
  if (::chdir(launch.cwd.c_str()) != 0)
    throw std::runtime_error(launch.cwd + ": " + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int i = 0; i < 3; ++i)
    if (launch.stdio[i] != i) posix_spawn_file_actions_adddup2(&actions, launch.stdio[i], i);
  for (int fd : std::set<int>(launch.stdio.begin(), launch.stdio.end()))
    if (fd > 2) posix_spawn_file_actions_addclose(&actions, fd);
  if (launch.status_fd >= 0) posix_spawn_file_actions_addclose(&actions, launch.status_fd);
  std::vector<char*> argv = c_strings(launch.argv), env = c_strings(launch.env);
  pid_t pid = -1;
  int error = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw std::runtime_error(std::strerror(error));
  return pid;
}

// The program's status as the run's: its exit status, or 128 + the signal.
int status_code(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

}  // namespace

int main() {
  int host = ::open("/sandbox/.go", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (host < 0) return 0;
  pollfd ready{host, POLLIN, 0};
  if (::poll(&ready, 1, kReadyTimeoutMs) <= 0 || read_byte(host) != 'r') return 0;
  ::fcntl(host, F_SETFL, ::fcntl(host, F_GETFL) & ~O_NONBLOCK);
  std::string message;
  if (read_byte(host) != 'g' || !read_file("/sandbox/.launch.json", message)) return 0;
  Launch launch;
  try {
    launch = parse_launch(message);
  } catch (const std::exception& e) {
    write_text(2, std::string(kLauncherPrefix) + "malformed launch message: " + e.what() + "\n");
    return kLauncherFailed;
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(launch.deadline_ms);
  pid_t pid = -1;
  try {
    pid = spawn_program(launch);
  } catch (const std::exception& e) {
    write_text(launch.stdio[2],
               std::string(kLauncherPrefix) + launch.argv[0] + ": " + e.what() + "\n");
    write_text(launch.status_fd, std::to_string(kLauncherFailed) + "\n");
    return kLauncherFailed;
  }
  for (int fd : std::set<int>{launch.stdio[0], launch.stdio[1], launch.stdio[2], 0, 1, 2})
    ::close(fd);
  int program = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // Linux 5.3
  for (;;) {
    int wait_status = 0;
    if (::waitpid(pid, &wait_status, WNOHANG) == pid) {
      int code = status_code(wait_status);
      write_text(launch.status_fd, std::to_string(code) + "\n");
      return code;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd watch[2] = {{host, POLLIN, 0}, {program, POLLIN, 0}};
    if (left.count() > 0 &&
        ::poll(watch, 2, static_cast<int>(std::min<std::int64_t>(left.count(), 1 << 30))) < 0 &&
        errno == EINTR)
      continue;
    if (left.count() <= 0 || watch[0].revents != 0 || program < 0) {
      ::kill(-1, SIGKILL);  // every process of the sandbox user but this one
      return 128 + SIGKILL;
    }
  }
}
