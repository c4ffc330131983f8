// The egress proxy of the install phase (issue #19) with real sockets only:
// a plain HTTP server and a TLS server (certificate from a CA made here) on
// loopback, clients that speak HTTP and TLS through the proxy's unix socket.
#define CATCH_CONFIG_MAIN
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <warden/error.h>
#include <utility>  // before Asio 1.74: awaitable.hpp uses std::exchange

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>

#include "egress/egress_proxy.h"
#include "support/process.h"

// GCC 12 and Asio 1.74's coroutine frames: a false positive (see egress_proxy.cc).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;
using error_code = boost::system::error_code;
using warden::egress::EgressDecision;
using warden::egress::EgressProxy;
using warden::egress::EgressRules;
using namespace std::chrono_literals;

auto on_error(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

// --- certificates --------------------------------------------------------------

std::string pem_of(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

std::string pem_of(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  REQUIRE(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* make_cert(const char* cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, bool ca) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), ca ? 1 : 2);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer ? issuer : cert;
  if (ca) {
    add_extension(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert, signer, NID_subject_alt_name, "DNS:index.test,DNS:forbidden.test");
    add_extension(cert, signer, NID_ext_key_usage, "serverAuth");
  }
  REQUIRE(X509_sign(cert, issuer_key, EVP_sha256()) > 0);
  return cert;
}

// A CA and a server certificate for index.test and forbidden.test, made once.
struct Pki {
  std::string ca_pem, cert_pem, key_pem;
  static const Pki& get() {
    static const Pki pki = [] {
      Pki p;
      EVP_PKEY* ca_key = EVP_EC_gen("P-256");
      EVP_PKEY* key = EVP_EC_gen("P-256");
      X509* ca = make_cert("warden test CA", ca_key, nullptr, ca_key, true);
      X509* cert = make_cert("index.test", key, ca, ca_key, false);
      p.ca_pem = pem_of(ca);
      p.cert_pem = pem_of(cert);
      p.key_pem = pem_of(key);
      X509_free(cert);
      X509_free(ca);
      EVP_PKEY_free(key);
      EVP_PKEY_free(ca_key);
      return p;
    }();
    return pki;
  }
};

// --- servers -------------------------------------------------------------------

// A loopback server on its own thread; `handle` serves one accepted socket.
class Server {
 public:
  Server() : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  virtual ~Server() { stop(); }
  void stop() {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int accepts() const { return accepts_; }

 protected:
  void start() {
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  virtual asio::awaitable<void> handle(tcp::socket socket) = 0;
  asio::io_context ioc_;

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      error_code ec;
      tcp::socket socket(ioc_);
      co_await acceptor_.async_accept(socket, on_error(ec));
      if (ec) co_return;
      ++accepts_;
      asio::co_spawn(ioc_, handle(std::move(socket)), asio::detached);
    }
  }
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> accepts_{0};
};

// Answers every request with 200 "hello" and closes; keeps the request heads.
class HttpServer : public Server {
 public:
  HttpServer() { start(); }
  ~HttpServer() override { stop(); }
  std::vector<std::string> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  static constexpr const char* kAnswer =
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";

 protected:
  asio::awaitable<void> handle(tcp::socket socket) override {
    std::string head;
    error_code ec;
    co_await asio::async_read_until(socket, asio::dynamic_buffer(head), "\r\n\r\n", on_error(ec));
    if (ec) co_return;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(head);
    }
    co_await asio::async_write(socket, asio::buffer(std::string(kAnswer)), on_error(ec));
    socket.shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, 256> drain;
    while (!ec) co_await socket.async_read_some(asio::buffer(drain), on_error(ec));
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
};

// TLS: reads a line, answers "pong <server name>\n", closes the TLS session.
class TlsServer : public Server {
 public:
  TlsServer() : tls_(ssl::context::tls_server) {
    const Pki& pki = Pki::get();
    tls_.use_certificate_chain(asio::buffer(pki.cert_pem));
    tls_.use_private_key(asio::buffer(pki.key_pem), ssl::context::pem);
    start();
  }
  ~TlsServer() override { stop(); }

 protected:
  asio::awaitable<void> handle(tcp::socket socket) override {
    ssl::stream<tcp::socket> stream(std::move(socket), tls_);
    error_code ec;
    co_await stream.async_handshake(ssl::stream_base::server, on_error(ec));
    if (ec) co_return;
    std::string line;
    co_await asio::async_read_until(stream, asio::dynamic_buffer(line), "\n", on_error(ec));
    if (ec) co_return;
    const char* name = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    std::string reply = "pong " + std::string(name ? name : "") + "\n";
    co_await asio::async_write(stream, asio::buffer(reply), on_error(ec));
    co_await stream.async_shutdown(on_error(ec));
  }

 private:
  ssl::context tls_;
};

// --- clients -------------------------------------------------------------------

unix_stream::socket connect_proxy(asio::io_context& ioc, const EgressProxy& proxy) {
  unix_stream::socket socket(ioc);
  socket.connect(unix_stream::endpoint(proxy.socket_path().string()));
  timeval tv{10, 0};  // no test waits forever on a read
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return socket;
}

// Reads up to the end of the answer's head, byte by byte (nothing after it).
std::string read_head(unix_stream::socket& socket) {
  std::string head;
  char ch;
  error_code ec;
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
    if (socket.read_some(asio::buffer(&ch, 1), ec) != 1) break;
    head += ch;
  }
  return head;
}

std::string read_all(unix_stream::socket& socket) {
  std::string out;
  std::array<char, 4096> buffer;
  for (;;) {
    error_code ec;
    std::size_t n = socket.read_some(asio::buffer(buffer), ec);
    out.append(buffer.data(), n);
    if (ec) break;
  }
  return out;
}

// Sends `request` to the proxy and returns everything it answers.
std::string ask(const EgressProxy& proxy, const std::string& request) {
  asio::io_context ioc;
  auto socket = connect_proxy(ioc, proxy);
  asio::write(socket, asio::buffer(request));
  return read_all(socket);
}

std::vector<EgressDecision> wait_for_decisions(const EgressProxy& proxy, std::size_t n) {
  auto until = std::chrono::steady_clock::now() + 10s;
  while (proxy.decisions().size() < n && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(5ms);
  auto decisions = proxy.decisions();
  REQUIRE(decisions.size() == n);
  return decisions;
}

// A stream over the proxy's socket that counts the bytes it moves, so that a
// test knows exactly what the tunnel carried.
class CountingSocket {
 public:
  using executor_type = unix_stream::socket::executor_type;
  using lowest_layer_type = unix_stream::socket::lowest_layer_type;
  explicit CountingSocket(unix_stream::socket& socket) : socket_(socket) {}
  executor_type get_executor() { return socket_.get_executor(); }
  lowest_layer_type& lowest_layer() { return socket_.lowest_layer(); }
  template <class Buffers>
  std::size_t read_some(const Buffers& b, error_code& ec) {
    std::size_t n = socket_.read_some(b, ec);
    in += n;
    return n;
  }
  template <class Buffers>
  std::size_t write_some(const Buffers& b, error_code& ec) {
    std::size_t n = socket_.write_some(b, ec);
    out += n;
    return n;
  }
  std::uint64_t in = 0, out = 0;

 private:
  unix_stream::socket& socket_;
};

ssl::context client_tls() {
  ssl::context tls(ssl::context::tls_client);
  tls.add_certificate_authority(asio::buffer(Pki::get().ca_pem));
  tls.set_verify_mode(ssl::verify_peer);
  return tls;
}

// A TLS session through a CONNECT tunnel to `connect_host`:`port`, with SNI
// `sni`, certificate checked for `sni`.
struct Tunnel {
  asio::io_context ioc;
  unix_stream::socket socket{ioc};
  ssl::context tls = client_tls();
  std::unique_ptr<ssl::stream<CountingSocket>> stream;
  std::string connect_answer;

  Tunnel(const EgressProxy& proxy, const std::string& connect_host, std::uint16_t port,
         const std::string& sni) {
    socket = connect_proxy(ioc, proxy);
    std::string target = connect_host + ":" + std::to_string(port);
    asio::write(socket,
                asio::buffer("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n"));
    connect_answer = read_head(socket);
    stream = std::make_unique<ssl::stream<CountingSocket>>(socket, tls);
    SSL_set_tlsext_host_name(stream->native_handle(), sni.c_str());
    stream->set_verify_callback(ssl::host_name_verification(sni));
  }
  error_code handshake() {
    error_code ec;
    stream->handshake(ssl::stream_base::client, ec);
    return ec;
  }
  // "ping" and the server's answer, then a two-way TLS shutdown and the
  // tunnel read to its end.
  std::string ping() {
    asio::write(*stream, asio::buffer(std::string("ping\n")));
    std::string line;
    asio::read_until(*stream, asio::dynamic_buffer(line), "\n");
    error_code ec;
    stream->shutdown(ec);
    std::array<char, 1024> rest;
    while (!ec) stream->next_layer().read_some(asio::buffer(rest), ec);
    socket.close();
    return line;
  }
};

EgressRules rules_for(std::uint16_t http_port, std::uint16_t tls_port,
                      std::vector<std::string> allow = {"127.0.0.0/8"}) {
  EgressRules rules;
  rules.hosts["index.test"] = {http_port, tls_port};
  rules.hosts["forbidden.test"] = {http_port, tls_port};
  rules.resolve["index.test"] = "127.0.0.1";
  rules.resolve["forbidden.test"] = "127.0.0.1";
  rules.allow_networks = std::move(allow);
  return rules;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

// A connection through which the proxy answered 200 to `CONNECT
// index.test:<port>`, before any byte of TLS.
unix_stream::socket tunnel_to_index(asio::io_context& ioc, const EgressProxy& proxy,
                                    std::uint16_t port) {
  auto socket = connect_proxy(ioc, proxy);
  std::string target = "index.test:" + std::to_string(port);
  asio::write(socket, asio::buffer("CONNECT " + target + " HTTP/1.1\r\n\r\n"));
  CHECK(starts_with(read_head(socket), "HTTP/1.1 200 "));
  return socket;
}

}  // namespace

TEST_CASE("CONNECT: a TLS round trip through the tunnel, bytes counted", "[egress]") {
  warden::test::TempDir dir;
  TlsServer server;
  std::vector<EgressDecision> seen;
  std::mutex seen_mutex;
  EgressProxy proxy(dir.path() / "proxy.sock", rules_for(1, server.port()),
                    [&](const EgressDecision& d) {
                      std::lock_guard lock(seen_mutex);
                      seen.push_back(d);
                    });
  struct stat st {};
  REQUIRE(::stat(proxy.socket_path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0666);

  Tunnel tunnel(proxy, "Index.Test.", server.port(), "index.test");
  CHECK(starts_with(tunnel.connect_answer, "HTTP/1.1 200 Connection established\r\n"));
  REQUIRE(!tunnel.handshake());
  CHECK(tunnel.ping() == "pong index.test\n");
  auto decisions = wait_for_decisions(proxy, 1);
  const auto& d = decisions[0];
  CHECK(d.kind == "connect");
  CHECK(d.host == "index.test");
  CHECK(d.port == server.port());
  CHECK(d.sni == "index.test");
  CHECK(d.address == "127.0.0.1");
  CHECK(d.allowed);
  CHECK(d.reason.empty());
  CHECK(d.bytes_up == tunnel.stream->next_layer().out);
  CHECK(d.bytes_down == tunnel.stream->next_layer().in);
  CHECK(d.bytes_down > 300);  // the certificates at least
  std::lock_guard lock(seen_mutex);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].bytes_up == d.bytes_up);
}

TEST_CASE("plain HTTP: absolute-form GET goes on in origin form", "[egress]") {
  warden::test::TempDir dir;
  HttpServer server;
  EgressProxy proxy(dir.path() / "proxy.sock", rules_for(server.port(), 1), nullptr);
  std::string port = std::to_string(server.port());
  std::string answer = ask(proxy, "GET http://index.test:" + port +
                                      "/simple/pkg/?x=1 HTTP/1.1\r\nHost: index.test:" + port +
                                      "\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: "
                                      "Basic eDp5\r\nConnection: keep-alive, X-Secret\r\n"
                                      "X-Secret: 1\r\nUser-Agent: pip\r\n\r\n");
  CHECK(answer == HttpServer::kAnswer);
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  const std::string& r = requests[0];
  CHECK(starts_with(r, "GET /simple/pkg/?x=1 HTTP/1.1\r\nhost: index.test:" + port + "\r\n"));
  CHECK(r.find("user-agent: pip\r\n") != std::string::npos);
  CHECK(r.find("connection: close\r\n") != std::string::npos);
  CHECK(r.find("keep-alive") == std::string::npos);
  CHECK(r.find("proxy-") == std::string::npos);
  CHECK(r.find("x-secret") == std::string::npos);
  auto d = wait_for_decisions(proxy, 1)[0];
  CHECK(d.kind == "http");
  CHECK(d.allowed);
  CHECK(d.address == "127.0.0.1");
  CHECK(d.bytes_up == r.size());
  CHECK(d.bytes_down == answer.size());
}

TEST_CASE("a host not listed is refused and never looked up", "[egress]") {
  warden::test::TempDir dir;
  EgressRules rules;
  rules.hosts["index.test"] = {443};  // no resolve map: a lookup would fail with a DNS error
  EgressProxy proxy(dir.path() / "proxy.sock", rules, nullptr);
  std::string answer = ask(proxy, "CONNECT nowhere.invalid:443 HTTP/1.1\r\n\r\n");
  CHECK(starts_with(answer, "HTTP/1.1 403 Forbidden\r\n"));
  CHECK(answer.find("host not allowed") != std::string::npos);
  answer = ask(proxy, "GET http://nowhere.invalid/ HTTP/1.1\r\nHost: nowhere.invalid\r\n\r\n");
  CHECK(starts_with(answer, "HTTP/1.1 403 Forbidden\r\n"));
  auto decisions = wait_for_decisions(proxy, 2);
  for (const auto& d : decisions) {
    CHECK(d.host == "nowhere.invalid");
    CHECK(d.reason == "host not allowed");
    CHECK(d.address.empty());
    CHECK_FALSE(d.allowed);
  }
  CHECK(decisions[0].kind == "connect");
  CHECK(decisions[1].kind == "http");
}

TEST_CASE("a port not listed is refused", "[egress]") {
  warden::test::TempDir dir;
  TlsServer server;
  EgressProxy proxy(dir.path() / "proxy.sock", rules_for(1, 2), nullptr);
  std::string answer =
      ask(proxy, "CONNECT index.test:" + std::to_string(server.port()) + " HTTP/1.1\r\n\r\n");
  CHECK(starts_with(answer, "HTTP/1.1 403 Forbidden\r\n"));
  auto d = wait_for_decisions(proxy, 1)[0];
  CHECK(d.reason == "port " + std::to_string(server.port()) + " not allowed");
  CHECK(server.accepts() == 0);
}

TEST_CASE("IP literals are refused in every spelling, even when listed", "[egress]") {
  warden::test::TempDir dir;
  HttpServer server;
  std::vector<std::string> literals = {
      "127.0.0.1",  "127.1",      "0x7f.0.0.1", "2130706433",
      "0177.0.0.1", "127.0.0.1.", "[::1]",      "[::ffff:127.0.0.1]"};
  EgressRules rules = rules_for(server.port(), 443);
  for (const auto& l : literals) rules.hosts[l] = {server.port(), 443};
  EgressProxy proxy(dir.path() / "proxy.sock", rules, nullptr);
  std::string port = std::to_string(server.port());
  for (const auto& l : literals) {
    INFO(l);
    CHECK(starts_with(ask(proxy, "CONNECT " + l + ":443 HTTP/1.1\r\n\r\n"),
                      "HTTP/1.1 403 Forbidden\r\n"));
    CHECK(starts_with(ask(proxy, "GET http://" + l + ":" + port + "/ HTTP/1.1\r\nHost: " + l + ":" +
                                     port + "\r\n\r\n"),
                      "HTTP/1.1 403 Forbidden\r\n"));
  }
  auto decisions = wait_for_decisions(proxy, literals.size() * 2);
  for (const auto& d : decisions) CHECK(d.reason == "IP literal");
  CHECK(server.accepts() == 0);
  CHECK(warden::egress::is_ip_literal("0x7F000001"));
  CHECK(warden::egress::is_ip_literal("1.2.3.0x4"));
  CHECK_FALSE(warden::egress::is_ip_literal("pypi.org"));
  CHECK_FALSE(warden::egress::is_ip_literal("files.pythonhosted.org."));
}

TEST_CASE("an SNI other than the CONNECT host is refused before any dial", "[egress]") {
  warden::test::TempDir dir;
  TlsServer index, forbidden;
  EgressRules rules = rules_for(1, index.port());
  rules.hosts["forbidden.test"] = {forbidden.port()};
  EgressProxy proxy(dir.path() / "proxy.sock", rules, nullptr);
  Tunnel tunnel(proxy, "index.test", index.port(), "forbidden.test");
  CHECK(starts_with(tunnel.connect_answer, "HTTP/1.1 200 "));
  CHECK(tunnel.handshake());
  auto d = wait_for_decisions(proxy, 1)[0];
  CHECK_FALSE(d.allowed);
  CHECK(d.sni == "forbidden.test");
  CHECK(d.reason == "SNI 'forbidden.test' differs from CONNECT host 'index.test'");
  CHECK(d.address.empty());
  CHECK(index.accepts() == 0);
  CHECK(forbidden.accepts() == 0);
}

TEST_CASE("bytes that are not a ClientHello after CONNECT are refused", "[egress]") {
  warden::test::TempDir dir;
  TlsServer server;
  EgressProxy proxy(dir.path() / "proxy.sock", rules_for(1, server.port()), nullptr);
  asio::io_context ioc;
  auto socket = tunnel_to_index(ioc, proxy, server.port());
  asio::write(socket, asio::buffer(std::string("GET / HTTP/1.1\r\nHost: index.test\r\n\r\n")));
  CHECK(read_all(socket).empty());  // closed, nothing said
  auto d = wait_for_decisions(proxy, 1)[0];
  CHECK(d.reason == "no ClientHello");
  CHECK(server.accepts() == 0);
}

namespace {

// A real ClientHello for `sni` (OpenSSL on memory BIOs), as one TLS record.
std::string client_hello(const std::string& sni) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  SSL_set_tlsext_host_name(ssl, sni.c_str());
  SSL_set_connect_state(ssl);
  SSL_do_handshake(ssl);
  char* data = nullptr;
  long n = BIO_get_mem_data(out, &data);
  std::string hello(data, static_cast<std::size_t>(n));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return hello;
}

// The same handshake bytes cut into two records.
std::string split_records(const std::string& hello) {
  std::string body = hello.substr(5);
  std::size_t half = body.size() / 2;
  auto record = [&](const std::string& part) {
    std::string r = hello.substr(0, 3);
    r += static_cast<char>(part.size() >> 8);
    r += static_cast<char>(part.size() & 0xff);
    return r + part;
  };
  return record(body.substr(0, half)) + record(body.substr(half));
}

}  // namespace

TEST_CASE("ClientHello parsing: every prefix needs more, split records, no SNI", "[egress]") {
  using warden::egress::ClientHelloInfo;
  using warden::egress::parse_client_hello;
  std::string hello = client_hello("index.test");
  REQUIRE(hello.size() > 100);
  for (std::size_t n = 0; n < hello.size(); ++n)
    REQUIRE(parse_client_hello(hello.substr(0, n)).status == ClientHelloInfo::kNeedMore);
  auto info = parse_client_hello(hello);
  CHECK(info.status == ClientHelloInfo::kComplete);
  CHECK(info.sni == "index.test");
  std::string split = split_records(hello);
  for (std::size_t n = 0; n < split.size(); ++n)
    REQUIRE(parse_client_hello(split.substr(0, n)).status == ClientHelloInfo::kNeedMore);
  CHECK(parse_client_hello(split).sni == "index.test");
  CHECK(parse_client_hello("GET / HTTP/1.1\r\n").status == ClientHelloInfo::kInvalid);
  std::string garbage = hello;
  garbage[6] = 0x7f;  // a handshake length far over the bound
  CHECK(parse_client_hello(garbage).status != ClientHelloInfo::kComplete);
}

TEST_CASE("CONNECT: a ClientHello split across reads and records", "[egress]") {
  warden::test::TempDir dir;
  TlsServer server;
  EgressProxy proxy(dir.path() / "proxy.sock", rules_for(1, server.port()), nullptr);
  asio::io_context ioc;
  auto socket = tunnel_to_index(ioc, proxy, server.port());
  std::string hello = split_records(client_hello("index.test"));
  for (std::size_t at = 0; at < hello.size(); at += 50) {
    asio::write(socket, asio::buffer(hello.substr(at, 50)));
    std::this_thread::sleep_for(2ms);
  }
  std::array<char, 5> server_hello;
  asio::read(socket, asio::buffer(server_hello));
  CHECK(server_hello[0] == 22);  // the server's handshake answer came back
  socket.close();
  auto d = wait_for_decisions(proxy, 1)[0];
  CHECK(d.allowed);
  CHECK(d.sni == "index.test");
  CHECK(d.bytes_up == hello.size());
  CHECK(server.accepts() == 1);
}

TEST_CASE("a name resolving to loopback: refused unless allow_networks covers it", "[egress]") {
  warden::test::TempDir dir;
  HttpServer http;
  TlsServer tls;
  std::string port = std::to_string(http.port());
  std::string get =
      "GET http://index.test:" + port + "/ HTTP/1.1\r\nHost: index.test:" + port + "\r\n\r\n";
  {
    EgressRules rules = rules_for(http.port(), tls.port(), {});
    rules.hosts["mapped.test"] = {tls.port()};
    rules.resolve["mapped.test"] = "::ffff:127.0.0.1";
    EgressProxy proxy(dir.path() / "a.sock", rules, nullptr);
    std::string answer = ask(proxy, get);
    CHECK(starts_with(answer, "HTTP/1.1 403 Forbidden\r\n"));
    CHECK(answer.find("resolves to private address 127.0.0.1") != std::string::npos);
    Tunnel tunnel(proxy, "index.test", tls.port(), "index.test");
    CHECK(tunnel.handshake());
    Tunnel mapped(proxy, "mapped.test", tls.port(), "mapped.test");
    CHECK(mapped.handshake());
    auto decisions = wait_for_decisions(proxy, 3);
    CHECK(decisions[0].reason == "resolves to private address 127.0.0.1");
    CHECK(decisions[1].reason == "resolves to private address 127.0.0.1");
    CHECK(decisions[1].sni == "index.test");
    CHECK(decisions[2].reason == "resolves to private address ::ffff:127.0.0.1");
    CHECK(http.accepts() == 0);
    CHECK(tls.accepts() == 0);
  }
  {
    EgressProxy proxy(dir.path() / "b.sock", rules_for(http.port(), tls.port(), {"127.0.0.0/8"}),
                      nullptr);
    CHECK(ask(proxy, get) == HttpServer::kAnswer);
    Tunnel tunnel(proxy, "index.test", tls.port(), "index.test");
    REQUIRE(!tunnel.handshake());
    CHECK(tunnel.ping() == "pong index.test\n");
    auto decisions = wait_for_decisions(proxy, 2);
    CHECK(decisions[0].allowed);
    CHECK(decisions[1].allowed);
  }
}

TEST_CASE("a Host header that disagrees with the URL is refused", "[egress]") {
  warden::test::TempDir dir;
  HttpServer server;
  EgressProxy proxy(dir.path() / "proxy.sock", rules_for(server.port(), 1), nullptr);
  std::string port = std::to_string(server.port());
  std::string answer = ask(proxy, "GET http://index.test:" + port +
                                      "/ HTTP/1.1\r\nHost: forbidden.test:" + port + "\r\n\r\n");
  CHECK(starts_with(answer, "HTTP/1.1 403 Forbidden\r\n"));
  answer = ask(proxy, "GET http://index.test:" + port + "/ HTTP/1.1\r\nHost: index.test\r\n\r\n");
  CHECK(starts_with(answer, "HTTP/1.1 403 Forbidden\r\n"));
  auto decisions = wait_for_decisions(proxy, 2);
  CHECK(decisions[0].reason == "Host header 'forbidden.test:" + port +
                                   "' differs from URL host 'index.test:" + port + "'");
  CHECK(decisions[1].host == "index.test");
  CHECK(server.accepts() == 0);
}

TEST_CASE("oversized headers, origin-form requests and garbage get 400", "[egress]") {
  warden::test::TempDir dir;
  HttpServer server;
  EgressProxy proxy(dir.path() / "proxy.sock", rules_for(server.port(), 1), nullptr);
  std::string port = std::to_string(server.port());
  std::string big = "GET http://index.test:" + port + "/ HTTP/1.1\r\nHost: index.test:" + port +
                    "\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  std::string answer = ask(proxy, big);
  CHECK(starts_with(answer, "HTTP/1.1 400 Bad Request\r\n"));
  CHECK(answer.find("request header too large") != std::string::npos);
  CHECK(starts_with(ask(proxy, "GET / HTTP/1.1\r\nHost: index.test:" + port + "\r\n\r\n"),
                    "HTTP/1.1 400 "));
  CHECK(starts_with(ask(proxy, "\x16\x03\x01 hello\r\n\r\n"), "HTTP/1.1 400 "));
  CHECK(starts_with(ask(proxy, "CONNECT index.test HTTP/1.1\r\n\r\n"), "HTTP/1.1 400 "));
  CHECK(starts_with(ask(proxy, "GET https://index.test/ HTTP/1.1\r\nHost: index.test\r\n\r\n"),
                    "HTTP/1.1 400 "));
  CHECK(starts_with(ask(proxy, "GET http://index.test:" + port + "/ HTTP/1.1\r\nHost: index.test:" +
                                   port + "\r\nTransfer-Encoding: chunked\r\n\r\n"),
                    "HTTP/1.1 400 "));
  auto decisions = wait_for_decisions(proxy, 6);
  for (const auto& d : decisions) CHECK_FALSE(d.allowed);
  CHECK(server.accepts() == 0);
}

TEST_CASE("100 concurrent connections are all served", "[egress]") {
  warden::test::TempDir dir;
  HttpServer server;
  EgressProxy proxy(dir.path() / "proxy.sock", rules_for(server.port(), 1), nullptr);
  std::string port = std::to_string(server.port());
  std::string get =
      "GET http://index.test:" + port + "/x HTTP/1.1\r\nHost: index.test:" + port + "\r\n\r\n";
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 100; ++i)
    clients.emplace_back([&] {
      if (ask(proxy, get) == HttpServer::kAnswer) ++ok;
    });
  for (auto& t : clients) t.join();
  CHECK(ok == 100);
  auto decisions = wait_for_decisions(proxy, 100);
  for (const auto& d : decisions) CHECK(d.allowed);
  CHECK(server.accepts() == 100);
}

TEST_CASE("the destructor ends open tunnels promptly and removes the socket", "[egress]") {
  warden::test::TempDir dir;
  TlsServer server;
  std::atomic<int> called{0};
  auto proxy = std::make_unique<EgressProxy>(dir.path() / "proxy.sock", rules_for(1, server.port()),
                                             [&](const EgressDecision&) { ++called; });
  auto path = proxy->socket_path();
  std::vector<std::unique_ptr<Tunnel>> tunnels;
  for (int i = 0; i < 3; ++i) {
    tunnels.push_back(std::make_unique<Tunnel>(*proxy, "index.test", server.port(), "index.test"));
    REQUIRE(!tunnels.back()->handshake());
  }
  auto start = std::chrono::steady_clock::now();
  proxy.reset();
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(called == 3);
  CHECK_FALSE(std::filesystem::exists(path));
  start = std::chrono::steady_clock::now();
  for (auto& t : tunnels) read_all(t->socket);  // the session tickets, then the end
  CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("a silent client is closed after the idle timeout", "[egress]") {
  warden::test::TempDir dir;
  EgressRules rules = rules_for(1, 2);
  rules.idle_timeout = 200ms;
  EgressProxy proxy(dir.path() / "proxy.sock", rules, nullptr);
  asio::io_context ioc;
  auto socket = connect_proxy(ioc, proxy);
  auto start = std::chrono::steady_clock::now();
  CHECK(read_all(socket).empty());
  CHECK(std::chrono::steady_clock::now() - start < 3s);
}

TEST_CASE("construction errors name the path or the bad rule", "[egress]") {
  warden::test::TempDir dir;
  auto missing = dir.path() / "no-such-folder" / "proxy.sock";
  try {
    EgressProxy proxy(missing, {}, nullptr);
    FAIL("no error");
  } catch (const warden::Error& e) {
    CHECK(std::string(e.what()).find(missing.string()) != std::string::npos);
    CHECK(e.kind() == warden::ErrorKind::kEnvironment);
  }
  {
    EgressProxy first(dir.path() / "taken.sock", {}, nullptr);
    CHECK_THROWS_AS(EgressProxy(dir.path() / "taken.sock", {}, nullptr), warden::Error);
  }
  EgressRules bad;
  bad.allow_networks = {"127.0.0.0/33"};
  CHECK_THROWS_AS(EgressProxy(dir.path() / "bad.sock", bad, nullptr), warden::Error);
  bad.allow_networks.clear();
  bad.resolve["index.test"] = "localhost";
  CHECK_THROWS_AS(EgressProxy(dir.path() / "bad.sock", bad, nullptr), warden::Error);
}
