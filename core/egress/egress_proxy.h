// The egress proxy of the dependency install phase (issue #19, docs/egress.md):
// an HTTP proxy on a unix socket that lets the sandboxed pip reach the hosts
// and ports the rules name, and nothing else. The sandbox has no network but
// this socket (a forwarder inside relays 127.0.0.1:PORT to it), so the proxy
// is its only way out and its only resolver.
//
// What it accepts, per client connection (one request each, then it closes):
//   - CONNECT host:port (an HTTPS tunnel): the host must be a host name the
//     rules list with that port; IP literals are refused in every spelling
//     the system's parsers accept (127.1, 0x7f.0.0.1, 2130706433, [::1]) even
//     when listed. After "200 Connection established" the proxy reads the TLS
//     ClientHello and requires its server name (SNI) to be the CONNECT host;
//     a ClientHello with encrypted client hello is refused, as its real server
//     name is hidden. Only then does it resolve the host, refuse it when any
//     of its addresses is not public (unless rules.allow_networks covers it),
//     dial those addresses, forward the ClientHello and relay both ways.
//   - An absolute-form plain HTTP request (GET http://host:port/path HTTP/1.1):
//     the same host, port, literal and address checks, and the Host header
//     must name the URL's host and port. The request goes on in origin form
//     with "Connection: close" and without Proxy-* and hop-by-hop headers;
//     the answer is relayed as it comes.
//   Anything else (origin-form requests, https:// URLs, garbage, headers over
//   16 KiB, chunked request bodies) is answered 400. A denial before the
//   tunnel is answered 403 with a text body naming the reason; a denial after
//   "200 Connection established" (the TLS checks, the address checks of a
//   tunnel) just closes the connection.
// Names are looked up only once they are allowed and only after the TLS
// checks, so a denied name never reaches a resolver.
//
// Bounds: at most rules.max_connections client connections at once (further
// ones wait in the listen backlog), 16 KiB of request headers, 32 KiB of
// ClientHello, rules.connect_timeout to dial, rules.idle_timeout without a
// byte in either direction (also while reading headers or the ClientHello).
//
// Threads: the proxy owns one thread running one io_context; every
// connection is served there. decisions() may be called from any thread.
// on_decision is called on the proxy's thread (and from the destructor's
// shutdown of open connections), one call at a time; it must not block for
// long and must outlive the proxy. An exception it throws is logged and
// dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace warden::egress {

struct EgressRules {
  // Host names the proxy may reach, lower-case, each with the ports allowed
  // ("pypi.org" -> {443}). A listed IP literal never matches: literals are
  // refused.
  std::map<std::string, std::set<std::uint16_t>> hosts;
  // Addresses the proxy uses for a host name instead of asking the system
  // resolver ("index.test" -> "127.0.0.1"), like curl --resolve. Config:
  // egress.resolve. The address still goes through the range check.
  std::map<std::string, std::string> resolve;
  // Networks the proxy may dial although they are not public (private,
  // loopback, link-local, unique-local, multicast, unspecified, CGNAT
  // 100.64/10, 0/8, documentation, benchmarking, reserved). Empty by
  // default. CIDR strings ("127.0.0.0/8", "fd00::/8"); a bare address is a
  // single host.
  std::vector<std::string> allow_networks;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::size_t max_connections = 64;
};

// What the proxy did with one client connection (or plain-HTTP request).
struct EgressDecision {
  std::string kind;        // "connect" (HTTPS tunnel) or "http" (absolute-URI request)
  std::string host;        // as the client asked, lower-cased, trailing dot stripped
  std::uint16_t port = 0;  // as the client asked
  std::string sni;         // the ClientHello's server name ("" if none or not TLS)
  std::string address;     // the address dialled ("" if never dialled)
  bool allowed = false;    // the connection went through (the proxy reached the server)
  std::string reason;      // why it was denied or failed; "" when allowed
  // Bytes relayed client -> server (including the ClientHello, or the
  // rewritten request head and body) and server -> client, counted when the
  // connection ends. Zero for denials.
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
};

class EgressProxy {
 public:
  // Creates the unix socket at `socket_path` (mode 0666; its folder is the
  // caller's, and nothing may exist at the path yet), checks the rules
  // (Error kConfig naming a bad network or resolve address) and starts
  // serving on a thread of its own. Throws warden::Error (kEnvironment)
  // naming the path when the socket cannot be made.
  EgressProxy(std::filesystem::path socket_path, EgressRules rules,
              std::function<void(const EgressDecision&)> on_decision);
  // Stops: closes the listener and every connection (recording their
  // decisions), joins the thread and removes the socket file. Returns
  // promptly, except that a system DNS lookup in flight is waited for.
  ~EgressProxy();
  EgressProxy(const EgressProxy&) = delete;
  EgressProxy& operator=(const EgressProxy&) = delete;

  const std::filesystem::path& socket_path() const;
  // The decisions so far, in the order they were made. Thread-safe.
  std::vector<EgressDecision> decisions() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Exposed for tests and for the configuration's checks.
//
// True when `host` (a CONNECT host or URL host, without brackets' removal) is
// an IP address in any spelling inet_aton or inet_pton accepts, bracketed or
// not, or looks like one (a last label that is all digits or 0x-hex).
bool is_ip_literal(const std::string& host);

// The server name of a TLS ClientHello held in `bytes` (TLS records as sent
// on the wire). `status`: kComplete with `sni` ("" if the hello names none),
// kNeedMore when the bytes end inside the hello, kInvalid (with `error`)
// when they are not a ClientHello or the hello is over the bound.
struct ClientHelloInfo {
  enum Status { kComplete, kNeedMore, kInvalid } status = kNeedMore;
  std::string sni;
  std::string error;
};
ClientHelloInfo parse_client_hello(const std::string& bytes);

}  // namespace warden::egress
