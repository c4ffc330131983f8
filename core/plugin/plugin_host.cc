#include "plugin/plugin_host.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/paths.h"
#include "plugin/plugin_protocol.h"

extern char** environ;

namespace warden {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Budgets for the calls that have no deadline of their own.
constexpr auto kStartBudget = std::chrono::seconds(10);
constexpr auto kProbeBudget = std::chrono::seconds(10);
// How long a helper may take past an assessment's deadline before it is
// killed (the assessment stage itself gives up at the deadline).
constexpr auto kDeadlineGrace = std::chrono::seconds(1);
// Warm helpers kept per assessor; more are started under load and ended after.
constexpr std::size_t kMaxIdleHelpers = 4;

// A descriptor at a number above the ones the helper's layout uses (0-4), so
// that dup2 onto 3 and 4 never clobbers a source.
int high_copy(int fd) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  if (copy < 0)
    throw PluginCallError(WARDEN_ERR_FAILED,
                          std::string("cannot start the plugin host: ") + std::strerror(errno));
  return copy;
}

warden_status parse_status(const std::string& field) {
  if (field.size() != 1 || field[0] < '0' || field[0] > '7')
    throw plugin_protocol::ChannelError(plugin_protocol::ChannelError::Why::kMalformed,
                                        "an answer has no valid status");
  return static_cast<warden_status>(field[0] - '0');
}

}  // namespace

fs::path plugin_host_program() {
  if (const char* env = std::getenv("WARDEN_PLUGIN_HOST"); env != nullptr && *env != '\0')
    return env;
  return install_root() / "lib" / "warden" / "warden-plugin-host";
}

// ------------------------------------------------------------------ process

PluginHostProcess::PluginHostProcess(const PluginFile& file) : origin_(file.origin()) {
  fs::path program = plugin_host_program();
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
    throw PluginCallError(
        WARDEN_ERR_FAILED,
        std::string("cannot start the plugin host: socketpair: ") + std::strerror(errno));
  int plugin_fd = -1, child_socket = -1;
  try {
    plugin_fd = high_copy(file.fd());
    child_socket = high_copy(sockets[1]);
  } catch (...) {
    if (plugin_fd >= 0) ::close(plugin_fd);
    ::close(sockets[0]);
    ::close(sockets[1]);
    throw;
  }
  ::close(sockets[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  // Whatever the plugin prints goes to warden's stderr, never into the channel.
  posix_spawn_file_actions_adddup2(&actions, 2, 1);
  posix_spawn_file_actions_adddup2(&actions, plugin_fd, 3);
  posix_spawn_file_actions_adddup2(&actions, child_socket, 4);
  std::string origin = file.origin().string();
  std::string program_s = program.string();
  std::vector<char*> argv = {program_s.data(), origin.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, program_s.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(plugin_fd);
  ::close(child_socket);
  if (rc != 0) {
    ::close(sockets[0]);
    throw PluginCallError(WARDEN_ERR_FAILED, "cannot start the plugin host " + program_s + ": " +
                                                 std::strerror(rc) +
                                                 " (set $WARDEN_PLUGIN_HOST, or reinstall warden)");
  }
  pid_ = pid;
  channel_ = sockets[0];
}

PluginHostProcess::~PluginHostProcess() {
  if (pid_ <= 0) return;
  // Closing the channel asks the helper to destroy its instance and leave.
  ::close(channel_);
  channel_ = -1;
  for (int i = 0; i < 100; ++i) {
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_ || (done < 0 && errno == ECHILD)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop();
}

std::string PluginHostProcess::stop() {
  if (channel_ >= 0) ::close(channel_);
  channel_ = -1;
  if (pid_ <= 0) return "was already stopped";
  // A helper that is already dying keeps the status it dies with.
  ::kill(pid_, SIGKILL);
  int status = 0;
  pid_t done;
  do done = ::waitpid(pid_, &status, 0);
  while (done < 0 && errno == EINTR);
  pid_ = -1;
  if (done < 0) return "ended (its status was collected elsewhere)";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           ::strsignal(WTERMSIG(status)) + ")";
  return "ended";
}

std::vector<std::string> PluginHostProcess::call(const std::vector<std::string>& request,
                                                 const std::string& what,
                                                 Clock::time_point deadline,
                                                 const std::function<bool()>& cancelled) {
  using plugin_protocol::ChannelError;
  if (pid_ <= 0) throw PluginCallError(WARDEN_ERR_FAILED, "the plugin host is not running");
  try {
    if (!request.empty()) plugin_protocol::send_message(channel_, request);
    return plugin_protocol::receive_message(channel_, deadline, cancelled);
  } catch (const ChannelError& e) {
    std::string ended = stop();
    std::string where = "plugin host for " + origin_.string() + ", " + what + ": ";
    switch (e.why()) {
      case ChannelError::Why::kTimedOut:
        throw PluginCallError(WARDEN_ERR_TIMEOUT,
                              where + "no answer in time; the helper was stopped");
      case ChannelError::Why::kCancelled:
        throw PluginCallError(WARDEN_ERR_CANCELLED, where + "cancelled; the helper was stopped");
      case ChannelError::Why::kMalformed:
        throw PluginCallError(WARDEN_ERR_FAILED,
                              where + "broke the protocol (" + e.what() + "); the helper " + ended);
      case ChannelError::Why::kClosed: break;
    }
    throw PluginCallError(WARDEN_ERR_FAILED, where + "the helper " + ended);
  }
}

// ----------------------------------------------------------------- assessor

IsolatedAssessor::IsolatedAssessor(std::shared_ptr<const LoadedPlugin> plugin,
                                   std::string settings_json,
                                   const std::function<std::string(const std::string&)>& locate)
    : Assessor(std::move(plugin), nullptr), settings_json_(std::move(settings_json)) {
  idle_.push_back(start_helper(locate));
}

std::unique_ptr<PluginHostProcess> IsolatedAssessor::start_helper(
    const std::function<std::string(const std::string&)>& locate) const {
  auto helper = std::make_unique<PluginHostProcess>(*plugin_->isolated_file());
  auto deadline = Clock::now() + kStartBudget;
  auto hello = helper->call({}, "loading", deadline);
  if (hello.size() < 7 || hello[0] != "plugin" || hello[1] != name_ || hello[6] != "1")
    throw PluginCallError(WARDEN_ERR_FAILED, "plugin host for " + plugin_->origin().string() +
                                                 " no longer loads plugin '" + name_ + "'");
  auto answer = helper->call({"create", settings_json_}, "create", deadline);
  if (answer.size() == 2 && answer[0] == "refused")
    throw Error(ErrorKind::kConfig, locate(answer[1]));
  if (answer.size() != 1 || answer[0] != "created")
    throw PluginCallError(WARDEN_ERR_FAILED, "plugin host for " + plugin_->origin().string() +
                                                 " answered create() with something else");
  return helper;
}

std::unique_ptr<PluginHostProcess> IsolatedAssessor::borrow() const {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto helper = std::move(idle_.back());
      idle_.pop_back();
      return helper;
    }
  }
  return start_helper([](const std::string& message) { return message; });
}

void IsolatedAssessor::give_back(std::unique_ptr<PluginHostProcess> helper) const {
  if (!helper->usable()) return;
  std::lock_guard lock(mutex_);
  if (idle_.size() < kMaxIdleHelpers) idle_.push_back(std::move(helper));
}

Availability IsolatedAssessor::probe() const {
  try {
    auto helper = borrow();
    auto answer = helper->call({"probe"}, "probe", Clock::now() + kProbeBudget);
    if (answer.size() != 3)
      throw PluginCallError(WARDEN_ERR_FAILED, "the plugin host answered probe() with " +
                                                   std::to_string(answer.size()) + " fields");
    warden_status status = parse_status(answer[0]);
    give_back(std::move(helper));
    return read_availability(status, answer[1], answer[2]);
  } catch (const std::exception& e) {
    Availability a;
    a.reason = std::string("probe failed: ") + e.what();
    return a;
  }
}

std::vector<Finding> IsolatedAssessor::assess(std::string_view code, std::string_view language,
                                              std::string_view file_name,
                                              std::chrono::milliseconds deadline,
                                              const std::function<bool()>& cancelled) const {
  auto helper = borrow();
  auto answer = helper->call({"assess", std::string(code), std::string(language),
                              std::string(file_name), std::to_string(deadline.count())},
                             "assess", Clock::now() + deadline + kDeadlineGrace, cancelled);
  warden_status status;
  try {
    if (answer.size() != 3) throw std::runtime_error("wrong field count");
    status = parse_status(answer[0]);
  } catch (const std::exception&) {
    throw PluginCallError(WARDEN_ERR_FAILED, "plugin host for " + plugin_->origin().string() +
                                                 " sent a malformed answer to assess()");
  }
  give_back(std::move(helper));
  return read_findings(name_, status, answer[1], answer[2]);
}

}  // namespace warden
