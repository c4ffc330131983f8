// The service's HTTP+JSON API (docs/service.md): one warden::Host answers
// requests whose bodies and answers have the shapes of the CLI's --json.
//
//   POST /v1/run            ExecutionRequest (request_to_json) -> `warden run --json`
//   POST /v1/run?stream=true the same, as JSON lines: output events, then the result
//   POST /v1/assess         {code, language?, file_name?, explain?} -> one of `warden assess
//   --json`'s files POST /v1/explain        ExecutionRequest -> `warden assess --explain`'s
//   explanation GET  /v1/status         Host::get_security_status() and {"service": ...} GET
//   /v1/history?limit=N, GET /v1/report?hours=N POST /v1/policy/reload  reloads policies.directory
//   GET  /v1/audit/verify   `warden audit verify --json`
//
// Errors answer {"error": {"kind", "message"}} with 400 (invalid_input), 403
// (refused), 404/405, 409 (another configuration), 413, 422 (config), 503
// (environment) or 500 (internal); `kind` names the warden::ErrorKind.
#pragma once

#include <sys/types.h>
#include <warden/host.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "service/identity.h"

namespace warden::service {

// The headers the service relays each /mcp request to its MCP server with:
// the uid and pid of the client, from the connection's SO_PEERCRED (any the
// client sent are dropped). The MCP server sends them back with its calls.
inline constexpr const char* kPeerUidHeader = "X-Warden-Peer-Uid";
inline constexpr const char* kPeerPidHeader = "X-Warden-Peer-Pid";

// The header a client sends its configuration's fingerprint in. A service of
// another configuration file (another audit folder, policy, limits, ...)
// answers 409 instead of serving it by mistake.
inline constexpr const char* kFingerprintHeader = "X-Warden-Config";

// SHA-256 of the path and content of the file `config` was read from: users
// whose ~ and ${XDG_...} differ share a service by naming the same file.
std::string config_fingerprint(const Config& config);

// An ExecutionRequest as the body of POST /v1/run and /v1/explain, and back.
// `cancelled` does not travel. request_from_json throws
// warden::Error(kInvalidInput) naming the field that is missing, of the wrong
// type or unknown.
nlohmann::json request_to_json(const ExecutionRequest& request);
ExecutionRequest request_from_json(const nlohmann::json& body);

// What POST /v1/assess answers, and `warden assess` in process: the
// assessment of the request's code (Host::assess_code_only) and, when
// `explain`, the policy's explanation of it (Host::explain, without the
// assessment a second time) as "explanation".
nlohmann::json assess_explained(Host& host, const ExecutionRequest& request, bool explain);

// ErrorKind <-> its name in error answers ("invalid_input", ...).
const char* error_kind_name(ErrorKind kind);
ErrorKind error_kind_from_name(std::string_view name);

struct HttpAnswer {
  int status = 200;
  nlohmann::json body;
};

// What one connection asks.
struct ApiCall {
  // For a streamed run (POST /v1/run?stream=true): each piece of the
  // program's output as it arrives, as {"stdout": text} or {"stderr": text}.
  std::function<void(const nlohmann::json& event)> emit;
  std::string_view method;  // "GET", "POST"
  std::string_view target;  // path and query
  const std::string& body;
  std::string_view fingerprint;  // the kFingerprintHeader value, or empty
  PeerCredentials peer;
  // For a call of the service's own MCP server (its child: the peer's pid is
  // the child's, its uid the service's): the client whose /mcp request the
  // service relayed to it, from that request's SO_PEERCRED. The call runs for
  // that client, as if it had connected itself.
  std::optional<PeerCredentials> relayed_for;
  std::function<bool()> cancelled;  // the client went away or the service stops
};

// Routes calls to the host. Thread-safe: the host is, and the API keeps no
// state of its own beyond what the constructor fixes.
class Api {
 public:
  // `host` and `config` must outlive the Api. `service_status` adds the
  // service's own figures to GET /v1/status.
  Api(Host& host, const Config& config, std::function<nlohmann::json()> service_status);

  // Never throws: every failure is an error answer.
  HttpAnswer handle(const ApiCall& call) const;

  // Whether `target` asks for a streamed run: the answer is then a chunked
  // stream of JSON lines, the output events and last {"result": ...} (or
  // {"error": ...}).
  static bool streams(std::string_view method, std::string_view target);

 private:
  nlohmann::json route(const ApiCall& call, std::string_view path, std::string_view query) const;
  // The user a request runs for: the peer's, or the one a delegate names.
  std::string requester(const PeerCredentials& peer, const std::string& named) const;
  // Whether `user` is in service.delegates.
  bool is_delegate(const std::string& user) const;

  Host& host_;
  const Config& config_;
  std::string fingerprint_;
  std::function<nlohmann::json()> service_status_;
};

}  // namespace warden::service
