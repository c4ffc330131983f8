// `warden serve`: the HTTP+JSON API (service/api.h) on a unix socket, one
// thread per connection, for many clients at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.h"
#include "service/api.h"
#include "service/mcp_child.h"

namespace warden::service {

class Server {
 public:
  // Binds config.service.socket with its mode and group, ready to serve. A
  // socket some live service answers on is left alone (Error kEnvironment,
  // naming it); a stale one (nothing answers) is replaced; any other file
  // there is refused. The socket's folder is made 0700 when it is missing.
  // `host` and `config` must outlive the server. With service.mcp auto, run()
  // starts the MCP server (McpChild) with the Python interpreter
  // mcp_python(`python`) and serves /mcp through it.
  Server(Host& host, const Config& config, std::string python = "");
  // Stops serving (as stop()) and removes the socket.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves until stop(): at most service.max_clients connections at once,
  // each on its own thread; a connection idle for service.idle_timeout is
  // closed. Returns once every connection has ended.
  void run();

  // Ask run() to return: no new connections; runs in progress are cancelled
  // (their records written, their clients answered) and awaited.
  // Async-signal-safe (it only writes to a pipe), callable from any thread.
  void stop() noexcept;
  // Ask run() to reload the policies (SIGHUP). Async-signal-safe.
  void reload_policies() noexcept;

  const std::filesystem::path& socket_path() const { return socket_path_; }

 private:
  struct Connection;
  void serve(Connection& connection);
  void end_finished_connections();
  // Accepts a connection on `listen_fd` and serves it on a thread of its own;
  // `counted`: against service.max_clients.
  void accept_from(int listen_fd, bool counted);
  std::filesystem::path open_mcp_service_socket(const std::filesystem::path& folder);
  nlohmann::json status() const;

  Host& host_;
  const Config& config_;
  std::filesystem::path socket_path_;
  Api api_;
  McpChild mcp_;
  int listen_fd_ = -1;
  // The MCP server's own way in to the API: a socket in its 0700 folder,
  // whose connections do not count against service.max_clients. Otherwise
  // clients of /mcp holding every slot (an SSE stream and a call each) would
  // leave the MCP server no connection to serve their calls with.
  int mcp_listen_fd_ = -1;
  std::filesystem::path mcp_service_socket_;
  int control_[2] = {-1, -1};  // stop()/reload_policies() write, run() reads
  int stopping_fd_ = -1;       // an eventfd: readable once the service stops
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> requests_{0};
  std::string started_at_;

  std::mutex mutex_;
  std::condition_variable slot_freed_;
  std::list<std::unique_ptr<Connection>> connections_;  // guarded by mutex_
  std::size_t active_ = 0;                              // guarded by mutex_
};

}  // namespace warden::service
