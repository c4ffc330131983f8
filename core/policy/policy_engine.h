// The policy layer: user-written Lua decides the risk level, the trust level,
// the limits and whether a BLOCKED decision may be overridden. Every answer is
// validated; limits are clamped to the configured ceilings. A policy may deny
// with a reason of its own (warden.deny). A policy that fails (syntax error,
// runtime error, budget or memory overrun, invalid result) makes the decision
// fail closed, with a reason naming the script, line and function. Both reach
// the caller the same way: PolicyStop in the decision. docs/policies.md
// documents every input and output.
//
// Thread safety: all methods may be called from many threads at once; each
// call runs on a Lua state of its own (pooled).
#pragma once

#include <warden/host.h>
#include <warden/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "policy/lua_sandbox.h"

namespace warden::policy {

using Notes = std::vector<std::pair<std::string, std::string>>;  // (topic, text) from note()

// How a policy call ended when it gave no usable answer: the policy denied
// with a reason of its own (warden.deny), or it failed (error, budget, invalid
// answer), which fails closed. Every decision below carries one when that
// happened; the engine never throws for either.
struct PolicyStop {
  enum class Kind { kDenied, kFailed };
  Kind kind = Kind::kFailed;
  std::string function;  // "classify", "trust", "limits", "may_override" or "alert"
  // The policy's reason (denied), or why it failed: "in function 'f':
  // file:line: message".
  std::string reason;
  bool denied() const { return kind == Kind::kDenied; }
  // For decisions and the audit log: "denied by the policy (trust): <reason>"
  // or "policy failed, failing closed: <why>".
  std::string describe() const;
};

// classify(): a denial is BLOCKED with the policy's reason and cannot be
// overridden; a failure is policies.on_error with the reason why.
struct Classification {
  RiskLevel level = RiskLevel::kBlocked;
  double score = 0;
  std::vector<std::string> reasons;
  std::optional<PolicyStop> stop;
  Notes notes;
  bool policy_failed() const { return stop && !stop->denied(); }
  bool denied() const { return stop && stop->denied(); }
};

// trust(): a denial refuses the run; a failure makes it untrusted.
struct TrustDecision {
  TrustLevel trust = TrustLevel::kUntrusted;
  std::optional<PolicyStop> stop;
  Notes notes;
  bool denied() const { return stop && stop->denied(); }
};

// limits(): no run without limits that were decided, so a denial or a
// failure (stop set) refuses the run.
struct LimitsDecision {
  std::string backend;
  Limits limits;
  NetworkMode network = NetworkMode::kNone;
  std::vector<std::string> clamped;  // "memory: 8 GiB clamped to the ceiling of 2 GiB"
  std::optional<PolicyStop> stop;
  Notes notes;
};

// may_override(): a denial or a failure means no override, with the reason.
struct OverrideVerdict {
  bool allowed = false;
  std::string reason;
  std::optional<PolicyStop> stop;
  Notes notes;
};

// dependencies(packages, trust, request, configured): what a request that
// declares packages may install (docs/dependencies.md). A denial or a failure
// (stop set) refuses the run; a policy that does not define the function
// installs nothing (`defined` false).
struct DependenciesDecision {
  bool defined = true;
  std::vector<std::string> indexes;             // PEP 503 index URLs, at least one
  std::vector<std::string> hosts;               // more host names pip may reach
  std::map<std::string, std::string> packages;  // PEP 503 name -> specifier ("" any)
  std::optional<PolicyStop> stop;
  Notes notes;
};

// Alert severities in RFC 5424 order: the index is the syslog severity.
inline constexpr std::array<const char*, 8> kAlertSeverities = {
    "emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"};

// alert(event): whether a critical event is worth an alert, and which. A
// policy need not define alert(): then `defined` is false and the caller
// applies its default, as it does after a failure (stop set; a warden.deny
// counts as a failure, alert() has nothing to refuse). Both leave `raise`
// false.
struct AlertVerdict {
  bool defined = true;
  bool raise = false;
  std::string severity;                           // one of kAlertSeverities
  std::string message;                            // empty: the caller words it
  std::optional<std::vector<std::string>> sinks;  // absent: every enabled sink
  std::optional<PolicyStop> stop;
  Notes notes;
};

// Called with ("policy_load" | "policy_reload" | "policy_failure", details).
using PolicyEventSink = std::function<void(const std::string&, const nlohmann::json&)>;

class PolicyEngine;

// One request's policy calls on one Lua state and one version of the policy
// (a reload in the middle of a request does not mix versions). The assessment
// and the request become Lua tables once, on first use, and every call of the
// session gets those same tables: a policy that changes them changes what its
// later calls of this request see, never another request's. The state returns
// to the engine's pool when the session ends; after a failed call the session
// goes on with a fresh one.
//
// Not thread-safe: one session per request on one thread. The assessment, the
// request and the engine must outlive the session.
class PolicySession {
 public:
  PolicySession(PolicySession&&) noexcept;
  PolicySession(const PolicySession&) = delete;
  PolicySession& operator=(const PolicySession&) = delete;
  PolicySession& operator=(PolicySession&&) = delete;
  ~PolicySession();

  // classify(assessment, request)
  Classification classify();
  // trust(decision, request)
  TrustDecision trust(const Classification& decision);
  // limits(trust, assessment, system, request)
  LimitsDecision limits(TrustLevel trust, const nlohmann::json& system,
                        const std::vector<std::string>& backends);
  // may_override(decision, request)
  OverrideVerdict may_override(const Classification& decision);
  // dependencies(packages, trust, request, configured): `packages` as
  // deps::to_json gives them, `configured` the dependencies section of
  // warden.yaml ({indexes, hosts, packages}).
  DependenciesDecision dependencies(const nlohmann::json& packages, TrustLevel trust,
                                    const nlohmann::json& configured);
  // alert(event); `sinks` are the names a verdict may give.
  AlertVerdict alert(const nlohmann::json& event, const std::vector<std::string>& sinks);
  // The SHA-256 of the policy version that answered the latest call (the
  // `sha256` of its policy_load/policy_reload record); empty before any call.
  const std::string& policy_sha256() const { return policy_sha256_; }

 private:
  friend class PolicyEngine;
  struct Evaluator;
  PolicySession(PolicyEngine& engine, const nlohmann::json& assessment,
                const nlohmann::json& request);
  LuaSandbox& sandbox();
  // Before `function`, which a policy need not define, is looked for: a
  // state to call it on (a fresh one when the last call failed). False, with
  // `stop` set and the failure reported, when none can be had.
  bool has_state(const char* function, std::optional<PolicyStop>& stop);
  LuaSandbox::Arg pinned(const nlohmann::json& value, int& ref);
  template <typename Read>
  std::optional<PolicyStop> run(const char* function, LuaSandbox::Args args, Notes& notes,
                                Read read);
  void read_limits(const nlohmann::json& r, const std::vector<std::string>& backends,
                   LimitsDecision& d);

  PolicyEngine* engine_;
  const nlohmann::json* assessment_;
  const nlohmann::json* request_;
  std::unique_ptr<Evaluator> evaluator_;
  std::string policy_sha256_;
  int assessment_ref_ = LUA_NOREF;
  int request_ref_ = LUA_NOREF;
};

class PolicyEngine {
 public:
  // Loads the policy folder. Throws Error(kConfig) with file:line when it does
  // not load or lacks one of the four functions.
  PolicyEngine(const PolicyConfig& config, const Limits& ceilings);
  ~PolicyEngine();

  void set_event_sink(PolicyEventSink sink);

  // The policy calls of one request (the fast way: see PolicySession).
  PolicySession session(const nlohmann::json& assessment, const nlohmann::json& request);
  // Single calls, each in a session of its own.
  Classification classify(const nlohmann::json& assessment, const nlohmann::json& request);
  TrustDecision trust(const Classification& decision, const nlohmann::json& request);
  LimitsDecision limits(TrustLevel trust, const nlohmann::json& assessment,
                        const nlohmann::json& request, const nlohmann::json& system,
                        const std::vector<std::string>& backends);
  OverrideVerdict may_override(const Classification& decision, const nlohmann::json& request);
  AlertVerdict alert(const nlohmann::json& event, const std::vector<std::string>& sinks);

  // Validates the folder, then makes it the policy for every later call.
  // Throws Error(kConfig) and keeps the current policy when it fails.
  void replace(const std::filesystem::path& directory);
  std::filesystem::path directory() const;

  // The decision's JSON as policies receive it.
  static nlohmann::json decision_json(const Classification& c);
  // The `request` table every policy function receives, built here only
  // (docs/policies.md lists its fields).
  static nlohmann::json request_input(const ExecutionRequest& request);

 private:
  friend class PolicySession;
  using Evaluator = PolicySession::Evaluator;
  struct Sources;
  std::shared_ptr<const Sources> current();
  std::unique_ptr<Evaluator> acquire();
  void release(std::unique_ptr<Evaluator> evaluator);
  void maybe_reload();
  void emit(const std::string& event, const nlohmann::json& details);
  void report_failure(const char* function, const std::string& error);

  PolicyConfig config_;
  Limits ceilings_;
  Budget budget_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Sources> sources_;
  std::vector<std::unique_ptr<Evaluator>> idle_;
  std::chrono::steady_clock::time_point next_reload_check_;
  PolicyEventSink sink_;
};

// A policy folder's Lua files: every *.lua that is not *_test.lua, recursively,
// each a module named by its path ("lib/scores.lua" is "lib.scores"). The
// files directly in the folder are the policy files, loaded in name order;
// the others load only through require().
struct PolicyFiles {
  std::vector<std::string> policy_files;  // module names, in load order
  PolicyModules modules;
};

// Reads a policy folder. Throws Error(kConfig) when it holds no policy file,
// a file that leads outside it, or two files of one module name.
PolicyFiles read_policy_files(const std::filesystem::path& dir);

}  // namespace warden::policy
