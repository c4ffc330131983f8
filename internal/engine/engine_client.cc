#include "engine/engine_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <utility>

namespace warden::engine {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Protocol = asio::local::stream_protocol;
using error_code = boost::system::error_code;

constexpr std::uint64_t kBodyLimit = 64ull << 20;

namespace {

// One connection to the engine. Each operation runs the io_context until it
// completes or the stream's deadline fires.
class Connection {
 public:
  Connection(const std::filesystem::path& socket_path, std::chrono::milliseconds timeout)
      : socket_path_(socket_path), timeout_(timeout), stream_(ioc_) {
    run("connect", [&](auto handler) {
      stream_.expires_after(timeout_);
      stream_.async_connect(Protocol::endpoint(socket_path_.string()), handler);
    });
  }

  template <class Request>
  void send(Request& request, bool bounded = true) {
    run("send the request", [&](auto handler) {
      if (bounded)
        stream_.expires_after(timeout_);
      else
        stream_.expires_never();
      http::async_write(stream_, request, handler);
    });
  }

  Response receive(bool bounded = true) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    run("read the response", [&](auto handler) {
      if (bounded)
        stream_.expires_after(timeout_);
      else
        stream_.expires_never();
      http::async_read(stream_, buffer_, parser, handler);
    });
    Response response;
    response.status = static_cast<int>(parser.get().result_int());
    response.body = std::move(parser.get().body());
    return response;
  }

  // Reads the response header; what came after it stays in the buffer. An
  // error status is read to the end, so that the engine's message is known.
  Response receive_header() {
    http::response_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    run("read the response", [&](auto handler) {
      stream_.expires_after(timeout_);
      http::async_read_header(stream_, buffer_, parser, handler);
    });
    Response response;
    response.status = static_cast<int>(parser.get().result_int());
    if (response.status >= 300) {
      run("read the response", [&](auto handler) {
        stream_.expires_after(timeout_);
        http::async_read(stream_, buffer_, parser, handler);
      });
      response.body = std::move(parser.get().body());
    }
    return response;
  }

  std::string buffered() const { return beast::buffers_to_string(buffer_.data()); }
  int native_handle() { return stream_.socket().native_handle(); }

 private:
  template <class Start>
  void run(const char* step, Start start) {
    error_code result;
    bool done = false;
    start([&](error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    ioc_.restart();
    ioc_.run();
    if (!done || result) throw failure(step, result);
  }

  EngineError failure(const char* step, const error_code& ec) const {
    std::string where = "engine socket " + socket_path_.string() + ": ";
    if (ec == beast::error::timeout)
      return {
          EngineError::Kind::kUnreachable, 0,
          where + "no answer within " + std::to_string(timeout_.count()) + " ms (" + step + ")"};
    if (ec == boost::system::errc::no_such_file_or_directory)
      return {EngineError::Kind::kUnreachable, 0,
              where + "does not exist: the daemon is not running"};
    if (ec == asio::error::connection_refused)
      return {EngineError::Kind::kUnreachable, 0,
              where + "connection refused: the daemon is not running"};
    if (ec == boost::system::errc::permission_denied)
      return {EngineError::Kind::kUnreachable, 0,
              where +
                  "permission denied: this user may not use the engine (run as root or join "
                  "the socket's group)"};
    return {EngineError::Kind::kUnreachable, 0, where + "cannot " + step + ": " + ec.message()};
  }

  std::filesystem::path socket_path_;
  std::chrono::milliseconds timeout_;
  asio::io_context ioc_;
  beast::basic_stream<Protocol> stream_;
  beast::flat_buffer buffer_;
};

http::verb verb_of(std::string_view method) {
  return http::string_to_verb(beast::string_view(method.data(), method.size()));
}

template <class Body>
void set_common_fields(http::request<Body>& request) {
  request.set(http::field::host, "warden");
  request.set(http::field::user_agent, "warden");
}

}  // namespace

nlohmann::json Response::json() const {
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception&) {
    throw EngineError(
        EngineError::Kind::kProtocol, status,
        "the engine answered with something that is not JSON: " + body.substr(0, 200));
  }
}

std::string error_message(const Response& response) {
  try {
    auto j = nlohmann::json::parse(response.body);
    if (j.is_object() && j.contains("message") && j["message"].is_string())
      return j["message"].get<std::string>();
  } catch (const nlohmann::json::exception&) {
  }
  return response.body.empty() ? "HTTP " + std::to_string(response.status) : response.body;
}

AttachStream::AttachStream(int fd, std::string already_read)
    : fd_(fd), already_read_(std::move(already_read)) {}

AttachStream::~AttachStream() {
  if (fd_ >= 0) ::close(fd_);
}

void AttachStream::close_stdin() {
  ::shutdown(fd_, SHUT_WR);
}

EngineClient::EngineClient(std::filesystem::path socket_path, std::chrono::milliseconds timeout)
    : socket_path_(std::move(socket_path)), timeout_(timeout) {}

Response EngineClient::request(std::string_view method, const std::string& target,
                               const nlohmann::json& body) const {
  Connection connection(socket_path_, timeout_);
  http::request<http::string_body> request(verb_of(method), target, 11);
  set_common_fields(request);
  if (!body.is_null()) {
    request.set(http::field::content_type, "application/json");
    request.body() = body.dump();
  }
  request.prepare_payload();
  connection.send(request);
  return connection.receive();
}

Response EngineClient::checked(std::string_view method, const std::string& target,
                               const nlohmann::json& body) const {
  Response response = request(method, target, body);
  if (response.status < 200 || response.status > 299)
    throw EngineError(EngineError::Kind::kHttp, response.status,
                      std::string(method) + " " + target + ": " + error_message(response));
  return response;
}

Response EngineClient::upload(const std::string& target, const std::filesystem::path& path,
                              std::string_view content_type) const {
  Connection connection(socket_path_, timeout_);
  http::request<http::file_body> request(http::verb::post, target, 11);
  set_common_fields(request);
  request.set(http::field::content_type, std::string(content_type));
  error_code ec;
  request.body().open(path.c_str(), beast::file_mode::scan, ec);
  if (ec)
    throw EngineError(EngineError::Kind::kProtocol, 0,
                      "cannot open " + path.string() + ": " + ec.message());
  request.prepare_payload();
  connection.send(request, /*bounded=*/false);
  return connection.receive(/*bounded=*/false);
}

std::unique_ptr<AttachStream> EngineClient::attach(const std::string& target) const {
  Connection connection(socket_path_, timeout_);
  http::request<http::empty_body> request(http::verb::post, target, 11);
  set_common_fields(request);
  request.set(http::field::connection, "Upgrade");
  request.set(http::field::upgrade, "tcp");
  connection.send(request);
  Response response = connection.receive_header();
  if (response.status != 101 && response.status != 200)
    throw EngineError(
        EngineError::Kind::kHttp, response.status,
        "POST " + target + ": the engine refused to attach: " + error_message(response));
  // The socket outlives the connection object: keep a duplicate of it.
  int fd = ::dup(connection.native_handle());
  if (fd < 0)
    throw EngineError(EngineError::Kind::kProtocol, 0,
                      std::string("dup of the attach socket: ") + std::strerror(errno));
  return std::make_unique<AttachStream>(fd, connection.buffered());
}

}  // namespace warden::engine
