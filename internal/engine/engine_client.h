// A client for container engine APIs (the Docker Engine API and Podman's
// libpod and compat APIs) over their unix socket, with Boost.Beast.
//
// Every call opens its own connection, so one EngineClient may be used from
// many threads at once. Calls are bounded by the client's timeout. Failures
// throw EngineError, whose kind tells an engine that is down or unreachable
// from one that answered with an error.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace warden::engine {

class EngineError : public std::runtime_error {
 public:
  enum class Kind {
    kUnreachable,  // no socket, connection refused, permission denied, timed out
    kHttp,         // the engine answered with an error status
    kProtocol,     // the engine's answer made no sense
  };
  EngineError(Kind kind, int status, const std::string& message)
      : std::runtime_error(message), kind_(kind), status_(status) {}
  Kind kind() const { return kind_; }
  int status() const { return status_; }  // the HTTP status for kHttp, else 0

 private:
  Kind kind_;
  int status_;
};

struct Response {
  int status = 0;
  std::string body;
  nlohmann::json json() const;  // throws EngineError(kProtocol) on a body that is not JSON
};

// A hijacked attach connection: the engine's multiplexed stdout/stderr
// frames one way, the program's stdin the other. Owns the socket.
class AttachStream {
 public:
  AttachStream(int fd, std::string already_read);
  ~AttachStream();
  AttachStream(const AttachStream&) = delete;
  AttachStream& operator=(const AttachStream&) = delete;

  int fd() const { return fd_; }
  // Bytes of the stream that arrived together with the response header.
  std::string take_already_read() { return std::move(already_read_); }
  // Ends the program's stdin (a half-close; the output keeps flowing).
  void close_stdin();

 private:
  int fd_;
  std::string already_read_;
};

class EngineClient {
 public:
  // `socket_path` is a unix socket such as /var/run/docker.sock.
  EngineClient(std::filesystem::path socket_path, std::chrono::milliseconds timeout);

  const std::filesystem::path& socket_path() const { return socket_path_; }

  // One request; `body` is sent as JSON when not null. Throws EngineError
  // (kUnreachable) when the engine cannot be reached; any HTTP status is
  // returned, not thrown.
  Response request(std::string_view method, const std::string& target,
                   const nlohmann::json& body = nullptr) const;
  // As request(), but throws EngineError(kHttp) unless the status is 2xx,
  // with the engine's own message.
  Response checked(std::string_view method, const std::string& target,
                   const nlohmann::json& body = nullptr) const;
  // Sends the file at `path` as the body (an image tarball), without a
  // timeout: imports take as long as they take.
  Response upload(const std::string& target, const std::filesystem::path& path,
                  std::string_view content_type) const;
  // POSTs an attach request and returns the hijacked connection.
  std::unique_ptr<AttachStream> attach(const std::string& target) const;

 private:
  std::filesystem::path socket_path_;
  std::chrono::milliseconds timeout_;
};

// The engine's message in an error body ({"message": ...}), or the body.
std::string error_message(const Response& response);

}  // namespace warden::engine
