#include "egress/egress_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <warden/error.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

// GCC 12 reports Asio 1.74's coroutine frames (operator new in the promise,
// sized operator delete) as mismatched: a false positive.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace warden::egress {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;
using error_code = boost::system::error_code;
using asio::awaitable;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr std::size_t kMaxClientHelloBytes = 32 * 1024;
constexpr std::size_t kMaxRecordBytes = 16 * 1024 + 256;
constexpr std::size_t kMaxBodyBytes = 1024 * 1024;
constexpr std::size_t kRelayBytes = 16 * 1024;

auto on_error(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Lower-case, one trailing dot stripped.
std::string normalize_host(std::string host) {
  host = lower(std::move(host));
  if (!host.empty() && host.back() == '.') host.pop_back();
  return host;
}

bool valid_host_name(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  for (char ch : host) {
    if (ch == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-') return false;
    if (++label > 63) return false;
  }
  return label > 0;
}

// Text safe to put in a reason: printable ASCII, at most 255 characters.
std::string printable(const std::string& text) {
  std::string out;
  for (char ch : text.substr(0, 255)) out += (ch >= 0x20 && ch < 0x7f && ch != '\'') ? ch : '?';
  return out;
}

// --- addresses -------------------------------------------------------------

struct Network {
  asio::ip::address base;
  unsigned prefix = 0;
};

template <class Bytes>
bool prefix_matches(const Bytes& a, const Bytes& b, unsigned prefix) {
  for (std::size_t i = 0; i < a.size() && prefix > 0; ++i) {
    unsigned bits = std::min(prefix, 8u);
    unsigned mask = (0xffu << (8 - bits)) & 0xffu;
    if ((a[i] & mask) != (b[i] & mask)) return false;
    prefix -= bits;
  }
  return true;
}

bool in_network(const asio::ip::address& address, const Network& network) {
  if (address.is_v4() && network.base.is_v4())
    return prefix_matches(address.to_v4().to_bytes(), network.base.to_v4().to_bytes(),
                          network.prefix);
  if (address.is_v6() && network.base.is_v6())
    return prefix_matches(address.to_v6().to_bytes(), network.base.to_v6().to_bytes(),
                          network.prefix);
  return false;
}

std::optional<Network> parse_network(const std::string& text) {
  auto slash = text.find('/');
  error_code ec;
  auto base = asio::ip::make_address(text.substr(0, slash), ec);
  if (ec) return std::nullopt;
  unsigned max = base.is_v4() ? 32 : 128;
  unsigned prefix = max;
  if (slash != std::string::npos) {
    std::string bits = text.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 ||
        !std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    prefix = static_cast<unsigned>(std::stoul(bits));
    if (prefix > max) return std::nullopt;
  }
  return Network{base, prefix};
}

std::vector<Network> networks(std::initializer_list<const char*> list) {
  std::vector<Network> out;
  for (const char* text : list) out.push_back(*parse_network(text));
  return out;
}

// IPv4 ranges that are not the public internet (IANA special-purpose registry).
const std::vector<Network>& non_public_v4() {
  static const auto kList = networks(
      {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
       "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
       "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"});
  return kList;
}

// IPv6: only global unicast (2000::/3) may be public, minus these.
const std::vector<Network>& non_public_v6() {
  static const auto kList =
      networks({"2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20", "64:ff9b:1::/48"});
  return kList;
}

// The IPv4 address inside a v4-mapped (::ffff:a.b.c.d) or NAT64
// (64:ff9b::a.b.c.d) IPv6 address.
std::optional<asio::ip::address_v4> embedded_v4(const asio::ip::address_v6& v6) {
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6);
  static const Network kNat64 = *parse_network("64:ff9b::/96");
  if (in_network(v6, kNat64)) {
    auto b = v6.to_bytes();
    return asio::ip::address_v4(asio::ip::address_v4::bytes_type{b[12], b[13], b[14], b[15]});
  }
  return std::nullopt;
}

bool is_public(const asio::ip::address& address) {
  if (address.is_v4()) {
    for (const auto& n : non_public_v4())
      if (in_network(address, n)) return false;
    return true;
  }
  auto v6 = address.to_v6();
  if (auto v4 = embedded_v4(v6)) return is_public(*v4);
  static const Network kGlobal = *parse_network("2000::/3");
  if (!in_network(v6, kGlobal)) return false;
  for (const auto& n : non_public_v6())
    if (in_network(v6, n)) return false;
  return true;
}

bool may_dial(const asio::ip::address& address, const std::vector<Network>& allowed) {
  if (is_public(address)) return true;
  std::optional<asio::ip::address_v4> v4;
  if (address.is_v6()) v4 = embedded_v4(address.to_v6());
  for (const auto& n : allowed)
    if (in_network(address, n) || (v4 && in_network(*v4, n))) return true;
  return false;
}

// --- HTTP request heads ----------------------------------------------------

struct RequestHead {
  std::string method, target, version;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
};

bool is_token_char(char ch) {
  return std::isalnum(static_cast<unsigned char>(ch)) ||
         std::strchr("!#$%&'*+-.^_`|~", ch) != nullptr;
}

// Parses "METHOD SP target SP HTTP/1.x CRLF (name: value CRLF)* CRLF"
// strictly: no folded lines, no bare CR or LF, no control characters.
std::optional<RequestHead> parse_head(const std::string& head) {
  RequestHead out;
  std::vector<std::string> lines;
  std::size_t at = 0;
  for (;;) {
    auto end = head.find("\r\n", at);
    if (end == std::string::npos) return std::nullopt;
    if (end == at) break;
    lines.push_back(head.substr(at, end - at));
    at = end + 2;
  }
  if (lines.empty()) return std::nullopt;
  for (const auto& line : lines)
    for (char ch : line)
      if ((static_cast<unsigned char>(ch) < 0x20 && ch != '\t') || ch == 0x7f) return std::nullopt;
  const std::string& first = lines[0];
  auto sp1 = first.find(' ');
  auto sp2 = sp1 == std::string::npos ? sp1 : first.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || first.find(' ', sp2 + 1) != std::string::npos)
    return std::nullopt;
  out.method = first.substr(0, sp1);
  out.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
  out.version = first.substr(sp2 + 1);
  if (out.method.empty() || out.target.empty() ||
      !std::all_of(out.method.begin(), out.method.end(), is_token_char) ||
      (out.version != "HTTP/1.1" && out.version != "HTTP/1.0"))
    return std::nullopt;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    auto colon = line.find(':');
    if (colon == 0 || colon == std::string::npos) return std::nullopt;
    std::string name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return std::nullopt;
    std::string value = line.substr(colon + 1);
    auto first_char = value.find_first_not_of(" \t");
    auto last_char = value.find_last_not_of(" \t");
    value =
        first_char == std::string::npos ? "" : value.substr(first_char, last_char - first_char + 1);
    out.headers.emplace_back(lower(name), value);
  }
  return out;
}

std::vector<std::string> header_values(const RequestHead& head, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : head.headers)
    if (n == name) out.push_back(v);
  return out;
}

// "host:port" or "[v6]:port" (port optional when default_port is given).
struct Authority {
  std::string host;  // as written, brackets kept
  std::uint16_t port = 0;
};

std::optional<Authority> parse_authority(const std::string& text,
                                         std::optional<std::uint16_t> default_port) {
  Authority out;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos) return std::nullopt;
    out.host = text.substr(0, close + 1);
    std::string rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return std::nullopt;
      port = rest.substr(1);
    } else if (!default_port) {
      return std::nullopt;
    }
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      if (!default_port) return std::nullopt;
      out.host = text;
    } else {
      out.host = text.substr(0, colon);
      port = text.substr(colon + 1);
    }
  }
  if (out.host.empty()) return std::nullopt;
  if (port.empty()) {
    if (!default_port) return std::nullopt;
    out.port = *default_port;
    return out;
  }
  if (port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  unsigned long value = std::stoul(port);
  if (value == 0 || value > 65535) return std::nullopt;
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

const std::set<std::string>& hop_by_hop() {
  static const std::set<std::string> kNames = {
      "connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate",
      "te",         "trailer",          "upgrade",    "transfer-encoding"};
  return kNames;
}

std::string answer(int status, const char* text, const std::string& reason) {
  std::string body = "warden egress proxy: " + reason + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + text +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// --- TLS ClientHello ---------------------------------------------------------

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool ok() const { return ok_; }
  bool empty() const { return at_ >= data_.size(); }
  std::size_t left() const { return ok_ ? data_.size() - at_ : 0; }
  unsigned number(std::size_t n) {
    std::string_view b = take(n);
    unsigned v = 0;
    for (char c : b) v = (v << 8) | static_cast<unsigned char>(c);
    return v;
  }
  std::string_view take(std::size_t n) {
    static const char kZero[4] = {0, 0, 0, 0};
    if (!ok_ || n > data_.size() - at_) {
      ok_ = false;
      return std::string_view(kZero, std::min<std::size_t>(n, 4));
    }
    auto out = data_.substr(at_, n);
    at_ += n;
    return out;
  }

 private:
  std::string_view data_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

ClientHelloInfo invalid(std::string error) {
  ClientHelloInfo info;
  info.status = ClientHelloInfo::kInvalid;
  info.error = std::move(error);
  return info;
}

ClientHelloInfo parse_hello_body(std::string_view body) {
  Reader r(body);
  r.number(2);  // legacy_version
  r.take(32);   // random
  unsigned session_id = r.number(1);
  if (session_id > 32) return invalid("bad session id");
  r.take(session_id);
  unsigned suites = r.number(2);
  if (suites == 0 || suites % 2 != 0) return invalid("bad cipher suites");
  r.take(suites);
  unsigned compression = r.number(1);
  if (compression == 0) return invalid("bad compression methods");
  r.take(compression);
  if (!r.ok()) return invalid("truncated ClientHello");
  ClientHelloInfo info;
  info.status = ClientHelloInfo::kComplete;
  if (r.empty()) return info;  // no extensions, so no server name
  unsigned total = r.number(2);
  if (!r.ok() || total != r.left()) return invalid("bad extensions length");
  std::set<unsigned> seen;
  bool have_name = false;
  while (!r.empty()) {
    unsigned type = r.number(2);
    unsigned length = r.number(2);
    std::string_view data = r.take(length);
    if (!r.ok()) return invalid("truncated extension");
    if (!seen.insert(type).second) return invalid("extension " + std::to_string(type) + " twice");
    if (type == 0xfe0d || type == 0xffce) return invalid("ClientHello uses encrypted client hello");
    if (type != 0) continue;
    Reader names(data);
    unsigned list = names.number(2);
    if (!names.ok() || list != names.left() || list == 0) return invalid("bad server_name");
    while (!names.empty()) {
      unsigned name_type = names.number(1);
      unsigned name_length = names.number(2);
      std::string_view name = names.take(name_length);
      if (!names.ok() || name_length == 0) return invalid("bad server_name");
      if (name_type != 0) continue;
      if (have_name) return invalid("two server names");
      have_name = true;
      info.sni = std::string(name);
    }
  }
  return info;
}

// --- the proxy ---------------------------------------------------------------

struct Connection;

}  // namespace

struct EgressProxy::Impl {
  std::filesystem::path path;
  EgressRules rules;
  std::map<std::string, asio::ip::address> resolve;
  std::vector<Network> allow;
  std::function<void(const EgressDecision&)> on_decision;

  asio::io_context ioc{1};
  unix_stream::acceptor acceptor{ioc};
  asio::steady_timer slot_freed{ioc};
  // Proxy thread only.
  std::size_t active = 0;
  bool stopping = false;
  std::set<Connection*> connections;

  mutable std::mutex mutex;
  std::vector<EgressDecision> decisions;  // guarded by mutex
  std::thread thread;

  void record(const EgressDecision& decision) {
    spdlog::debug("egress {} {}:{} sni '{}' address '{}': {} {} (up {} down {})", decision.kind,
                  decision.host, decision.port, decision.sni, decision.address,
                  decision.allowed ? "allowed" : "denied", decision.reason, decision.bytes_up,
                  decision.bytes_down);
    {
      std::lock_guard lock(mutex);
      decisions.push_back(decision);
    }
    if (!on_decision) return;
    try {
      on_decision(decision);
    } catch (const std::exception& e) {
      spdlog::debug("egress proxy: on_decision threw: {}", e.what());
    } catch (...) {
      spdlog::debug("egress proxy: on_decision threw");
    }
  }

  awaitable<void> accept_loop();
  void stop();
};

namespace {

struct Connection {
  Connection(EgressProxy::Impl& p, unix_stream::socket s)
      : proxy(p),
        client(std::move(s)),
        server(p.ioc),
        watchdog(p.ioc),
        resolver(p.ioc),
        deadline(Clock::now() + p.rules.idle_timeout) {
    proxy.connections.insert(this);
    ++proxy.active;
  }
  ~Connection() {
    proxy.connections.erase(this);
    --proxy.active;
    proxy.slot_freed.cancel();
  }

  // Closes both sides; every pending operation ends with an error.
  void close() {
    closed = true;
    error_code ec;
    client.close(ec);
    server.close(ec);
    watchdog.cancel();
    resolver.cancel();
  }
  // The connection is closed `limit` from now unless moved again.
  void arm(std::chrono::milliseconds limit) {
    deadline = Clock::now() + limit;
    watchdog.cancel();  // re-armed by the watchdog with the new deadline
  }
  // Activity: the idle deadline moves later (no re-arming needed).
  void touch() { deadline = Clock::now() + proxy.rules.idle_timeout; }

  // Why an operation ended early, when the proxy did that.
  std::string why_closed(const char* step) const {
    if (proxy.stopping) return "proxy stopping";
    if (timed_out) return std::string("timed out ") + step;
    return "";
  }

  void decide(std::string reason) {
    if (recorded) return;
    recorded = true;
    decision.allowed = reason.empty();
    decision.reason = std::move(reason);
    proxy.record(decision);
  }

  EgressProxy::Impl& proxy;
  unix_stream::socket client;
  tcp::socket server;
  asio::steady_timer watchdog;
  tcp::resolver resolver;
  Clock::time_point deadline;
  bool closed = false;
  bool timed_out = false;
  bool recorded = false;
  int pumps = 0;
  std::string buffered;  // bytes read from the client and not yet handled
  EgressDecision decision;
};

using ConnectionPtr = std::shared_ptr<Connection>;

awaitable<void> watch(ConnectionPtr c) {
  while (!c->closed) {
    c->watchdog.expires_at(c->deadline);
    error_code ec;
    co_await c->watchdog.async_wait(on_error(ec));
    if (c->closed) break;
    if (Clock::now() >= c->deadline) {
      c->timed_out = true;
      c->close();
    }
  }
}

// Sends `text` to the client (a denial) and closes.
awaitable<void> refuse(ConnectionPtr c, int status, const char* status_text, std::string reason,
                       bool record) {
  if (record) c->decide(reason);
  error_code ec;
  c->arm(c->proxy.rules.idle_timeout);
  co_await asio::async_write(c->client, asio::buffer(answer(status, status_text, reason)),
                             on_error(ec));
  c->close();
}

// The rules' checks on a requested host and port; "" when allowed.
std::string check_target(const EgressProxy::Impl& proxy, const std::string& raw_host,
                         std::uint16_t port) {
  if (is_ip_literal(raw_host)) return "IP literal";
  std::string host = normalize_host(raw_host);
  if (!valid_host_name(host)) return "invalid host name";
  auto it = proxy.rules.hosts.find(host);
  if (it == proxy.rules.hosts.end()) return "host not allowed";
  if (!it->second.count(port)) return "port " + std::to_string(port) + " not allowed";
  return "";
}

// Resolves the decision's host (the resolve map first), checks every address
// and dials them in turn. "" when connected, else the reason.
awaitable<std::string> dial(ConnectionPtr c) {
  auto& proxy = c->proxy;
  const std::string& host = c->decision.host;
  std::vector<asio::ip::address> addresses;
  c->arm(proxy.rules.connect_timeout);
  if (auto it = proxy.resolve.find(host); it != proxy.resolve.end()) {
    addresses.push_back(it->second);
  } else {
    error_code ec;
    auto results = co_await c->resolver.async_resolve(host, std::to_string(c->decision.port),
                                                      tcp::resolver::numeric_service, on_error(ec));
    if (c->closed) co_return c->why_closed("resolving the host");
    if (ec) co_return "cannot resolve " + host + ": " + ec.message();
    for (const auto& entry : results) {
      auto a = entry.endpoint().address();
      if (std::find(addresses.begin(), addresses.end(), a) == addresses.end())
        addresses.push_back(a);
    }
  }
  if (addresses.empty()) co_return "no address for " + host;
  for (const auto& a : addresses)
    if (!may_dial(a, proxy.allow)) co_return "resolves to private address " + a.to_string();
  std::string failure;
  for (const auto& a : addresses) {
    c->decision.address = a.to_string();
    int fd =
        ::socket(a.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) co_return std::string("cannot make a socket: ") + std::strerror(errno);
    error_code ec;
    c->server.assign(a.is_v4() ? tcp::v4() : tcp::v6(), fd, ec);
    if (ec) {
      ::close(fd);
      co_return "cannot make a socket: " + ec.message();
    }
    co_await c->server.async_connect(tcp::endpoint(a, c->decision.port), on_error(ec));
    if (c->closed) co_return c->why_closed("connecting");
    if (!ec) co_return "";
    failure = "cannot connect to " + a.to_string() + ": " + ec.message();
    c->server.close(ec);
  }
  co_return failure;
}

void finish_pump(const ConnectionPtr& c) {
  if (--c->pumps > 0) return;
  c->close();
  c->decide("");
}

// Relays `from` to `to` until end of stream, counting bytes into `count`. At
// a clean end it half-closes `to`; on an error it closes the connection.
template <class From, class To>
awaitable<void> pump(ConnectionPtr c, From& from, To& to, std::uint64_t& count) {
  std::vector<char> buffer(kRelayBytes);
  for (;;) {
    error_code ec;
    std::size_t n = co_await from.async_read_some(asio::buffer(buffer), on_error(ec));
    if (ec) {
      if (ec == asio::error::eof && !c->closed)
        to.shutdown(asio::socket_base::shutdown_send, ec);
      else
        c->close();
      break;
    }
    c->touch();
    co_await asio::async_write(to, asio::buffer(buffer.data(), n), on_error(ec));
    if (ec) {
      c->close();
      break;
    }
    count += n;
    c->touch();
  }
  finish_pump(c);
}

awaitable<void> tunnel(ConnectionPtr c) {
  auto& d = c->decision;
  error_code ec;
  static const std::string kEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";
  co_await asio::async_write(c->client, asio::buffer(kEstablished), on_error(ec));
  if (ec) {
    c->decide(c->closed ? c->why_closed("answering CONNECT") : "client went away");
    co_return c->close();
  }
  std::string& hello = c->buffered;
  ClientHelloInfo info = parse_client_hello(hello);
  std::array<char, 4096> chunk;
  while (info.status == ClientHelloInfo::kNeedMore) {
    if (hello.size() >= kMaxClientHelloBytes) {
      c->decide("ClientHello too large");
      co_return c->close();
    }
    std::size_t room = std::min(chunk.size(), kMaxClientHelloBytes - hello.size());
    std::size_t n =
        co_await c->client.async_read_some(asio::buffer(chunk.data(), room), on_error(ec));
    if (ec) {
      std::string why = c->why_closed("waiting for the ClientHello");
      c->decide(!why.empty() ? why : hello.empty() ? "no ClientHello" : "incomplete ClientHello");
      co_return c->close();
    }
    hello.append(chunk.data(), n);
    info = parse_client_hello(hello);
  }
  if (info.status == ClientHelloInfo::kInvalid) {
    c->decide(info.error);
    co_return c->close();
  }
  d.sni = info.sni;
  if (info.sni.empty()) {
    c->decide("no SNI");
    co_return c->close();
  }
  if (normalize_host(info.sni) != d.host) {
    c->decide("SNI '" + printable(info.sni) + "' differs from CONNECT host '" + d.host + "'");
    co_return c->close();
  }
  std::string failure = co_await dial(c);
  if (!failure.empty()) {
    c->decide(failure);
    co_return c->close();
  }
  c->arm(c->proxy.rules.idle_timeout);
  co_await asio::async_write(c->server, asio::buffer(hello), on_error(ec));
  if (ec) {
    std::string why = c->why_closed("sending the ClientHello");
    c->decide(!why.empty() ? why : "cannot send the ClientHello: " + ec.message());
    co_return c->close();
  }
  d.bytes_up = hello.size();
  hello.clear();
  hello.shrink_to_fit();
  c->pumps = 2;
  auto executor = c->proxy.ioc.get_executor();
  asio::co_spawn(executor, pump(c, c->client, c->server, d.bytes_up), asio::detached);
  asio::co_spawn(executor, pump(c, c->server, c->client, d.bytes_down), asio::detached);
}

awaitable<void> plain_http(ConnectionPtr c, RequestHead head) {
  auto& d = c->decision;
  auto hosts = header_values(head, "host");
  if (hosts.size() != 1)
    co_return co_await refuse(c, 400, "Bad Request", "need one Host header", true);
  auto host_header = parse_authority(hosts[0], std::uint16_t{80});
  if (!host_header || normalize_host(host_header->host) != d.host || host_header->port != d.port) {
    std::string said = printable(hosts[0]);
    co_return co_await refuse(c, 403, "Forbidden",
                              "Host header '" + said + "' differs from URL host '" + d.host + ":" +
                                  std::to_string(d.port) + "'",
                              true);
  }
  if (!header_values(head, "transfer-encoding").empty())
    co_return co_await refuse(c, 400, "Bad Request", "chunked request bodies are not supported",
                              true);
  auto lengths = header_values(head, "content-length");
  std::size_t length = 0;
  if (lengths.size() > 1)
    co_return co_await refuse(c, 400, "Bad Request", "more than one Content-Length", true);
  if (lengths.size() == 1) {
    const std::string& v = lengths[0];
    if (v.empty() || v.size() > 9 ||
        !std::all_of(v.begin(), v.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      co_return co_await refuse(c, 400, "Bad Request", "bad Content-Length", true);
    length = std::stoul(v);
    if (length > kMaxBodyBytes)
      co_return co_await refuse(c, 400, "Bad Request", "request body too large", true);
  }
  error_code ec;
  if (c->buffered.size() < length) {
    c->arm(c->proxy.rules.idle_timeout);
    std::size_t have = c->buffered.size();
    c->buffered.resize(length);
    co_await asio::async_read(c->client, asio::buffer(c->buffered.data() + have, length - have),
                              on_error(ec));
    if (ec) {
      std::string why = c->why_closed("reading the request body");
      c->decide(!why.empty() ? why : "incomplete request body");
      co_return c->close();
    }
  }
  std::string body = c->buffered.substr(0, length);  // anything after it is dropped

  std::string failure = co_await dial(c);
  if (!failure.empty()) {
    bool range = failure.rfind("resolves to", 0) == 0;
    if (c->closed) {
      c->decide(failure);
      co_return;
    }
    co_return co_await refuse(c, range ? 403 : 502, range ? "Forbidden" : "Bad Gateway", failure,
                              true);
  }
  // The request in origin form, without hop-by-hop headers.
  std::set<std::string> drop = hop_by_hop();
  for (const auto& value : header_values(head, "connection")) {
    std::size_t at = 0;
    while (at <= value.size()) {
      auto comma = value.find(',', at);
      if (comma == std::string::npos) comma = value.size();
      std::string token = value.substr(at, comma - at);
      auto b = token.find_first_not_of(" \t");
      auto e = token.find_last_not_of(" \t");
      if (b != std::string::npos) drop.insert(lower(token.substr(b, e - b + 1)));
      at = comma + 1;
    }
  }
  std::string path = head.target.substr(std::strlen("http://"));
  auto slash = path.find_first_of("/?");
  path = slash == std::string::npos ? "/" : path.substr(slash);
  if (path[0] == '?') path = "/" + path;
  std::string out = head.method + " " + path + " HTTP/1.1\r\nhost: " + hosts[0] + "\r\n";
  for (const auto& [name, value] : head.headers)
    if (!drop.count(name) && name != "host") out += name + ": " + value + "\r\n";
  out += "connection: close\r\n\r\n" + body;
  c->arm(c->proxy.rules.idle_timeout);
  co_await asio::async_write(c->server, asio::buffer(out), on_error(ec));
  if (ec) {
    std::string why = c->why_closed("sending the request");
    c->decide(!why.empty() ? why : "cannot send the request: " + ec.message());
    co_return c->close();
  }
  d.bytes_up = out.size();
  c->pumps = 1;
  co_await pump(c, c->server, c->client, d.bytes_down);
}

awaitable<void> serve(ConnectionPtr c) {
  auto& proxy = c->proxy;
  auto& d = c->decision;
  error_code ec;
  c->arm(proxy.rules.idle_timeout);
  std::size_t n = co_await asio::async_read_until(
      c->client, asio::dynamic_buffer(c->buffered, kMaxHeaderBytes), "\r\n\r\n", on_error(ec));
  if (ec == asio::error::not_found) {
    // Over the bound: say so, naming the host when the request line has one.
    d.kind = c->buffered.rfind("CONNECT ", 0) == 0 ? "connect" : "http";
    co_return co_await refuse(c, 400, "Bad Request", "request header too large", true);
  }
  if (ec) {
    if (!c->buffered.empty()) {
      d.kind = "http";
      std::string why = c->why_closed("reading the request");
      c->decide(!why.empty() ? why : "incomplete request");
    }
    co_return c->close();
  }
  std::string head_text = c->buffered.substr(0, n);
  c->buffered.erase(0, n);
  auto head = parse_head(head_text);
  if (!head) {
    d.kind = "http";
    co_return co_await refuse(c, 400, "Bad Request", "malformed request", true);
  }
  if (head->method == "CONNECT") {
    d.kind = "connect";
    auto authority = parse_authority(head->target, std::nullopt);
    if (!authority) co_return co_await refuse(c, 400, "Bad Request", "bad CONNECT target", true);
    d.host = normalize_host(authority->host);
    d.port = authority->port;
    if (auto reason = check_target(proxy, authority->host, authority->port); !reason.empty())
      co_return co_await refuse(c, 403, "Forbidden", reason, true);
    co_return co_await tunnel(c);
  }
  d.kind = "http";
  std::string scheme_end = lower(head->target.substr(0, 8));
  if (scheme_end.rfind("http://", 0) != 0) {
    const char* why = scheme_end.rfind("https://", 0) == 0 ? "https:// URLs must use CONNECT"
                                                           : "not an absolute-form http:// request";
    co_return co_await refuse(c, 400, "Bad Request", why, true);
  }
  std::string rest = head->target.substr(7);
  std::string authority_text = rest.substr(0, rest.find_first_of("/?#"));
  if (authority_text.find('@') != std::string::npos || head->target.find('#') != std::string::npos)
    co_return co_await refuse(c, 400, "Bad Request", "user info or fragment in URL", true);
  auto authority = parse_authority(authority_text, std::uint16_t{80});
  if (!authority) co_return co_await refuse(c, 400, "Bad Request", "bad URL host", true);
  d.host = normalize_host(authority->host);
  d.port = authority->port;
  if (auto reason = check_target(proxy, authority->host, authority->port); !reason.empty())
    co_return co_await refuse(c, 403, "Forbidden", reason, true);
  co_await plain_http(c, std::move(*head));
}

// Runs serve() and makes sure the connection ends with a decision.
awaitable<void> serve_guarded(ConnectionPtr c) {
  try {
    co_await serve(c);
  } catch (const std::exception& e) {
    spdlog::debug("egress proxy: connection failed: {}", e.what());
    c->close();
    if (c->decision.kind.empty()) c->decision.kind = "http";
    c->decide(std::string("proxy error: ") + e.what());
  }
}

}  // namespace

awaitable<void> EgressProxy::Impl::accept_loop() {
  for (;;) {
    error_code ec;
    while (active >= rules.max_connections && !stopping) {
      slot_freed.expires_at(asio::steady_timer::time_point::max());
      co_await slot_freed.async_wait(on_error(ec));
    }
    if (stopping) break;
    co_await acceptor.async_wait(unix_stream::acceptor::wait_read, on_error(ec));
    if (stopping) break;
    if (ec) continue;
    int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
        continue;
      spdlog::debug("egress proxy: accept: {}", std::strerror(errno));
      asio::steady_timer pause(ioc, std::chrono::milliseconds(50));  // EMFILE and the like
      co_await pause.async_wait(on_error(ec));
      continue;
    }
    unix_stream::socket socket(ioc);
    socket.assign(unix_stream(), fd, ec);
    if (ec) {
      ::close(fd);
      continue;
    }
    auto c = std::make_shared<Connection>(*this, std::move(socket));
    asio::co_spawn(ioc, watch(c), asio::detached);
    asio::co_spawn(ioc, serve_guarded(c), asio::detached);
  }
}

void EgressProxy::Impl::stop() {
  stopping = true;
  error_code ec;
  acceptor.close(ec);
  slot_freed.cancel();
  for (Connection* c : std::vector<Connection*>(connections.begin(), connections.end())) c->close();
}

EgressProxy::EgressProxy(std::filesystem::path socket_path, EgressRules rules,
                         std::function<void(const EgressDecision&)> on_decision)
    : impl_(std::make_shared<Impl>()) {
  Impl& p = *impl_;
  p.path = std::move(socket_path);
  p.on_decision = std::move(on_decision);
  if (rules.max_connections == 0)
    throw Error(ErrorKind::kConfig, "egress proxy: max_connections must be at least 1");
  for (const auto& [host, ports] : rules.hosts) p.rules.hosts[normalize_host(host)] = ports;
  for (const auto& [host, text] : rules.resolve) {
    error_code ec;
    auto address = asio::ip::make_address(text, ec);
    if (ec)
      throw Error(ErrorKind::kConfig,
                  "egress.resolve: '" + text + "' for host '" + host + "' is not an IP address");
    p.resolve[normalize_host(host)] = address;
  }
  for (const auto& text : rules.allow_networks) {
    auto network = parse_network(text);
    if (!network)
      throw Error(ErrorKind::kConfig, "egress allow_networks: '" + text + "' is not a network");
    p.allow.push_back(*network);
  }
  p.rules.allow_networks = rules.allow_networks;
  p.rules.resolve = rules.resolve;
  p.rules.connect_timeout = rules.connect_timeout;
  p.rules.idle_timeout = rules.idle_timeout;
  p.rules.max_connections = rules.max_connections;

  const std::string where = "egress proxy socket " + p.path.string() + ": ";
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string& path = p.path.native();
  if (path.empty() || path.size() >= sizeof address.sun_path)
    throw Error(ErrorKind::kEnvironment, where + "the path is empty or too long for a unix socket");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throw Error(ErrorKind::kEnvironment, where + std::strerror(errno));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    int error = errno;
    ::close(fd);
    throw Error(ErrorKind::kEnvironment, where + std::strerror(error));
  }
  if (::chmod(path.c_str(), 0666) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    int error = errno;
    ::close(fd);
    ::unlink(path.c_str());
    throw Error(ErrorKind::kEnvironment, where + std::strerror(error));
  }
  error_code ec;
  p.acceptor.assign(unix_stream(), fd, ec);
  if (ec) {
    ::close(fd);
    ::unlink(path.c_str());
    throw Error(ErrorKind::kEnvironment, where + ec.message());
  }
  asio::co_spawn(p.ioc, p.accept_loop(), asio::detached);
  p.thread = std::thread([&p] {
    for (;;) {
      try {
        p.ioc.run();
        return;
      } catch (const std::exception& e) {
        spdlog::debug("egress proxy: {}", e.what());
      }
    }
  });
  spdlog::debug("egress proxy listening on {}", path);
}

EgressProxy::~EgressProxy() {
  Impl& p = *impl_;
  asio::post(p.ioc, [&p] { p.stop(); });
  if (p.thread.joinable()) p.thread.join();
  std::error_code ec;
  std::filesystem::remove(p.path, ec);
}

const std::filesystem::path& EgressProxy::socket_path() const {
  return impl_->path;
}

std::vector<EgressDecision> EgressProxy::decisions() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->decisions;
}

bool is_ip_literal(const std::string& host) {
  if (host.empty()) return false;
  if (host.front() == '[' || host.find(':') != std::string::npos) return true;
  in_addr v4{};
  if (::inet_aton(host.c_str(), &v4) != 0) return true;
  std::string h = host;
  if (h.back() == '.') h.pop_back();
  std::string last = h.substr(h.rfind('.') == std::string::npos ? 0 : h.rfind('.') + 1);
  if (last.empty()) return false;
  if (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return true;
  if (last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') &&
      std::all_of(last.begin() + 2, last.end(),
                  [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
    return true;
  return false;
}

ClientHelloInfo parse_client_hello(const std::string& bytes) {
  std::string handshake;
  std::size_t at = 0;
  for (;;) {
    if (handshake.size() >= 4) {
      Reader header(std::string_view(handshake).substr(0, 4));
      unsigned type = header.number(1);
      unsigned length = header.number(3);
      if (type != 1) return invalid("no ClientHello");
      if (length > kMaxClientHelloBytes) return invalid("ClientHello too large");
      if (handshake.size() >= 4 + length) {
        // Records after it (early data) are the server's business; more
        // handshake bytes in its own records are not.
        if (handshake.size() > 4 + length) return invalid("data after the ClientHello");
        return parse_hello_body(std::string_view(handshake).substr(4, length));
      }
    }
    if (bytes.size() - at < 5) {
      if (at < bytes.size() && static_cast<unsigned char>(bytes[at]) != 22)
        return invalid("no ClientHello");
      return ClientHelloInfo{};
    }
    Reader record(std::string_view(bytes).substr(at, 5));
    unsigned type = record.number(1);
    unsigned major = record.number(1);
    record.number(1);
    unsigned length = record.number(2);
    if (type != 22) return invalid("no ClientHello");
    if (major != 3) return invalid("bad TLS record version");
    if (length == 0 || length > kMaxRecordBytes) return invalid("bad TLS record length");
    if (bytes.size() - at - 5 < length) return ClientHelloInfo{};
    handshake.append(bytes, at + 5, length);
    at += 5 + length;
  }
}

}  // namespace warden::egress
