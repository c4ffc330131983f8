#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace warden::test {

namespace {

ProcessResult spawn_and_collect(const std::vector<std::string>& argv,
                                const std::map<std::string, std::string>& env,
                                const std::string& stdin_data, bool stderr_on_terminal) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) throw std::runtime_error("pipe failed");
  if (stderr_on_terminal) {
    // err[0] reads what the program writes to err[1], as with a pipe.
    if (openpty(&err[0], &err[1], nullptr, nullptr, nullptr) != 0)
      throw std::runtime_error("openpty failed");
    fcntl(err[0], F_SETFD, FD_CLOEXEC);
    fcntl(err[1], F_SETFD, FD_CLOEXEC);
  } else if (pipe2(err, O_CLOEXEC)) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);

  std::map<std::string, std::string> merged;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : merged) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    close(err[0]);
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  ProcessResult result;
  std::size_t written = 0;
  if (stdin_data.empty()) {
    close(in[1]);
    in[1] = -1;
  } else {
    fcntl(in[1], F_SETFL, O_NONBLOCK);
  }
  int open_streams = 2;
  while (open_streams > 0 || in[1] >= 0) {
    pollfd fds[3];
    int n = 0;
    int out_idx = -1, err_idx = -1, in_idx = -1;
    if (out[0] >= 0) fds[out_idx = n++] = {out[0], POLLIN, 0};
    if (err[0] >= 0) fds[err_idx = n++] = {err[0], POLLIN, 0};
    if (in[1] >= 0) fds[in_idx = n++] = {in[1], POLLOUT, 0};
    if (poll(fds, n, -1) < 0) break;
    char buffer[65536];
    for (auto [idx, fd, target] :
         {std::tuple{out_idx, &out[0], &result.out}, std::tuple{err_idx, &err[0], &result.err}}) {
      if (idx < 0 || !(fds[idx].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(*fd, buffer, sizeof buffer);
      if (got > 0) {
        target->append(buffer, static_cast<std::size_t>(got));
      } else {  // end of a pipe, or EIO from a terminal nobody has open any more
        close(*fd);
        *fd = -1;
        --open_streams;
      }
    }
    if (in_idx >= 0 && (fds[in_idx].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t put = write(in[1], stdin_data.data() + written, stdin_data.size() - written);
      if (put > 0) written += static_cast<std::size_t>(put);
      if (put < 0 || written == stdin_data.size()) {
        close(in[1]);
        in[1] = -1;
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env,
                          const std::string& stdin_data) {
  return spawn_and_collect(argv, env, stdin_data, false);
}

ProcessResult run_process_on_terminal(const std::vector<std::string>& argv,
                                      const std::map<std::string, std::string>& env) {
  return spawn_and_collect(argv, env, "", true);
}

std::string warden_binary() {
  return std::string(WARDEN_BINARY_DIR) + "/bin/warden";
}

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = std::filesystem::temp_directory_path() /
                     ("warden-test-" + std::to_string(rd()) + std::to_string(getpid()));
    std::error_code ec;
    if (std::filesystem::create_directory(candidate, ec)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary folder");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& content) const {
  auto p = path_ / name;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

}  // namespace warden::test
