// The embedding API: open a warden host from a configuration and send it code.
// This is what Mai's SafetyAPI becomes (docs/embedding.md), for C++ programs;
// the Python module `warden` wraps exactly this class.
//
// Thread safety: every method of Host may be called from many threads at
// once. Failure: methods throw warden::Error (warden/error.h); kInvalidInput
// for a bad request (empty code, code too large, override without an
// explanation, unknown backend, ...), kConfig for a bad configuration or
// policy, kEnvironment when something outside warden is down (e.g. the audit
// log cannot be written: then no code is run). A negative verdict (BLOCKED,
// needs confirmation, a backend refusing a limit) is not an exception: it is
// the `decision` of the result.
#ifndef WARDEN_HOST_H_
#define WARDEN_HOST_H_

#include <warden/error.h>
#include <warden/types.h>

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#if defined(__GNUC__)
#define WARDEN_API __attribute__((visibility("default")))
#else
#define WARDEN_API
#endif

namespace warden {

// One request to assess and maybe run code.
struct ExecutionRequest {
  std::string code;
  std::string language = "python";
  std::string file_name = "main.py";  // shown in findings and the audit log
  std::string stdin_data;
  // The program's arguments (sys.argv[1:]), never seen by a shell. Bounded:
  // at most 256 of them, 64 KiB in all, valid UTF-8 without NUL bytes.
  std::vector<std::string> args;
  // Files placed read-only in the program's working folder before it starts
  // (`sha256` is ignored: the host computes it for the audit log). At most 64,
  // requests.max_input_size in all, each path relative (run_file_path_problem
  // in types.h), none a folder of another. They count against the run's
  // scratch space (tmpfs limit).
  std::vector<RunFile> files;
  std::string user;  // who asks; policies may trust by identity
  // True when `user` is established, not merely claimed: the service took it
  // from the socket's peer credentials (or from a delegate it trusts), or the
  // CLI from its own uid. A name typed with --as, or set by an embedder, is
  // false unless the embedder vouches for it. Policies see
  // request.user_verified; trust by identity should require it.
  bool user_verified = false;
  bool confirmed = false;  // the user confirmed running HIGH-risk code
  // An override of a BLOCKED decision: run anyway, always with untrusted
  // limits, if the policy's may_override allows it. The explanation is
  // required (at most requests.max_explanation_chars) and audited.
  bool override_blocked = false;
  std::string override_explanation;
  std::optional<std::string> backend;  // ask for a backend; the policy decides otherwise
  // Limits for this run instead of the policy's, by the names of warden.yaml's
  // `ceilings` ("memory": "512MiB", "wall_time": "5s", "pids": "32", ...). A
  // value above its ceiling is bad input. An overridden BLOCKED run ignores
  // them: it always gets the policy's untrusted limits.
  std::map<std::string, std::string> limits;
  nlohmann::json metadata = nlohmann::json::object();  // passed to policies and the audit log
  // Packages the program needs, as PEP 508 requirements by name ("requests>=2");
  // added to those of its PEP 723 `# /// script` block. The policy's
  // dependencies() decides what may be installed and from where; the set is
  // installed in a sandboxed install phase (or taken from the cache) and the
  // program runs with it read-only, without network (docs/dependencies.md).
  std::vector<std::string> dependencies;
  // Polled (from the calling thread) while the program runs; once it returns
  // true the backend ends the run and the result is kRefused with the reason,
  // its run_result and resource_violation records written ("cancelled").
  // `warden run` sets it on SIGTERM and SIGINT. Empty: never cancelled.
  std::function<bool()> cancelled;
  // Told each piece of the program's output as the backend hands it over
  // (under the output cap): the stream ("stdout" or "stderr") and the bytes,
  // which need not end on a line or a UTF-8 character. Called from the
  // thread that runs the backend (the calling thread, for the shipped ones),
  // never twice at once; the result's stdout and stderr still hold all of it. warden serve streams
  // a run's output with it. Empty: none.
  OutputCallback on_output;
};

// What happened to a request.
enum class Outcome {
  kRan,                // the code ran (see run)
  kNeedsConfirmation,  // HIGH: run again with confirmed = true
  kBlocked,            // BLOCKED and not (validly) overridden
  kRefused,            // could not be run safely: backend refused a limit, policy failed, ...
};

WARDEN_API const char* to_string(Outcome outcome);  // "ran", "needs_confirmation", ...

struct ExecutionResult {
  std::string request_id;
  std::string timestamp;  // UTC, RFC 3339
  Outcome decision = Outcome::kRefused;
  std::string reason;  // why it did not run, or notes on why it ran
  RiskLevel level = RiskLevel::kBlocked;
  double score = 0;
  std::vector<std::string> reasons;   // from the policy's classify()
  std::vector<std::string> warnings;  // MEDIUM and above: what to look at
  TrustLevel trust = TrustLevel::kUntrusted;
  bool override_used = false;
  std::vector<Finding> findings;
  nlohmann::json assessment;  // the whole assessment (assessors, metrics, findings)
  std::string backend;        // chosen backend, empty when nothing ran
  Limits limits;              // the enforced limits
  NetworkMode network = NetworkMode::kNone;
  std::optional<RunResult> run;  // set when decision == kRan
  // For a request that declares packages: {"declared", "key", "set", "cached",
  // "packages": [{name, version, sha256, url}], "hooks", "install_ms",
  // "egress": [...]} once installed, {"declared", "refused"} when the install
  // was refused; null otherwise.
  nlohmann::json dependencies;
  std::vector<std::string> audit_ids;  // ids of the audit records this request wrote
  // Wall-clock time of the whole call, and of that the backend's run; the
  // difference is warden's own overhead (assess, policy, audit).
  double total_ms = 0;
  double sandbox_ms = 0;

  // The `warden run --json` shape (docs/cli.md).
  WARDEN_API nlohmann::json to_json() const;
};

// A new policy to apply with configure_policies(): a folder of Lua policy
// files, or the files' contents by name.
struct PolicyUpdate {
  std::string directory;                                   // a folder to load, or
  std::vector<std::pair<std::string, std::string>> files;  // (file name, Lua source)
};

class WARDEN_API Host {
 public:
  // Opens a host from a configuration file; an empty path resolves like the
  // CLI: $WARDEN_CONFIG, then the installed warden.yaml. Loads plugins and
  // policies and opens the audit log (which writes a system_start record).
  // A damaged log is refused (Error kRefused) after an audit_damage alert,
  // when an alert sink is enabled (docs/alerts.md). The destructor waits for
  // queued alerts at most alerts.flush_timeout.
  static std::unique_ptr<Host> open(const std::string& config_path = "");
  virtual ~Host();

  // Assess, classify, gate, trust, limit, execute, audit. Blocks until the
  // run finishes. Every branch writes its audit records, refusals included.
  virtual ExecutionResult assess_and_execute(const ExecutionRequest& request) = 0;

  // Assess and classify only: {"level", "score", "reasons", "findings",
  // "metrics", "assessors", "can_execute", "needs_confirmation", "assessed_at"}.
  // `file_name` is what findings and the audit record name the program by.
  // Writes one `assessment` record (the shape a run's has, with assess_only).
  virtual nlohmann::json assess_code_only(const std::string& code,
                                          const std::string& language = "python",
                                          const std::string& file_name = "main.py") = 0;

  // What assess_and_execute would decide for `request`, as a dry run of the
  // same steps: it assesses, and asks the policy to classify, gate, trust and
  // plan the limits, but runs nothing and records nothing. When the gate
  // would stop the request (HIGH unconfirmed, BLOCKED without an override),
  // also what would follow if it were confirmed or overridden. Returns
  // {"policy", "inputs", "classify", "outcome", "reason", "trust"?,
  // "limits"?, "may_override"?, "if_confirmed"|"if_overridden"?,
  // "assessment"}; each policy answer carries the notes it recorded
  // (docs/policies.md). Throws kInvalidInput for a request assess_and_execute
  // would refuse the same way.
  virtual nlohmann::json explain(const ExecutionRequest& request) = 0;

  // The `limit` most recent runs and decisions from the audit log, newest
  // first: {"summary", "recent_executions", "security_assessments",
  // "resource_violations"}. Throws kInvalidInput when limit < 1.
  virtual nlohmann::json get_execution_history(int limit = 10) = 0;

  // {"system_status": "operational"|"degraded", "components": {...},
  //  "system_resources": {...}, "audit_integrity": {"valid", ...}}. With an
  // alert sink enabled, components.alerts counts the alerts (docs/alerts.md),
  // and audit damage found here raises one (once per finding).
  virtual nlohmann::json get_security_status() = 0;

  // Validates the new policy, then applies it atomically for every later
  // request and audits the change. Throws kConfig (with file:line) when it
  // does not load; the old policy stays in force.
  virtual nlohmann::json configure_policies(const PolicyUpdate& update) = 0;

  // Counts by kind and level, blocked attempts, overrides and violations over
  // the last `hours` hours (all time when 0). Throws kInvalidInput when < 0.
  virtual nlohmann::json get_audit_report(int hours = 24) = 0;
};

}  // namespace warden

#endif  // WARDEN_HOST_H_
