#include "service/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <warden/version.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstring>
#include <limits>

#include "service/api.h"
#include "service/fd_stream.h"
#include "service/identity.h"

namespace warden::service {

namespace http = boost::beast::http;

Client::Client(int fd, std::string socket_path, std::string fingerprint)
    : fd_(fd), socket_path_(std::move(socket_path)), fingerprint_(std::move(fingerprint)) {}

Client::~Client() {
  ::close(fd_);
}

std::unique_ptr<Client> Client::connect(const Config& config) {
  const std::string& path = config.service.socket.native();
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) return nullptr;  // no service can listen there
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return nullptr;
  }
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

void Client::cancel() noexcept {
  ::shutdown(fd_, SHUT_WR);
}

std::optional<nlohmann::json> Client::call(std::string_view method, const std::string& target,
                                           const nlohmann::json& body) {
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
  if (ec)
    throw Error(ErrorKind::kEnvironment,
                "the warden service at " + socket_path_ + ": sending the request: " + ec.message());
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // the service bounds it
  http::read(stream, buffer, parser, ec);
  if (ec)
    throw Error(ErrorKind::kEnvironment,
                "the warden service at " + socket_path_ + ": reading its answer: " + ec.message());
  const auto& response = parser.get();
  nlohmann::json answer = nlohmann::json::parse(response.body(), nullptr, false);
  if (answer.is_discarded())
    throw Error(ErrorKind::kEnvironment,
                "the warden service at " + socket_path_ + " answered with something not JSON");
  int status = response.result_int();
  if (status == 409) return std::nullopt;
  if (status >= 300) {
    const auto& error = answer.value("error", nlohmann::json::object());
    throw Error(error_kind_from_name(error.value("kind", "internal")),
                error.value("message", "HTTP " + std::to_string(status)));
  }
  return answer;
}

}  // namespace warden::service
