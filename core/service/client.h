// A client of `warden serve` (service/api.h) over its unix socket: what the
// CLI uses when a service of its configuration runs, and what tests and the
// benchmark drive the service with.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace warden::service {

class Client {
 public:
  // Connects to the service at config.service.socket. nullptr when none
  // answers there (no socket, a stale one). Throws warden::Error(kRefused)
  // when the process serving the socket is neither this user's nor root's:
  // code is never sent to a service someone else runs.
  static std::unique_ptr<Client> connect(const Config& config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One request on the connection (kept alive between calls); `body` is
  // sent as JSON unless null. Returns the answer's JSON, or nullopt when the
  // service runs with another configuration (then work in process). An
  // error answer throws warden::Error of the kind the service named, with
  // its message; a broken connection throws kEnvironment. Waits as long as
  // the request takes: a run ends within its limits.
  std::optional<nlohmann::json> call(std::string_view method, const std::string& target,
                                     const nlohmann::json& body = nullptr);

  // A streamed run (POST /v1/run?stream=true): `on_event` gets each output
  // event ({"stdout": text} or {"stderr": text}) as it arrives; returns the
  // result ({"result": ...}'s value). Errors throw as call() does. The
  // connection is closed afterwards (the service closes it).
  nlohmann::json stream_run(const nlohmann::json& request,
                            const std::function<void(const nlohmann::json&)>& on_event);

  // Ends the sending side: the service then cancels a run in progress and
  // still answers with its result. Async-signal-safe (warden run calls it
  // on SIGINT and SIGTERM).
  void cancel() noexcept;

  const std::string& socket_path() const { return socket_path_; }

 private:
  Client(int fd, std::string socket_path, std::string fingerprint);
  // Writes one request; throws kEnvironment when the connection is broken.
  void send(std::string_view method, const std::string& target, const nlohmann::json& body);

  int fd_;
  std::string socket_path_;
  std::string fingerprint_;
};

}  // namespace warden::service
