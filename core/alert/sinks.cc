#include "alert/sinks.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <warden/error.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>

#include "policy/policy_engine.h"

namespace warden::alert {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr std::size_t kMaxSyslogBytes = 8192;

int facility_code(const std::string& name) {
  static const std::map<std::string, int> kCodes = {
      {"kern", 0},      {"user", 1},    {"mail", 2},    {"daemon", 3},  {"auth", 4},
      {"syslog", 5},    {"lpr", 6},     {"news", 7},    {"uucp", 8},    {"cron", 9},
      {"authpriv", 10}, {"ftp", 11},    {"local0", 16}, {"local1", 17}, {"local2", 18},
      {"local3", 19},   {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23}};
  return kCodes.at(name);  // the configuration allows these names only
}

int severity_code(const std::string& severity) {
  const auto& all = policy::kAlertSeverities;
  auto it = std::find_if(all.begin(), all.end(), [&](const char* s) { return severity == s; });
  return it == all.end() ? 4 : static_cast<int>(it - all.begin());  // unknown: warning
}

// One HTTP exchange, each step run on the io_context until it completes or
// the deadline passes (looked at every kSlice, as it may move).
class Exchange {
 public:
  using Deadline = std::atomic<std::chrono::steady_clock::time_point>;
  static constexpr std::chrono::milliseconds kSlice{20};
  explicit Exchange(const Deadline& deadline) : deadline_(deadline) {}

  template <class Start, class Cancel>
  void run(const char* step, Start start, Cancel cancel) {
    error_code result;
    bool done = false;
    start([&](error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    ioc_.restart();
    for (;;) {
      auto left = deadline_.load() - std::chrono::steady_clock::now();
      if (done || left <= std::chrono::steady_clock::duration::zero()) break;
      ioc_.run_for(std::min<std::chrono::steady_clock::duration>(left, kSlice));
    }
    if (!done) {
      cancel();
      ioc_.restart();
      ioc_.run();  // lets the cancelled operation finish
      throw Error(ErrorKind::kEnvironment, std::string("no answer in time (") + step + ")");
    }
    if (result)
      throw Error(ErrorKind::kEnvironment, std::string("cannot ") + step + ": " + result.message());
  }

  asio::io_context& ioc() { return ioc_; }

 private:
  const Deadline& deadline_;
  asio::io_context ioc_;
};

}  // namespace

nlohmann::json webhook_body(const Alert& alert) {
  return {{"alert_id", alert.id},
          {"severity", alert.severity},
          {"message", alert.message},
          {"event", alert.event}};
}

std::string syslog_message(const SyslogAlertsConfig& config, const Alert& alert) {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &local);
  std::string line =
      "<" + std::to_string(facility_code(config.facility) * 8 + severity_code(alert.severity)) +
      ">" + stamp + " " + config.ident + "[" + std::to_string(::getpid()) + "]: " + alert.message +
      " " + alert.event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (line.size() > kMaxSyslogBytes) line.resize(kMaxSyslogBytes);
  return line;
}

void send_syslog(const SyslogAlertsConfig& config, const Alert& alert) {
  std::string where = "syslog socket " + config.socket.string() + ": ";
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string& path = config.socket.string();
  if (path.size() >= sizeof address.sun_path)
    throw Error(ErrorKind::kEnvironment, where + "the path is too long for a unix socket");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Error(ErrorKind::kEnvironment, where + std::strerror(errno));
  std::string message = syslog_message(config, alert);
  // Never waits: a reader that fell behind loses this alert, and says so.
  ssize_t sent = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                          reinterpret_cast<const sockaddr*>(&address), sizeof address);
  int error = errno;
  ::close(fd);
  if (sent < 0) throw Error(ErrorKind::kEnvironment, where + std::strerror(error));
}

namespace {

// Sends the request over `stream` (plain or TLS, connected) and returns the
// answer's status.
template <class Stream>
unsigned exchange(Exchange& x, Stream& stream, http::request<http::string_body>& request) {
  auto cancel = [&] { beast::get_lowest_layer(stream).cancel(); };
  x.run(
      "send the alert", [&](auto done) { http::async_write(stream, request, done); }, cancel);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  x.run(
      "read the answer", [&](auto done) { http::async_read(stream, buffer, parser, done); },
      cancel);
  return parser.get().result_int();
}

}  // namespace

void post_webhook(const WebhookAlertsConfig& config, const Alert& alert,
                  const std::atomic<std::chrono::steady_clock::time_point>& deadline) {
  const std::string& host = config.target.host;
  try {
    Exchange x(deadline);
    tcp::resolver resolver(x.ioc());
    tcp::resolver::results_type endpoints;
    x.run(
        "resolve the host",
        [&](auto done) {
          resolver.async_resolve(host, config.target.port,
                                 [&endpoints, done](error_code ec, tcp::resolver::results_type r) {
                                   endpoints = std::move(r);
                                   done(ec);
                                 });
        },
        [&] { resolver.cancel(); });
    auto connect = [&](beast::tcp_stream& stream) {
      x.run(
          "connect", [&](auto done) { stream.async_connect(endpoints, done); },
          [&] { stream.cancel(); });
    };
    http::request<http::string_body> request(http::verb::post, config.target.target, 11);
    std::string authority = host.find(':') == std::string::npos ? host : "[" + host + "]";
    if (config.target.port != (config.target.tls ? "443" : "80"))
      authority += ":" + config.target.port;
    request.set(http::field::host, authority);
    request.set(http::field::user_agent, "warden");
    request.set(http::field::content_type, "application/json");
    request.body() =
        webhook_body(alert).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    request.prepare_payload();
    unsigned status = 0;
    if (!config.target.tls) {
      beast::tcp_stream stream(x.ioc());
      connect(stream);
      status = exchange(x, stream, request);
    } else {
      ssl::context tls(ssl::context::tls_client);
      tls.set_verify_mode(ssl::verify_peer);
      if (config.ca_file.empty())
        tls.set_default_verify_paths();
      else
        tls.load_verify_file(config.ca_file.string());
      beast::ssl_stream<beast::tcp_stream> stream(x.ioc(), tls);
      if (SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()) != 1)
        throw Error(ErrorKind::kEnvironment, "cannot name the host for TLS (SNI)");
      stream.set_verify_callback(ssl::host_name_verification(host));
      connect(beast::get_lowest_layer(stream));
      x.run(
          "make the TLS handshake",
          [&](auto done) { stream.async_handshake(ssl::stream_base::client, done); },
          [&] { beast::get_lowest_layer(stream).cancel(); });
      status = exchange(x, stream, request);
    }
    if (status < 200 || status > 299)
      throw Error(ErrorKind::kEnvironment, "answered HTTP " + std::to_string(status));
  } catch (const Error& e) {
    throw Error(ErrorKind::kEnvironment, "webhook " + config.url + ": " + e.what());
  } catch (const boost::system::system_error& e) {  // the TLS context: ca_file
    throw Error(ErrorKind::kEnvironment, "webhook " + config.url + ": cannot set up TLS (ca_file " +
                                             config.ca_file.string() + "): " + e.what());
  }
}

}  // namespace warden::alert
