#include "service/client.h"

#include <sys/socket.h>
#include <unistd.h>
#include <warden/version.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <optional>

#include "service/api.h"
#include "service/fd_stream.h"
#include "service/identity.h"

namespace warden::service {

namespace http = boost::beast::http;

namespace {

// The connection to the service failed, or what came back made no sense.
Error broken(const std::string& socket_path, const std::string& what) {
  return Error(ErrorKind::kEnvironment, "the warden service at " + socket_path + ": " + what);
}

// The service's error answer {"error": {"kind", "message"}} as the Error it names.
Error answered_error(const nlohmann::json& answer, const std::string& fallback) {
  const auto& error = answer.value("error", nlohmann::json::object());
  return Error(error_kind_from_name(error.value("kind", "internal")),
               error.value("message", fallback));
}

}  // namespace

Client::Client(int fd, std::string socket_path, std::string fingerprint)
    : fd_(fd), socket_path_(std::move(socket_path)), fingerprint_(std::move(fingerprint)) {}

Client::~Client() {
  ::close(fd_);
}

std::unique_ptr<Client> Client::connect(const Config& config) {
  const std::string& path = config.service.socket.native();
  int fd = connect_to(path);
  if (fd < 0) return nullptr;
  PeerCredentials server = peer_credentials(fd);
  if (server.uid != ::geteuid() && server.uid != 0) {
    ::close(fd);
    throw Error(ErrorKind::kRefused,
                "the warden service at " + path + " is run by " + user_name(server.uid) + " (uid " +
                    std::to_string(server.uid) +
                    "), neither you nor root: not sending it code (set service.cli: never, or "
                    "service.socket to your own)");
  }
  return std::unique_ptr<Client>(new Client(fd, path, config_fingerprint(config)));
}

nlohmann::json Client::stream_run(const nlohmann::json& body,
                                  const std::function<void(const nlohmann::json&)>& on_event) {
  send("POST", "/v1/run?stream=true", body);
  FdStream stream(fd_, -1, std::chrono::milliseconds(-1));
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  error_code ec;
  http::read_header(stream, buffer, parser, ec);
  if (ec) throw broken(socket_path_, "reading its answer: " + ec.message());
  std::string& text = parser.get().body();
  std::optional<nlohmann::json> last;
  auto take_lines = [&] {
    for (std::size_t end; (end = text.find('\n')) != std::string::npos; text.erase(0, end + 1)) {
      nlohmann::json event = nlohmann::json::parse(text.substr(0, end), nullptr, false);
      if (event.is_discarded()) throw broken(socket_path_, "it streamed a line that is not JSON");
      if (event.contains("stdout") || event.contains("stderr"))
        on_event(event);
      else
        last = std::move(event);
    }
  };
  while (!parser.is_done()) {
    http::read_some(stream, buffer, parser, ec);
    if (ec) throw broken(socket_path_, "reading its answer: " + ec.message());
    take_lines();
  }
  take_lines();
  if (!last) throw broken(socket_path_, "it ended the stream without a result");
  if (last->contains("result")) return (*last)["result"];
  throw answered_error(*last, "the streamed run failed");
}

void Client::cancel() noexcept {
  ::shutdown(fd_, SHUT_WR);
}

void Client::send(std::string_view method, const std::string& target, const nlohmann::json& body) {
  http::request<http::string_body> request{
      http::string_to_verb(boost::beast::string_view(method.data(), method.size())), target, 11};
  request.set(http::field::host, "warden");
  request.set(http::field::user_agent, std::string("warden/") + WARDEN_VERSION);
  request.set(kFingerprintHeader, fingerprint_);
  request.keep_alive(true);
  if (!body.is_null()) {
    request.set(http::field::content_type, "application/json");
    request.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  request.prepare_payload();
  FdStream stream(fd_, -1, std::chrono::milliseconds(-1));
  error_code ec;
  http::write(stream, request, ec);
  if (ec) throw broken(socket_path_, "sending the request: " + ec.message());
}

std::optional<nlohmann::json> Client::call(std::string_view method, const std::string& target,
                                           const nlohmann::json& body) {
  send(method, target, body);
  FdStream stream(fd_, -1, std::chrono::milliseconds(-1));
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // the service bounds it
  error_code ec;
  http::read(stream, buffer, parser, ec);
  if (ec) throw broken(socket_path_, "reading its answer: " + ec.message());
  const auto& response = parser.get();
  nlohmann::json answer = nlohmann::json::parse(response.body(), nullptr, false);
  if (answer.is_discarded()) throw broken(socket_path_, "it answered with something not JSON");
  int status = response.result_int();
  if (status == 409) return std::nullopt;
  if (status >= 300) throw answered_error(answer, "HTTP " + std::to_string(status));
  return answer;
}

}  // namespace warden::service
