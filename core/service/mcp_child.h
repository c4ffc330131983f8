// The MCP server of `warden serve` (service.mcp: auto; docs/mcp.md, "On the
// service's socket"): the Python module's server (python/warden/mcp_server.py,
// on the official MCP SDK), run as the service's child on a unix socket of
// its own, to which the service relays the requests for /mcp.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "config/config.h"

namespace warden::service {

// Run with `python -c`: imports the MCP server and runs main(sys.argv[1:]),
// and says which piece is missing (the warden module or the MCP SDK) and how
// to install it, instead of a traceback, when it cannot. `warden mcp` and the
// service's child both start the server with it.
extern const char* const kMcpBootstrap;

// The Python interpreter `warden mcp` and the service use: `given` when not
// empty, else $WARDEN_PYTHON, else "python3" (found on PATH).
std::string mcp_python(const std::string& given);

class McpChild {
 public:
  // Nothing runs until start(), nor ever when service.mcp is never.
  McpChild(const Config& config, std::string python);
  ~McpChild();  // stop()
  McpChild(const McpChild&) = delete;
  McpChild& operator=(const McpChild&) = delete;

  // Starts the child: its socket in a new 0700 folder beside service.socket,
  // its stderr in the service's log. A child that dies after 5 s or more is
  // started again (after 1 s); one that fails sooner stays down. A thread of its own forks it and
  // waits for it, so the child's PR_SET_PDEATHSIG (tied to the thread that forked it) fires only
  // when the service dies.
  // `open_service_socket(folder)` is called once the folder exists, before
  // the child starts: it returns the socket the child calls the service's
  // API on (the service's private one in that folder, or service.socket).
  void start(const std::function<std::filesystem::path(const std::filesystem::path& folder)>&
                 open_service_socket);
  // SIGTERM, then SIGKILL after 5 s; removes the folder. Idempotent.
  void stop() noexcept;

  bool enabled() const { return config_.service.mcp; }
  // A connection to the child's socket, or -1 with `why` (the child could not
  // start, exited, or is still starting after its bound of 30 s; service.mcp
  // is never). Waits while the child starts.
  int connect(std::string& why);
  // The pid of the running child, 0 when none runs.
  pid_t pid() const;
  // GET /v1/status's service.mcp: {"served", "path", "state" (never, starting,
  // running, exited), "pid" (while it runs), "reason" (why it is not served)}.
  nlohmann::json status() const;

 private:
  enum class State { kOff, kStarting, kRunning, kExited };
  void supervise();
  void run_once();

  const Config& config_;
  std::string python_;
  std::filesystem::path folder_, socket_;
  std::filesystem::path service_socket_;  // where the child calls the API
  std::thread supervisor_;

  mutable std::mutex mutex_;
  std::condition_variable exited_, wake_;
  std::chrono::steady_clock::time_point started_;  // guarded by mutex_
  State state_ = State::kOff;                      // guarded by mutex_
  pid_t pid_ = 0;                                  // guarded by mutex_
  std::string reason_;                             // why it is not running, guarded by mutex_
  bool stopping_ = false;                          // guarded by mutex_
};

}  // namespace warden::service
