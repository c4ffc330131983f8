#include "support/service.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support/process.h"

extern char** environ;

namespace warden::test {
namespace {

bool accepts(const std::filesystem::path& socket) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket.c_str(), sizeof address.sun_path - 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

ServiceProcess::ServiceProcess(const std::filesystem::path& config,
                               const std::filesystem::path& socket,
                               const std::filesystem::path& log)
    : log_(log) {
  std::vector<std::string> argv = {warden_binary(), "--config", config.string(), "serve"};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start warden serve: " + std::string(strerror(rc)));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!accepts(socket)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("warden serve exited: " + this->log());
    }
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("warden serve did not listen within 60 s: " + this->log());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

ServiceProcess::~ServiceProcess() {
  if (pid_ > 0) stop(SIGKILL);
}

int ServiceProcess::stop(int signal) {
  ::kill(pid_, signal);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::string ServiceProcess::log() const {
  return read_file(log_);
}

}  // namespace warden::test
