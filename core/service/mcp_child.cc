#include "service/mcp_child.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <warden/error.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "service/identity.h"

namespace warden::service {

namespace fs = std::filesystem;

const char* const kMcpBootstrap = R"PY(import sys
try:
    from warden.mcp_server import main
except ModuleNotFoundError as e:
    name = e.name or ""
    what = ("the MCP Python SDK (mcp)" if name.split(".")[0] == "mcp"
            else "the warden Python module" if name.split(".")[0] == "warden"
            else "the Python module " + repr(name))
    sys.exit("warden mcp: " + sys.executable + " cannot import " + what + " (" + str(e) + "): "
             "install warden with its mcp extra there (pip install 'warden[mcp]', Python 3.10 or "
             "newer), or name a Python that has it with --python or $WARDEN_PYTHON")
main(sys.argv[1:])
)PY";

namespace {

// How long a starting child may take before /mcp says it is still starting.
constexpr auto kStartBound = std::chrono::seconds(30);
// A server that dies after running this long is started again.
constexpr auto kRestartAfter = std::chrono::seconds(5);
// How long stop() waits after SIGTERM before SIGKILL.
constexpr auto kStopBound = std::chrono::seconds(5);

const char* state_name(int state) {
  static const char* const names[] = {"off", "starting", "running", "exited"};
  return names[state];
}

}  // namespace

std::string mcp_python(const std::string& given) {
  if (!given.empty()) return given;
  const char* env = std::getenv("WARDEN_PYTHON");
  return env != nullptr && *env != '\0' ? env : "python3";
}

McpChild::McpChild(const Config& config, std::string python)
    : config_(config), python_(mcp_python(python)) {
  if (!config_.service.mcp) reason_ = "MCP is not served here (service.mcp: never)";
}

McpChild::~McpChild() {
  stop();
}

void McpChild::start(const std::function<fs::path(const fs::path& folder)>& open_service_socket) {
  if (!enabled() || supervisor_.joinable()) return;
  // A folder of the service's user only: the child's socket answers whoever
  // connects, with the identity the service relays, so only the service may.
  fs::path sock = config_.service.socket;
  std::string prefix = sock.filename().string() + ".mcp.";
  // This service holds the socket by now: the folders of its name beside it
  // were left by services that were killed.
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator(sock.parent_path(), ignored))
    if (entry.path().filename().string().rfind(prefix, 0) == 0) fs::remove_all(entry, ignored);
  std::string pattern = (sock.parent_path() / (prefix + "XXXXXX")).string();
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  if (::mkdtemp(name.data()) == nullptr) {
    std::lock_guard lock(mutex_);
    state_ = State::kExited;
    reason_ = "cannot make a folder for the MCP server's socket beside " + sock.string() + ": " +
              std::strerror(errno);
    spdlog::error("service: {}", reason_);
    return;
  }
  folder_ = name.data();
  socket_ = folder_ / "mcp.sock";
  service_socket_ = open_service_socket(folder_);
  {
    std::lock_guard lock(mutex_);
    state_ = State::kStarting;
    started_ = std::chrono::steady_clock::now();
  }
  supervisor_ = std::thread([this] { supervise(); });
}

void McpChild::supervise() {
  for (;;) {
    auto began = std::chrono::steady_clock::now();
    run_once();
    std::unique_lock lock(mutex_);
    // A server that had been up a while and died (a crash, the OOM killer) is
    // started again; one that fails as it starts (no Python, no MCP SDK)
    // would only fail again, and stays down with its reason.
    if (stopping_ || state_ != State::kExited ||
        std::chrono::steady_clock::now() - began < kRestartAfter)
      return;
    spdlog::warn("service: starting the MCP server again in 1 s");
    if (wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) return;
    state_ = State::kStarting;
    started_ = std::chrono::steady_clock::now();
  }
}

void McpChild::run_once() {
  // Everything the child needs is made before fork(): after it, only
  // async-signal-safe calls.
  std::vector<std::string> args = {python_, "-c", kMcpBootstrap};
  if (!config_.file.empty()) args.insert(args.end(), {"--config", config_.file.string()});
  args.insert(args.end(),
              {"--http-socket", socket_.string(), "--service-socket", service_socket_.string()});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string exec_failed = "warden serve: cannot run the Python interpreter '" + python_ +
                            "' for the MCP server (set $WARDEN_PYTHON or serve --python)\n";
  int err[2];
  if (::pipe2(err, O_CLOEXEC) != 0) {
    std::lock_guard lock(mutex_);
    state_ = State::kExited;
    reason_ = std::string("cannot start the MCP server: pipe: ") + std::strerror(errno);
    return;
  }
  const pid_t parent = ::getpid();
  pid_t pid;
  {
    // Forked under the lock, so that stop() either comes first (nothing is
    // started) or finds pid_ set (and ends it).
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(err[0]);
      ::close(err[1]);
      return;
    }
    pid = ::fork();
    if (pid == 0) {
      // Dies with the service: the signal comes when this thread ends, and
      // the thread lives as long as the service (or until stop() ends us).
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(err[1], 1);
      ::dup2(err[1], 2);
      // The service's signal dispositions are not the child's.
      ::signal(SIGPIPE, SIG_DFL);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execvp(argv[0], argv.data());
      [[maybe_unused]] auto n = ::write(2, exec_failed.data(), exec_failed.size());
      ::_exit(127);
    }
    if (pid > 0) pid_ = pid;
  }
  ::close(err[1]);
  if (pid < 0) {
    ::close(err[0]);
    std::lock_guard lock(mutex_);
    state_ = State::kExited;
    reason_ = std::string("cannot start the MCP server: fork: ") + std::strerror(errno);
    return;
  }
  spdlog::info("service: MCP server starting (pid {}, {} on {})", pid, python_, socket_.string());
  // Its stderr, line by line, into the service's log; the last line says
  // why it ended.
  std::string pending, last;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(err[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<std::size_t>(n));
    for (std::size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
      std::string line = pending.substr(0, eol);
      pending.erase(0, eol + 1);
      if (line.empty()) continue;
      spdlog::warn("service: MCP server: {}", line);
      last = line;
    }
  }
  ::close(err[0]);
  if (!pending.empty()) last = pending;
  // Not reaped yet (WNOWAIT), so stop() cannot signal a reused pid.
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
  std::lock_guard lock(mutex_);
  int status = 0;
  ::waitpid(pid, &status, 0);
  pid_ = 0;
  state_ = State::kExited;
  std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                    : WIFSIGNALED(status)
                        ? "was killed by signal " + std::to_string(WTERMSIG(status))
                        : "ended";
  reason_ = "the MCP server " + how + (last.empty() ? "" : ": " + last);
  if (!stopping_) spdlog::error("service: {}; /mcp answers 503", reason_);
  exited_.notify_all();
}

void McpChild::stop() noexcept {
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    wake_.notify_all();
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      if (!exited_.wait_for(lock, kStopBound, [this] { return pid_ == 0; }) && pid_ > 0)
        ::kill(pid_, SIGKILL);
    }
  }
  if (supervisor_.joinable()) supervisor_.join();
  if (!folder_.empty()) {
    std::error_code error;
    fs::remove_all(folder_, error);
    folder_.clear();
  }
}

int McpChild::connect(std::string& why) {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (state_ == State::kExited || state_ == State::kOff || stopping_) {
        why = reason_.empty() ? "the MCP server is not running" : reason_;
        return -1;
      }
    }
    int fd = connect_to(socket_);
    if (fd >= 0) {
      std::lock_guard lock(mutex_);
      if (state_ == State::kStarting) state_ = State::kRunning;
      return fd;
    }
    {
      std::lock_guard lock(mutex_);
      if (std::chrono::steady_clock::now() - started_ > kStartBound) {
        why = state_ == State::kStarting
                  ? "the MCP server is still starting (not listening after 30 s); see the "
                    "service's log"
                  : "the MCP server does not answer on " + socket_.string();
        return -1;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

pid_t McpChild::pid() const {
  std::lock_guard lock(mutex_);
  return pid_;
}

nlohmann::json McpChild::status() const {
  std::lock_guard lock(mutex_);
  State state = state_;
  if (state == State::kStarting) {  // listening by now?
    int fd = connect_to(socket_);
    if (fd >= 0) {
      ::close(fd);
      state = State::kRunning;
    }
  }
  nlohmann::json s = {{"served", state == State::kStarting || state == State::kRunning},
                      {"path", "/mcp"},
                      {"state", enabled() ? state_name(static_cast<int>(state)) : "never"}};
  if (pid_ > 0) s["pid"] = pid_;
  if (state_ == State::kExited || !enabled()) s["reason"] = reason_;
  return s;
}

}  // namespace warden::service
