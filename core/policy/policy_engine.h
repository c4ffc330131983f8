// The policy layer: user-written Lua decides the risk level, the trust level,
// the limits and whether a BLOCKED decision may be overridden. Every answer is
// validated; limits are clamped to the configured ceilings. A policy that
// fails (syntax error, runtime error, budget or memory overrun, invalid
// result) makes the decision fail closed, with a reason naming the script,
// line and function. docs/policies.md documents every input and output.
//
// Thread safety: all methods may be called from many threads at once; each
// call runs on a Lua state of its own (pooled).
#pragma once

#include <warden/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"
#include "policy/lua_sandbox.h"

namespace warden::policy {

using Notes = std::vector<std::pair<std::string, std::string>>;  // (topic, text) from note()

struct Classification {
  RiskLevel level = RiskLevel::kBlocked;
  double score = 0;
  std::vector<std::string> reasons;
  bool policy_failed = false;  // the level is policies.on_error because the policy failed
  Notes notes;
};

struct TrustDecision {
  TrustLevel trust = TrustLevel::kUntrusted;
  std::string failure;  // set when the policy failed (trust is then untrusted)
  Notes notes;
};

struct LimitsDecision {
  std::string backend;
  Limits limits;
  NetworkMode network = NetworkMode::kNone;
  std::vector<std::string> clamped;  // "memory: 8 GiB clamped to the ceiling of 2 GiB"
  Notes notes;
};

struct OverrideVerdict {
  bool allowed = false;
  std::string reason;
  Notes notes;
};

// Called with ("policy_load" | "policy_reload" | "policy_failure", details).
using PolicyEventSink = std::function<void(const std::string&, const nlohmann::json&)>;

class PolicyEngine;

// One request's policy calls on one Lua state and one version of the policy
// (a reload in the middle of a request does not mix versions). The assessment
// becomes a Lua table once, on first use, and every call of the session gets
// that same table: a policy that changes it changes what its later calls of
// this request see, never another request's. The state returns to the
// engine's pool when the session ends; after a failed call the session goes
// on with a fresh one.
//
// Not thread-safe: one session per request on one thread. The assessment and
// the engine must outlive the session.
class PolicySession {
 public:
  PolicySession(PolicySession&&) noexcept;
  PolicySession(const PolicySession&) = delete;
  PolicySession& operator=(const PolicySession&) = delete;
  PolicySession& operator=(PolicySession&&) = delete;
  ~PolicySession();

  Classification classify();
  TrustDecision trust(const Classification& decision, const nlohmann::json& request);
  // Throws PolicyFailure when the policy fails or answers nonsense: no run
  // without limits that were decided.
  LimitsDecision limits(TrustLevel trust, const nlohmann::json& system,
                        const std::vector<std::string>& backends);
  OverrideVerdict may_override(const Classification& decision, const nlohmann::json& request);

 private:
  friend class PolicyEngine;
  struct Evaluator;
  PolicySession(PolicyEngine& engine, const nlohmann::json& assessment);
  LuaSandbox& sandbox();
  LuaSandbox::Arg assessment_arg();
  nlohmann::json call(const std::string& function, LuaSandbox::Args args, Notes& notes);

  PolicyEngine* engine_;
  const nlohmann::json* assessment_;
  std::unique_ptr<Evaluator> evaluator_;
  int assessment_ref_ = LUA_NOREF;
};

class PolicyEngine {
 public:
  // Loads the policy folder. Throws Error(kConfig) with file:line when it does
  // not load or lacks one of the four functions.
  PolicyEngine(const PolicyConfig& config, const Limits& ceilings);
  ~PolicyEngine();

  void set_event_sink(PolicyEventSink sink);

  // The policy calls of one request (the fast way: see PolicySession).
  PolicySession session(const nlohmann::json& assessment);
  // Single calls, each in a session of its own.
  Classification classify(const nlohmann::json& assessment);
  TrustDecision trust(const Classification& decision, const nlohmann::json& request);
  LimitsDecision limits(TrustLevel trust, const nlohmann::json& assessment,
                        const nlohmann::json& system, const std::vector<std::string>& backends);
  OverrideVerdict may_override(const Classification& decision, const nlohmann::json& request);

  // Validates the folder, then makes it the policy for every later call.
  // Throws Error(kConfig) and keeps the current policy when it fails.
  void replace(const std::filesystem::path& directory);
  std::filesystem::path directory() const;

  // The decision's JSON as policies receive it.
  static nlohmann::json decision_json(const Classification& c);

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

// Reads the folder's policy files (every *.lua that is not *_test.lua), in
// name order, and checks that they load. Throws Error(kConfig).
std::vector<std::pair<std::string, std::string>> read_policy_files(
    const std::filesystem::path& dir);

}  // namespace warden::policy
