// Alerts on critical events, done for real: the heuristics assessor, Lua
// policies, the audit log, and deliveries to an HTTP receiver on 127.0.0.1
// and a unix datagram socket that each test runs itself.
#define CATCH_CONFIG_MAIN
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <warden/host.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "audit/audit_reader.h"
#include "policy/policy_engine.h"
#include "support/process.h"

using namespace warden;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const char* kBlocked = "import os\nos.system('rm -rf /tmp/nothing-here')\nprint('ran anyway')\n";

// A policy that blocks everything and may let an override through, with the
// alert() under test.
std::string blocking_policy(const std::string& alert) {
  return R"lua(
function classify(assessment, request) return { level = "BLOCKED", score = 10, reasons = { "all" } } end
function trust(decision, request) return "untrusted" end
function limits(trust, assessment, system)
  return { backend = "native", memory = "256MiB", wall_time = "20s" }
end
function may_override(decision, request) return true end
)lua" + alert;
}

// A port on 127.0.0.1 that nothing listens on (bound once, then let go).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// An HTTP server on 127.0.0.1:port that answers every POST with 200 and keeps
// the bodies; with `answer` false it takes connections and never answers;
// with `tls` it speaks HTTPS with that context's certificate.
class Receiver {
 public:
  explicit Receiver(int port, bool answer = true, SSL_CTX* tls = nullptr)
      : answer_(answer), tls_(tls) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~Receiver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  // The bodies received, once there are `n` (or what came within `wait`).
  std::vector<nlohmann::json> bodies(std::size_t n, std::chrono::milliseconds wait = 10s) {
    std::unique_lock lock(mutex_);
    got_.wait_for(lock, wait, [&] { return bodies_.size() >= n; });
    return bodies_;
  }
  std::vector<std::string> hosts() {
    std::lock_guard lock(mutex_);
    return hosts_;
  }
  int refused_handshakes() const { return refused_handshakes_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      if (!answer_) {
        held_.push_back(c);
        continue;
      }
      timeval five{5, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
      SSL* ssl = nullptr;
      if (tls_ != nullptr) {
        ssl = SSL_new(tls_);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) != 1) {  // e.g. the client did not trust the certificate
          SSL_free(ssl);
          ::close(c);
          ++refused_handshakes_;
          continue;
        }
      }
      std::string in;
      char buf[4096];
      std::size_t body_at = std::string::npos, length = 0;
      while (body_at == std::string::npos || in.size() < body_at + length) {
        ssize_t n = ssl ? SSL_read(ssl, buf, sizeof buf) : ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<std::size_t>(n));
        if (body_at == std::string::npos && (body_at = in.find("\r\n\r\n")) != std::string::npos) {
          body_at += 4;
          auto h = in.find("Content-Length: ");
          length = h == std::string::npos ? 0 : std::stoul(in.substr(h + 16));
        }
      }
      const char* ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      if (ssl) {
        SSL_write(ssl, ok, static_cast<int>(std::strlen(ok)));
        SSL_shutdown(ssl);
        SSL_free(ssl);
      } else {
        ::send(c, ok, std::strlen(ok), MSG_NOSIGNAL);
      }
      ::close(c);
      std::lock_guard lock(mutex_);
      auto host = in.find("\r\nHost: ");
      hosts_.push_back(host == std::string::npos
                           ? ""
                           : in.substr(host + 8, in.find("\r\n", host + 2) - host - 8));
      bodies_.push_back(nlohmann::json::parse(in.substr(body_at)));
      got_.notify_all();
    }
    for (int c : held_) ::close(c);
  }

  bool answer_;
  SSL_CTX* tls_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::vector<int> held_;
  std::mutex mutex_;
  std::condition_variable got_;
  std::vector<nlohmann::json> bodies_;
  std::vector<std::string> hosts_;  // each request's Host header
  std::atomic<int> refused_handshakes_{0};
  std::thread thread_;
};

// A unix datagram socket standing in for /dev/log.
class SyslogSocket {
 public:
  explicit SyslogSocket(const fs::path& path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~SyslogSocket() { ::close(fd_); }
  // The next message, or "" when none comes within `wait`.
  std::string next(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return "";
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n <= 0 ? "" : std::string(buf, static_cast<std::size_t>(n));
  }

 private:
  int fd_ = -1;
};

struct Fixture {
  test::TempDir dir;
  fs::path config;
  // `alerts`: the alerts section; `policy`: a policy's files' text (empty:
  // the default policy).
  explicit Fixture(const std::string& alerts, const std::string& policy = "") {
    fs::path policies = std::string(WARDEN_SOURCE_DIR) + "/policies/default";
    if (!policy.empty()) {
      policies = dir.path() / "policy";
      fs::create_directories(policies);
      dir.write("policy/policy.lua", policy);
    }
    config = dir.write("warden.yaml",
                       "log_level: warn\n"
                       "plugins: {directories: [" +
                           std::string(WARDEN_PLUGIN_DIR) +
                           "]}\n"
                           "assessors: {enabled: [heuristics]}\n"
                           "backends: {enabled: [native]}\n"
                           "policies: {directory: " +
                           policies.string() +
                           ", hot_reload: false}\n"
                           "audit:\n  directory: " +
                           (dir.path() / "audit").string() + "\n  signing_key: " +
                           (dir.path() / "keys/audit.key").string() + "\nalerts:\n" + alerts);
  }
  std::unique_ptr<Host> host() const { return Host::open(config.string()); }
  std::vector<audit::StoredRecord> records(const std::string& kind) const {
    std::vector<audit::StoredRecord> out;
    for (auto& r : audit::scan_log(dir.path() / "audit", "warden.local/audit").records)
      if (r.kind == kind) out.push_back(r);
    return out;
  }
};

std::string webhook(int port, const std::string& more = "") {
  return "  webhook: {url: 'http://127.0.0.1:" + std::to_string(port) + "/hooks/warden'" + more +
         "}\n";
}

ExecutionRequest blocked_request() {
  ExecutionRequest r;
  r.code = kBlocked;
  r.user = "mai";
  return r;
}

// Waits until the host's alerter has given up or delivered `n` deliveries.
nlohmann::json alert_counts_after(Host& host, const char* what, int n,
                                  std::chrono::milliseconds wait = 10s) {
  auto until = Clock::now() + wait;
  nlohmann::json counts;
  do {
    counts = host.get_security_status()["components"]["alerts"];
    if (counts[what] >= n) break;
    std::this_thread::sleep_for(20ms);
  } while (Clock::now() < until);
  return counts;
}

}  // namespace

TEST_CASE("a blocked request's alert reaches a local webhook, and the alert is audited") {
  int port = free_port();
  Receiver receiver(port);
  Fixture f(webhook(port));
  ExecutionResult r;
  {
    auto host = f.host();
    r = host->assess_and_execute(blocked_request());
    REQUIRE(r.decision == Outcome::kBlocked);
    auto bodies = receiver.bodies(1);
    REQUIRE(bodies.size() == 1);
    const auto& body = bodies[0];
    CHECK(body["severity"] == "warning");
    CHECK(body["event"]["kind"] == "blocked");
    CHECK(body["event"]["request_id"] == r.request_id);
    CHECK(body["event"]["user"] == "mai");
    CHECK(body["event"]["level"] == "BLOCKED");
    CHECK_THAT(body["message"].get<std::string>(), Catch::StartsWith("warden blocked by mai: "));
    CHECK(alert_counts_after(*host, "delivered", 1)["delivered"] == 1);
  }
  auto alerts = f.records("alert");
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0].data["request_id"] == r.request_id);
  CHECK(alerts[0].data["sinks"] == nlohmann::json{"webhook"});
  CHECK(alerts[0].data["decided_by"] == "policy");
  CHECK(alerts[0].data["event"]["kind"] == "blocked");
  CHECK(receiver.bodies(1)[0]["alert_id"] == alerts[0].id);
  CHECK(receiver.hosts() == std::vector<std::string>{"127.0.0.1:" + std::to_string(port)});
  CHECK(f.records("alert_failure").empty());
}

TEST_CASE("a webhook receiver that is down at first gets the alert from a retry") {
  int port = free_port();
  Fixture f(webhook(port, ", retries: 10, backoff: 100ms"));
  auto host = f.host();
  auto r = host->assess_and_execute(blocked_request());
  REQUIRE(r.decision == Outcome::kBlocked);
  std::this_thread::sleep_for(250ms);  // a first attempt or two find nobody
  Receiver receiver(port);
  auto bodies = receiver.bodies(1);
  REQUIRE(bodies.size() == 1);
  CHECK(bodies[0]["event"]["request_id"] == r.request_id);
  host.reset();
  CHECK(f.records("alert").size() == 1);
  CHECK(f.records("alert_failure").empty());
}

TEST_CASE(
    "a webhook receiver that never comes up: an alert_failure, and the request did not wait") {
  int port = free_port();
  Fixture f(webhook(port, ", retries: 2, backoff: 300ms, timeout: 1s"));
  auto host = f.host();
  auto started = Clock::now();
  auto r = host->assess_and_execute(blocked_request());
  auto took = Clock::now() - started;
  REQUIRE(r.decision == Outcome::kBlocked);
  // The three attempts take 900 ms of backoff alone; the request is long gone.
  CHECK(took < 900ms);
  CHECK(alert_counts_after(*host, "failed", 1)["failed"] == 1);
  host.reset();
  auto failures = f.records("alert_failure");
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].data["sink"] == "webhook");
  CHECK(failures[0].data["attempts"] == 3);
  CHECK(failures[0].data["kind"] == "blocked");
  CHECK(failures[0].data["request_id"] == r.request_id);
  CHECK(failures[0].data["alert_id"] == f.records("alert").at(0).id);
  CHECK_THAT(failures[0].data["error"].get<std::string>(), Catch::Contains("cannot connect"));
}

TEST_CASE("closing the host waits for a receiver that never answers only flush_timeout") {
  int port = free_port();
  Receiver silent(port, false);
  Fixture f(webhook(port, ", retries: 100, timeout: 30s") + "  flush_timeout: 300ms\n");
  auto host = f.host();
  REQUIRE(host->assess_and_execute(blocked_request()).decision == Outcome::kBlocked);
  std::this_thread::sleep_for(100ms);  // the attempt is under way, waiting for an answer
  auto started = Clock::now();
  host.reset();
  CHECK(Clock::now() - started < 10s);  // 300 ms, not 30 s: the margin is for a loaded machine
  auto failures = f.records("alert_failure");
  REQUIRE(failures.size() == 1);
  CHECK_THAT(failures[0].data["error"].get<std::string>(), Catch::Contains("no answer in time"));
}

TEST_CASE("a unix datagram socket bound by the test receives the syslog message") {
  Fixture f("");
  fs::path socket = f.dir.path() / "log.sock";
  SyslogSocket log(socket);
  f.dir.write("warden.yaml", test::read_file(f.config) + "  syslog: {enabled: true, socket: " +
                                 socket.string() + ", facility: local3, ident: wardentest}\n");
  auto host = f.host();
  auto r = host->assess_and_execute(blocked_request());
  std::string message = log.next(10s);
  // local3 (19) * 8 + warning (4)
  CHECK_THAT(message, Catch::StartsWith("<156>"));
  CHECK_THAT(message, Catch::Contains(" wardentest[" + std::to_string(::getpid()) + "]: "));
  CHECK_THAT(message, Catch::Contains("warden blocked by mai"));
  CHECK_THAT(message, Catch::Contains(r.request_id));
  host.reset();
  REQUIRE(f.records("alert").size() == 1);
  CHECK(f.records("alert")[0].data["sinks"] == nlohmann::json{"syslog"});
}

TEST_CASE("an alert() that returns false sends nothing") {
  test::TempDir sockets;
  SyslogSocket log(sockets.path() / "log.sock");
  Fixture f("  syslog: {enabled: true, socket: " + (sockets.path() / "log.sock").string() + "}\n",
            blocking_policy("function alert(event) return false end\n"));
  {
    auto host = f.host();
    CHECK(host->assess_and_execute(blocked_request()).decision == Outcome::kBlocked);
    auto counts = alert_counts_after(*host, "events", 1);
    CHECK(counts["events"] == 1);
  }  // the host's end flushes whatever was queued
  CHECK(log.next(200ms).empty());
  CHECK(f.records("alert").empty());
}

TEST_CASE("an alert() that fails leaves the run intact, is recorded, and the default applies") {
  test::TempDir sockets;
  SyslogSocket log(sockets.path() / "log.sock");
  Fixture f("  syslog: {enabled: true, socket: " + (sockets.path() / "log.sock").string() + "}\n",
            blocking_policy("function alert(event) error('alert is broken') end\n"));
  ExecutionRequest req = blocked_request();
  req.override_blocked = true;
  req.override_explanation = "reviewed by hand";
  ExecutionResult r;
  {
    auto host = f.host();
    r = host->assess_and_execute(req);
  }
  CHECK(r.decision == Outcome::kRan);
  CHECK(r.override_used);
  REQUIRE(r.run);
  CHECK(r.run->stdout_data == "ran anyway\n");
  bool failure_recorded = false;
  for (const auto& rec : f.records("policy_failure"))
    if (rec.data["function"] == "alert" &&
        rec.data["error"].get<std::string>().find("alert is broken") != std::string::npos)
      failure_recorded = true;
  CHECK(failure_recorded);
  // The override's alert, by the default, and one for the broken alert()
  // itself (decided by the default without asking alert() again).
  std::multiset<std::string> kinds;
  for (const auto& rec : f.records("alert")) {
    CHECK(rec.data["decided_by"] == "default");
    kinds.insert(rec.data["event"]["kind"].get<std::string>());
  }
  CHECK(kinds == std::multiset<std::string>{"override", "policy_failure"});
  CHECK_FALSE(log.next(1s).empty());
}

TEST_CASE("alert() answers are checked like every policy answer") {
  test::TempDir dir;
  auto verdict = [&](const std::string& alert) {
    fs::path d = dir.path() / std::to_string(std::hash<std::string>{}(alert));
    fs::create_directories(d);
    std::ofstream(d / "p.lua") << blocking_policy(alert);
    PolicyConfig c;
    c.directory = d;
    policy::PolicyEngine engine(c, Limits{});
    return engine.alert({{"kind", "blocked"}, {"user", "mai"}}, {"syslog", "webhook"});
  };
  auto v = verdict(
      "function alert(e) return { severity = 'critical', message = e.user, sinks = { 'syslog' } } "
      "end");
  CHECK(v.raise);
  CHECK(v.severity == "critical");
  CHECK(v.message == "mai");
  CHECK(v.sinks == std::vector<std::string>{"syslog"});
  CHECK(verdict("function alert(e) return {} end").severity == "warning");
  CHECK_FALSE(verdict("function alert(e) return nil end").raise);
  CHECK_FALSE(verdict("").defined);
  auto bad = verdict("function alert(e) return { severity = 'loud' } end");
  REQUIRE(bad.stop);
  CHECK_FALSE(bad.raise);
  CHECK_THAT(bad.stop->reason, Catch::Contains("'severity' must be one of"));
  CHECK_THAT(verdict("function alert(e) return { sinks = { 'pager' } } end").stop->reason,
             Catch::Contains("\"pager\", which is not a sink"));
  CHECK_THAT(verdict("function alert(e) return { colour = 'red' } end").stop->reason,
             Catch::Contains("unknown field 'colour'"));
  CHECK_THAT(verdict("function alert(e) return warden.deny('no') end").stop->reason,
             Catch::Contains("warden.deny has no meaning here"));
}

TEST_CASE("a run that reaches its limits raises a resource_violation alert") {
  test::TempDir sockets;
  SyslogSocket log(sockets.path() / "log.sock");
  Fixture f("  syslog: {enabled: true, socket: " + (sockets.path() / "log.sock").string() + "}\n",
            R"lua(
function classify(assessment, request) return { level = "LOW" } end
function trust(decision, request) return "trusted" end
function limits(trust, assessment, system)
  return { backend = "native", memory = "256MiB", wall_time = "1s", cpu_time = "1s" }
end
function may_override(decision, request) return false end
)lua");
  ExecutionResult r;
  {
    auto host = f.host();
    ExecutionRequest req;
    req.code = "while True:\n    pass\n";
    req.user = "mai";
    r = host->assess_and_execute(req);
  }
  REQUIRE(r.run);
  auto alerts = f.records("alert");
  REQUIRE(alerts.size() == 1);
  const auto& event = alerts[0].data["event"];
  CHECK(event["kind"] == "resource_violation");
  CHECK(event["request_id"] == r.request_id);
  CHECK(event["backend"] == "native");
  CHECK_FALSE(event["violations"].empty());
  CHECK(alerts[0].data["decided_by"] == "default");  // this policy has no alert()
  CHECK_THAT(log.next(1s), Catch::Contains("warden resource violation by mai: the run reached"));
}

TEST_CASE("audit damage is alerted: once at status, and when the log does not open") {
  test::TempDir sockets;
  SyslogSocket log(sockets.path() / "log.sock");
  Fixture f("  syslog: {enabled: true, socket: " + (sockets.path() / "log.sock").string() + "}\n");
  {
    auto host = f.host();
    CHECK(host->get_security_status()["audit_integrity"]["valid"] == true);
    fs::path segment = f.dir.path() / "audit/seg-00000001.wal";
    std::string bytes = test::read_file(segment);
    bytes[bytes.size() / 2] ^= 0x20;
    std::ofstream(segment, std::ios::binary | std::ios::trunc) << bytes;
    CHECK(host->get_security_status()["audit_integrity"]["valid"] == false);
    std::string message = log.next(10s);
    CHECK_THAT(message, Catch::StartsWith("<34>"));  // auth (4) * 8 + critical (2)
    CHECK_THAT(message, Catch::Contains("warden audit damage: "));
    CHECK_THAT(message, Catch::Contains("\"where\":\"status\""));
    CHECK(host->get_security_status()["audit_integrity"]["valid"] == false);
    CHECK(alert_counts_after(*host, "delivered", 1)["events"] == 1);  // the same damage, once
  }
  CHECK(log.next(200ms).empty());
  CHECK_THROWS_AS(f.host(), Error);
  std::string message = log.next(10s);
  CHECK_THAT(message, Catch::Contains("warden audit damage: "));
  CHECK_THAT(message, Catch::Contains("\"where\":\"open\""));
}

TEST_CASE(
    "a webhook that hangs holds up neither syslog nor the requests, and its queue is bounded") {
  int port = free_port();
  Receiver silent(port, false);
  test::TempDir sockets;
  SyslogSocket log(sockets.path() / "log.sock");
  Fixture f(webhook(port, ", retries: 0, timeout: 30s") + "  max_queued: 2\n" +
            "  flush_timeout: 300ms\n  syslog: {enabled: true, socket: " +
            (sockets.path() / "log.sock").string() + "}\n");
  auto host = f.host();
  auto started = Clock::now();
  REQUIRE(host->assess_and_execute(blocked_request()).decision == Outcome::kBlocked);
  for (auto until = Clock::now() + 10s; Clock::now() < until; std::this_thread::sleep_for(10ms))
    if (alert_counts_after(*host, "alerts", 1)["queued"] == 0) break;  // the attempt is under way
  // Every alert reaches syslog while the first webhook attempt waits for an
  // answer. (Each is awaited before the next request: the queues hold two,
  // and on a loaded machine syslog's thread may not run between requests.)
  CHECK_FALSE(log.next(5s).empty());
  for (int i = 0; i < 4; ++i) {
    REQUIRE(host->assess_and_execute(blocked_request()).decision == Outcome::kBlocked);
    CHECK_FALSE(log.next(5s).empty());
  }
  CHECK(Clock::now() - started < 10s);  // no request waited for the 30 s attempt
  auto counts = alert_counts_after(*host, "alerts", 5);
  CHECK(counts["alerts"] == 5);
  CHECK(counts["dropped"] == 2);  // one webhook attempt under way, two waiting, two dropped
  CHECK(counts["queued"] == 2);
  // Closing waits flush_timeout (300 ms), not the attempt's 30 s; the margin
  // is for a loaded machine's own shutdown work (checkpoint, fsync).
  started = Clock::now();
  host.reset();
  CHECK(Clock::now() - started < 10s);
  CHECK(f.records("alert").size() == 5);
  CHECK(f.records("alert_failure").size() == 3);  // the one under way and the two waiting
}

TEST_CASE("a changed policy that does not load raises a policy_failure alert") {
  test::TempDir sockets;
  SyslogSocket log(sockets.path() / "log.sock");
  Fixture f("  syslog: {enabled: true, socket: " + (sockets.path() / "log.sock").string() + "}\n",
            blocking_policy(""));
  std::string config = test::read_file(f.config);
  config.replace(config.find("hot_reload: false"), 17, "hot_reload: true");
  f.dir.write("warden.yaml", config);
  auto host = f.host();
  f.dir.write("policy/policy.lua", "function classify(");
  std::this_thread::sleep_for(600ms);  // past the half second between checks
  CHECK(host->assess_and_execute(blocked_request()).decision == Outcome::kBlocked);  // the old one
  std::string first = log.next(10s), second = log.next(10s);
  std::string reload = first.find("policy failure") != std::string::npos ? first : second;
  CHECK_THAT(reload, Catch::StartsWith("<35>"));  // auth (4) * 8 + error (3)
  CHECK_THAT(reload, Catch::Contains("\"function\":\"\""));
  CHECK_THAT(reload, Catch::Contains((f.dir.path() / "policy").string()));
}

TEST_CASE("an https webhook is delivered to a receiver whose certificate chains to ca_file") {
  test::TempDir keys;
  fs::path cert = keys.path() / "cert.pem", key = keys.path() / "key.pem";
  auto made = test::run_process({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key.string(),
                                 "-out", cert.string(), "-days", "1", "-subj", "/CN=127.0.0.1",
                                 "-addext", "subjectAltName=IP:127.0.0.1"});
  REQUIRE(made.exit_code == 0);
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> tls(SSL_CTX_new(TLS_server_method()),
                                                        SSL_CTX_free);
  REQUIRE(SSL_CTX_use_certificate_file(tls.get(), cert.c_str(), SSL_FILETYPE_PEM) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey_file(tls.get(), key.c_str(), SSL_FILETYPE_PEM) == 1);
  int port = free_port();
  Receiver receiver(port, true, tls.get());
  std::string url = "  webhook: {url: 'https://127.0.0.1:" + std::to_string(port) + "/hook'";

  SECTION("trusted through ca_file") {
    Fixture f(url + ", ca_file: " + cert.string() + "}\n");
    auto host = f.host();
    auto r = host->assess_and_execute(blocked_request());
    auto bodies = receiver.bodies(1);
    REQUIRE(bodies.size() == 1);
    CHECK(bodies[0]["event"]["request_id"] == r.request_id);
    host.reset();
    CHECK(f.records("alert_failure").empty());
  }
  SECTION("not trusted by the system's store: refused, and recorded") {
    Fixture f(url + ", retries: 0}\n");
    {
      auto host = f.host();
      host->assess_and_execute(blocked_request());
      CHECK(alert_counts_after(*host, "failed", 1)["failed"] == 1);
    }
    CHECK(receiver.bodies(1, 100ms).empty());
    auto failures = f.records("alert_failure");
    REQUIRE(failures.size() == 1);
    CHECK_THAT(failures[0].data["error"].get<std::string>(),
               Catch::Contains("cannot make the TLS handshake"));
  }
}
