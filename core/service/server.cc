#include "service/server.h"

#include <grp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <warden/version.h>

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include "common/text.h"
#include "service/fd_stream.h"

namespace warden::service {

namespace http = boost::beast::http;
namespace fs = std::filesystem;

struct Server::Connection {
  int fd = -1;
  bool counted = true;  // against service.max_clients
  std::thread thread;
  std::atomic<bool> done{false};
};

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw Error(ErrorKind::kEnvironment, what + ": " + std::strerror(errno));
}

sockaddr_un socket_address(const fs::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string& text = path.native();
  if (text.size() >= sizeof address.sun_path)
    throw Error(ErrorKind::kConfig, "service.socket " + text + ": longer than the " +
                                        std::to_string(sizeof address.sun_path - 1) +
                                        " bytes a unix socket path may have");
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  return address;
}

// Whether something accepts connections on the socket at `path`.
bool someone_listens(const fs::path& path) {
  int fd = connect_to(path);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

gid_t group_id(const std::string& name) {
  std::vector<char> buffer(16384);
  group entry{};
  group* found = nullptr;
  if (::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr)
    throw Error(ErrorKind::kConfig, "service.socket_group: no group named '" + name + "'");
  return found->gr_gid;
}

// The body of a streamed answer: JSON lines, each its own HTTP chunk. A
// line is sent as far as the socket takes it without waiting, the rest kept
// (bounded: a run's output is capped), so that a client that reads slowly
// cannot hold the backend's loop, and with it the run's limits; finish()
// sends what is left and the last chunk.
class ChunkedEvents {
 public:
  explicit ChunkedEvents(int fd) : fd_(fd) {}

  void emit(const nlohmann::json& event) {
    std::string line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    char size[20];
    std::snprintf(size, sizeof size, "%zx\r\n", line.size());
    pending_ += size + line + "\r\n";
    while (!pending_.empty()) {
      ssize_t n = ::send(fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n <= 0) break;
      pending_.erase(0, static_cast<std::size_t>(n));
    }
  }

  bool finish(FdStream& stream) {
    pending_ += "0\r\n\r\n";
    error_code ec;
    asio::write(stream, asio::buffer(pending_), ec);
    return !ec;
  }

 private:
  int fd_;
  std::string pending_;
};

// The answer to an /mcp request when the MCP server cannot take it.
struct McpUnavailable {
  std::string why;
};

// Relays `request` (for /mcp) on `upstream`, a connection to the MCP server,
// with the client's identity in kPeerUidHeader and kPeerPidHeader (what the
// client sent in any X-Warden-Peer-* header is dropped), and the answer back
// to `client` as it comes, piece by piece: a Server-Sent Events stream (a
// POST's answer, the GET stream) reaches the client event by event. Returns
// whether the client's connection may be kept; throws McpUnavailable when the
// MCP server broke off before its answer began.
bool relay_mcp(http::request<http::string_body>& request, FdStream& client, int client_fd,
               int upstream_fd, int stopping_fd, const PeerCredentials& peer, bool keep_alive) {
  // No bound on waiting for the MCP server (a run, an SSE stream that stays
  // open), but the wait ends when the service stops or the client hangs up.
  FdStream upstream(upstream_fd, stopping_fd, std::chrono::milliseconds(-1));
  upstream.end_when_gone(client_fd);
  std::vector<std::string> forged;
  for (const auto& field : request) {
    std::string name(field.name_string());
    if (boost::beast::iequals(name.substr(0, std::min<std::size_t>(name.size(), 14)),
                              "x-warden-peer-"))
      forged.push_back(name);
  }
  for (const auto& name : forged) request.erase(name);
  request.set(kPeerUidHeader, std::to_string(peer.uid));
  request.set(kPeerPidHeader, std::to_string(peer.pid));
  request.keep_alive(false);  // one request per connection to the MCP server
  request.prepare_payload();
  error_code ec;
  http::write(upstream, request, ec);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  // An SSE stream has no end fixed in advance. Not boost::none: this Beast
  // compares a Content-Length with the optional limit, and none is less than
  // every length, so any answer with a Content-Length would be refused.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (!ec) http::read_header(upstream, buffer, parser, ec);
  if (ec) throw McpUnavailable{"the MCP server broke off: " + ec.message()};
  auto& response = parser.get();
  response.version(request.version());
  // A body whose end only the closing of the connection tells cannot be
  // followed by another answer on the client's connection.
  bool delimited = parser.chunked() || parser.content_length().has_value() || parser.is_done();
  keep_alive = keep_alive && delimited;
  response.keep_alive(keep_alive);
  http::response_serializer<http::buffer_body> serializer{response};
  http::write_header(client, serializer, ec);
  if (ec) return false;
  char piece[8192];
  while (!serializer.is_done()) {
    bool last = parser.is_done();
    if (!last) {
      response.body().data = piece;
      response.body().size = sizeof piece;
      http::read_some(upstream, buffer, parser, ec);  // what has come, not more
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return false;  // the client sees its answer cut short
      response.body().size = sizeof piece - response.body().size;
      last = parser.is_done();
      // A read that brought only framing (a chunk's size line) has nothing to
      // pass on: an empty piece would end a chunked body early.
      if (response.body().size == 0 && !last) continue;
      response.body().data = response.body().size > 0 ? piece : nullptr;
      response.body().more = !last;
    } else {
      response.body().data = nullptr;
      response.body().size = 0;
      response.body().more = false;
    }
    http::write(client, serializer, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return false;
  }
  return keep_alive;
}

// Whether the client hung up: its run is then cancelled.
bool peer_gone(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

}  // namespace

Server::Server(Host& host, const Config& config, std::string python)
    : host_(host),
      config_(config),
      socket_path_(config.service.socket),
      api_(host, config, [this] { return status(); }),
      mcp_(config, std::move(python)) {
  sockaddr_un address = socket_address(socket_path_);
  fs::path folder = socket_path_.parent_path();
  std::error_code error;
  if (!fs::exists(folder, error)) {
    fs::create_directories(folder, error);
    if (error || ::chmod(folder.c_str(), 0700) != 0)
      throw Error(ErrorKind::kEnvironment,
                  "service.socket: cannot create its folder " + folder.string());
  }
  auto existing = fs::symlink_status(socket_path_, error);
  if (fs::exists(existing)) {
    if (existing.type() != fs::file_type::socket)
      throw Error(ErrorKind::kConfig, "service.socket " + socket_path_.string() +
                                          ": a file that is not a socket is in the way");
    if (someone_listens(socket_path_))
      throw Error(ErrorKind::kEnvironment,
                  "a warden service already listens on " + socket_path_.string());
    fs::remove(socket_path_, error);  // stale: its service is gone
  }
  // What can fail without the socket file is done first; after bind() a
  // failure removes the file again.
  std::optional<gid_t> group;
  if (!config.service.socket_group.empty()) group = group_id(config.service.socket_group);
  if (::pipe2(control_, O_CLOEXEC | O_NONBLOCK) != 0) fail("pipe");
  stopping_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (stopping_fd_ < 0) fail("eventfd");
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) fail("socket");
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    fail("service.socket " + socket_path_.string() + ": cannot bind");
  auto fail_bound = [&](const std::string& what) {
    int error = errno;
    ::unlink(socket_path_.c_str());
    errno = error;
    fail("service.socket " + socket_path_.string() + ": " + what);
  };
  // Nobody can connect before listen(), so the mode is right before anyone can.
  if (::chmod(socket_path_.c_str(), config.service.socket_mode) != 0)
    fail_bound("cannot set its mode");
  if (group && ::chown(socket_path_.c_str(), static_cast<uid_t>(-1), *group) != 0)
    fail_bound("cannot give it to group " + config.service.socket_group);
  if (::listen(listen_fd_, 128) != 0) fail_bound("cannot listen");
  started_at_ = utc_timestamp();
}

Server::~Server() {
  stop();
  mcp_.stop();
  stopping_ = true;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stopping_fd_, &one, sizeof one);
  for (auto& c : connections_)
    if (c->thread.joinable()) c->thread.join();
  for (int fd : {listen_fd_, mcp_listen_fd_, control_[0], control_[1], stopping_fd_})
    if (fd >= 0) ::close(fd);
  std::error_code error;
  fs::remove(socket_path_, error);
}

void Server::stop() noexcept {
  char byte = 'S';
  [[maybe_unused]] auto n = ::write(control_[1], &byte, 1);
}

void Server::reload_policies() noexcept {
  char byte = 'R';
  [[maybe_unused]] auto n = ::write(control_[1], &byte, 1);
}

nlohmann::json Server::status() const {
  return {{"pid", ::getpid()},
          {"socket", socket_path_.string()},
          {"config", config_.file.string()},
          {"version", WARDEN_VERSION},
          {"started_at", started_at_},
          {"requests", requests_.load()},
          {"max_clients", config_.service.max_clients},
          {"mcp", mcp_.status()}};
}

void Server::end_finished_connections() {
  std::lock_guard lock(mutex_);
  for (auto it = connections_.begin(); it != connections_.end();) {
    if ((*it)->done) {
      (*it)->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void Server::run() {
  spdlog::info("warden service listening on {}", socket_path_.string());
  mcp_.start([this](const fs::path& folder) { return open_mcp_service_socket(folder); });
  for (bool serving = true; serving;) {
    bool room;
    {
      std::lock_guard lock(mutex_);
      room = active_ < config_.service.max_clients;
    }
    // At capacity the listening socket is not polled: new clients wait in
    // its backlog until a connection ends (which writes 'F'). The MCP
    // server's own socket is always served.
    pollfd fds[3] = {
        {control_[0], POLLIN, 0}, {mcp_listen_fd_, POLLIN, 0}, {room ? listen_fd_ : -1, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      fail("poll");
    }
    char command = 0;
    while (::read(control_[0], &command, 1) == 1) {
      if (command == 'S') serving = false;
      if (command == 'F') end_finished_connections();
      if (command == 'R') {
        try {
          host_.configure_policies(PolicyUpdate{.directory = config_.policies.directory.string()});
          spdlog::info("policies reloaded from {}", config_.policies.directory.string());
        } catch (const std::exception& e) {
          spdlog::error("policy reload refused, the old policy stays: {}", e.what());
        }
      }
    }
    if (!serving) continue;
    if (fds[1].revents & POLLIN) accept_from(mcp_listen_fd_, false);
    if (room && (fds[2].revents & POLLIN)) accept_from(listen_fd_, true);
  }
  spdlog::info("warden service stopping: waiting for the requests in progress");
  stopping_ = true;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stopping_fd_, &one, sizeof one);
  std::list<std::unique_ptr<Connection>> remaining;
  {
    std::lock_guard lock(mutex_);
    remaining.swap(connections_);
  }
  for (auto& c : remaining) c->thread.join();  // each takes mutex_ as it ends
  mcp_.stop();
}

void Server::accept_from(int listen_fd, bool counted) {
  int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    // Out of descriptors: the client waits in the backlog until one frees,
    // rather than the loop spinning on it. Any other error: it gave up.
    if (errno == EMFILE || errno == ENFILE)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return;
  }
  std::lock_guard lock(mutex_);
  auto& connection = connections_.emplace_back(std::make_unique<Connection>());
  connection->fd = fd;
  connection->counted = counted;
  if (counted) ++active_;
  connection->thread = std::thread([this, c = connection.get()] {
    serve(*c);
    if (c->counted) {
      std::lock_guard done_lock(mutex_);
      --active_;
    }
    c->done = true;
    char byte = 'F';
    [[maybe_unused]] auto n = ::write(control_[1], &byte, 1);
  });
}

fs::path Server::open_mcp_service_socket(const fs::path& folder) {
  fs::path path = folder / "service.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  bool fits = path.native().size() < sizeof address.sun_path;
  if (fits) std::memcpy(address.sun_path, path.c_str(), path.native().size() + 1);
  if (fd < 0 || !fits || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, 128) != 0) {
    spdlog::warn("service: the MCP server calls the API on {} (no socket of its own at {}: {})",
                 socket_path_.string(), path.string(),
                 fits ? std::strerror(errno) : "path too long");
    if (fd >= 0) ::close(fd);
    return socket_path_;
  }
  mcp_listen_fd_ = fd;
  mcp_service_socket_ = path;
  return path;
}

void Server::serve(Connection& connection) {
  const int fd = connection.fd;
  // The client an /mcp request came from, in the headers the service itself
  // relayed it with, when this connection is the service's MCP server's own
  // (its pid, the service's uid): see ApiCall::relayed_for.
  auto relayed_client = [this](const http::request<http::string_body>& request,
                               const PeerCredentials& peer) -> std::optional<PeerCredentials> {
    pid_t child = mcp_.pid();
    if (child <= 0 || peer.pid != child || peer.uid != ::geteuid()) return std::nullopt;
    auto number = [&](const char* header) -> std::optional<long long> {
      auto it = request.find(header);
      if (it == request.end()) return std::nullopt;
      std::string text(it->value());
      char* end = nullptr;
      long long value = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || value < 0) return std::nullopt;
      return value;
    };
    auto uid = number(kPeerUidHeader), pid = number(kPeerPidHeader);
    if (!uid || !pid) return std::nullopt;
    return PeerCredentials{.pid = static_cast<pid_t>(*pid), .uid = static_cast<uid_t>(*uid)};
  };
  try {
    PeerCredentials peer = peer_credentials(fd);
    FdStream stream(fd, stopping_fd_, std::chrono::milliseconds(config_.service.idle_timeout_ms));
    boost::beast::flat_buffer buffer;
    // Code and stdin, each up to max_code_size, JSON-escaped (at most 6
    // bytes per byte), input files in base64 (4 bytes per 3), and room for
    // the rest of the request.
    const std::uint64_t body_limit = 12 * config_.requests.max_code_bytes +
                                     (config_.requests.max_input_bytes + 2) / 3 * 4 + (1u << 20);
    for (bool keep_alive = true; keep_alive && !stopping_;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(body_limit);
      error_code ec;
      http::read(stream, buffer, parser, ec);
      HttpAnswer answer;
      unsigned version = 11;
      if (ec == http::error::body_limit) {
        answer = {413,
                  {{"error",
                    {{"kind", "invalid_input"},
                     {"message", "request body larger than " + std::to_string(body_limit) +
                                     " bytes (12 x requests.max_code_size + 4/3 x "
                                     "requests.max_input_size + 1MiB)"}}}}};
        keep_alive = false;
      } else if (ec && ec.category() == http::make_error_code(http::error::body_limit).category()) {
        answer = {400, {{"error", {{"kind", "invalid_input"}, {"message", ec.message()}}}}};
        keep_alive = false;
      } else if (ec) {
        break;  // the client left, was idle too long, or the service stops
      } else {
        auto& request = parser.get();
        version = request.version();
        keep_alive = request.keep_alive();
        ++requests_;
        auto view = [](boost::beast::string_view v) {
          return std::string_view(v.data(), v.size());
        };
        if (config_.service.mcp && view(request.target()).substr(0, 4) == "/mcp" &&
            (request.target().size() == 4 || request.target()[4] == '?')) {
          std::string why;
          int upstream = mcp_.connect(why);
          if (upstream >= 0) {
            try {
              keep_alive = relay_mcp(request, stream, fd, upstream, stopping_fd_, peer, keep_alive);
              ::close(upstream);
              continue;
            } catch (const McpUnavailable& e) {
              why = e.why;
            }
            ::close(upstream);
          }
          answer = {503, {{"error", {{"kind", "environment"}, {"message", why}}}}};
        } else {
          ApiCall call{.method = view(request.method_string()),
                       .target = view(request.target()),
                       .body = request.body(),
                       .fingerprint = view(request[kFingerprintHeader]),
                       .peer = peer,
                       .relayed_for = relayed_client(request, peer),
                       .cancelled = [this, fd] { return stopping_ || peer_gone(fd); }};
          if (Api::streams(call.method, call.target)) {
            // The header goes now, the events as they come, the answer last;
            // then the connection closes.
            http::response<http::empty_body> head{http::status::ok, version};
            head.set(http::field::content_type, "application/x-ndjson");
            head.set(http::field::server, std::string("warden/") + WARDEN_VERSION);
            head.chunked(true);
            head.keep_alive(false);
            http::response_serializer<http::empty_body> serializer{head};
            http::write_header(stream, serializer, ec);
            if (ec) break;
            ChunkedEvents events(fd);
            call.emit = [&events](const nlohmann::json& event) { events.emit(event); };
            answer = api_.handle(call);
            events.emit(answer.status == 200 ? nlohmann::json{{"result", answer.body}}
                                             : answer.body);
            events.finish(stream);
            break;
          }
          answer = api_.handle(call);
        }
      }
      http::response<http::string_body> response{static_cast<http::status>(answer.status), version};
      response.set(http::field::content_type, "application/json");
      response.set(http::field::server, std::string("warden/") + WARDEN_VERSION);
      response.keep_alive(keep_alive && !stopping_);
      response.body() =
          answer.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
      response.prepare_payload();
      http::write(stream, response, ec);
      if (ec) break;
    }
  } catch (const std::exception& e) {
    spdlog::warn("service: a connection ended: {}", e.what());
  }
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

}  // namespace warden::service
