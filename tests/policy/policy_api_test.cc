// Issue 15: what policies see and how they answer. classify sees the request;
// every function can deny with a reason of its own, which the host shows as
// blocked or refused with that reason (not as a failed policy) and audits; a
// policy folder shares code through a require() that stays inside it.
#include <unistd.h>
#include <warden/host.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "audit/audit_reader.h"
#include "policy/policy_engine.h"
#include "policy_fixture.h"
#include "support/process.h"

using namespace warden;
using namespace warden::policy;
using namespace warden::policy::test_support;
namespace fs = std::filesystem;

namespace {

// A policy whose four functions check that they all receive the same request
// (built by PolicyEngine::request_input) and deny when it says so.
const char* kRequestAware = R"lua(
local function check(request, where)
  assert(request.user == "alice", where .. ": user")
  assert(request.metadata.ticket == "T-7", where .. ": metadata")
  assert(request.confirmed == true, where .. ": confirmed")
  assert(request.backend == "native", where .. ": backend")
  assert(request.override.explanation == "reviewed", where .. ": override")
  assert(#request.files == 1 and request.files[1].path == "data/in.csv" and
         request.files[1].size == 3, where .. ": files")
  if request.metadata.deny == where then return warden.deny(where .. " says no") end
  if request.metadata.raise == where then error(warden.deny(where .. " raises no")) end
end
function classify(assessment, request)
  local denial = check(request, "classify")
  if denial then return denial end
  return { level = request.metadata.level or "LOW", reasons = { "for " .. request.user } }
end
function trust(decision, request) return check(request, "trust") or "standard" end
function limits(trust, assessment, system, request)
  return check(request, "limits") or { backend = "native", memory = "64MiB" }
end
function may_override(decision, request) return check(request, "may_override") or true end
)lua";

nlohmann::json request_with(nlohmann::json metadata) {
  ExecutionRequest r;
  r.user = "alice";
  r.confirmed = true;
  r.backend = "native";
  r.override_blocked = true;
  r.override_explanation = "reviewed";
  r.files = {{"data/in.csv", "a,b", ""}};
  metadata["ticket"] = "T-7";
  r.metadata = std::move(metadata);
  return PolicyEngine::request_input(r);
}

}  // namespace

TEST_CASE("every function receives the same request, classify included") {
  test::TempDir dir;
  dir.write("policy.lua", kRequestAware);
  PolicyEngine engine(config_for(dir.path()), Limits{});
  auto assessment = sample_assessment({});
  nlohmann::json request = request_with({{"level", "BLOCKED"}});
  PolicySession session = engine.session(assessment, request);
  Classification c = session.classify();
  CHECK_FALSE(c.stop);
  CHECK(c.level == RiskLevel::kBlocked);
  CHECK(c.reasons == std::vector<std::string>{"for alice"});
  CHECK_FALSE(session.may_override(c).stop);
  TrustDecision t = session.trust(c);
  CHECK_FALSE(t.stop);
  CHECK(t.trust == TrustLevel::kStandard);
  LimitsDecision l = session.limits(t.trust, {}, {"native"});
  CHECK_FALSE(l.stop);
  CHECK(l.limits.memory_bytes == 64ull << 20);
}

TEST_CASE("any function can deny with a reason, returned or raised") {
  test::TempDir dir;
  dir.write("policy.lua", kRequestAware);
  PolicyEngine engine(config_for(dir.path()), Limits{});
  auto assessment = sample_assessment({});
  for (const char* how : {"deny", "raise"}) {
    INFO(how);
    std::string said = std::string(how) == "deny" ? " says no" : " raises no";
    {
      nlohmann::json request = request_with({{how, "classify"}});
      Classification c = engine.classify(assessment, request);
      REQUIRE(c.stop);
      CHECK(c.denied());
      CHECK_FALSE(c.policy_failed());
      CHECK(c.level == RiskLevel::kBlocked);
      CHECK(c.stop->reason == "classify" + said);
      CHECK(c.reasons ==
            std::vector<std::string>{"denied by the policy (classify): classify" + said});
    }
    {
      nlohmann::json request = request_with({{how, "trust"}});
      TrustDecision t = engine.trust(Classification{}, request);
      REQUIRE(t.denied());
      CHECK(t.stop->reason == "trust" + said);
    }
    {
      nlohmann::json request = request_with({{how, "limits"}});
      LimitsDecision l = engine.limits(TrustLevel::kStandard, assessment, request, {}, {"native"});
      REQUIRE(l.stop);
      CHECK(l.stop->denied());
      CHECK(l.stop->describe() == "denied by the policy (limits): limits" + said);
    }
    {
      nlohmann::json request = request_with({{how, "may_override"}});
      OverrideVerdict v = engine.may_override(Classification{}, request);
      CHECK_FALSE(v.allowed);
      REQUIRE(v.stop);
      CHECK(v.stop->denied());
      CHECK(v.reason == "may_override" + said);
    }
  }
}

TEST_CASE("a denial is not a failure, and a real error is not a denial") {
  test::TempDir dir;
  fs::path file = dir.write("policy.lua", R"lua(
function classify(assessment, request)
  if request.user == "bad-reason" then return warden.deny(42) end
  if request.user == "empty" then return warden.deny("") end
  if request.user == "broken" then return nil .. "x" end
  if request.user == "forged" then return { reason = "not really a denial" } end
  return { level = "LOW" }
end
)lua" + std::string(kRest));
  PolicyEngine engine(config_for(dir.path()), Limits{});
  std::vector<std::string> failures;
  engine.set_event_sink([&](const std::string& kind, const nlohmann::json& details) {
    if (kind == "policy_failure") failures.push_back(details["error"]);
  });
  for (const char* user : {"bad-reason", "empty"}) {
    Classification c = engine.classify(sample_assessment({}), request_for(user));
    CHECK(c.policy_failed());
    CHECK_THAT(c.reasons[0], Catch::Contains(file.string() + ":"));
    CHECK_THAT(c.reasons[0], Catch::Contains("warden.deny: the reason must be a non-empty string"));
  }
  Classification broken = engine.classify(sample_assessment({}), request_for("broken"));
  CHECK(broken.policy_failed());
  CHECK_THAT(broken.reasons[0], Catch::StartsWith("policy failed, failing closed: in function "
                                                  "'classify': " +
                                                  file.string() + ":5:"));
  Classification forged = engine.classify(sample_assessment({}), request_for("forged"));
  CHECK(forged.policy_failed());  // a table with a reason is not a denial: no level
  CHECK(failures.size() == 4);
}

TEST_CASE("a denial reaches the caller as blocked or refused with its reason, and is audited") {
  test::TempDir dir;
  dir.write("policies/policy.lua", kRequestAware);
  fs::path config = dir.write(
      "warden.yaml", "log_level: warn\nplugins: {directories: [" + std::string(WARDEN_PLUGIN_DIR) +
                         "]}\nassessors: {enabled: [heuristics]}\nbackends: {enabled: [native]}\n"
                         "policies: {directory: " +
                         (dir.path() / "policies").string() +
                         "}\naudit:\n  directory: " + (dir.path() / "audit").string() +
                         "\n  signing_key: " + (dir.path() / "audit.key").string() + "\n");
  auto host = Host::open(config.string());
  auto request = [](nlohmann::json metadata) {
    ExecutionRequest r;
    r.code = "print('hello')\n";
    r.user = "alice";
    r.confirmed = true;
    r.backend = "native";
    r.override_blocked = true;
    r.override_explanation = "reviewed";
    r.files = {{"data/in.csv", "a,b", ""}};
    metadata["ticket"] = "T-7";
    r.metadata = std::move(metadata);
    return r;
  };
  struct Case {
    const char* function;
    Outcome outcome;
    std::string reason;
  };
  for (const Case& k :
       {Case{"classify", Outcome::kBlocked, "denied by the policy (classify): classify says no"},
        Case{"trust", Outcome::kRefused, "denied by the policy (trust): trust says no"},
        Case{"limits", Outcome::kRefused, "denied by the policy (limits): limits says no"}}) {
    INFO(k.function);
    ExecutionResult r = host->assess_and_execute(request({{"deny", k.function}}));
    CHECK(r.decision == k.outcome);
    CHECK(r.reason == k.reason);
    CHECK_FALSE(r.run);
  }
  // An overridable BLOCKED decision whose override the policy denies.
  ExecutionResult gate =
      host->assess_and_execute(request({{"level", "BLOCKED"}, {"deny", "may_override"}}));
  CHECK(gate.decision == Outcome::kBlocked);
  CHECK(gate.reason == "override refused by the policy: may_override says no");

  std::vector<std::string> audited;
  for (const auto& rec : audit::scan_log(dir.path() / "audit", "warden.local/audit").records)
    if (rec.kind == "decision") audited.push_back(rec.data.value("reason", ""));
  CHECK(audited ==
        std::vector<std::string>{"denied by the policy (classify): classify says no",
                                 "denied by the policy (trust): trust says no",
                                 "denied by the policy (limits): limits says no",
                                 "override refused by the policy: may_override says no"});
}

TEST_CASE("a policy stopped by the watchdog is audited and the host goes on") {
  test::TempDir dir;
  dir.write("policies/policy.lua", R"lua(
function classify(assessment, request)
  if request.metadata.attack then table.move({}, 1, math.maxinteger // 2, 1) end
  return { level = "BLOCKED", reasons = { "decided normally" } }
end
)lua" + std::string(kRest));
  fs::path config = dir.write(
      "warden.yaml",
      "log_level: error\nplugins: {directories: [" + std::string(WARDEN_PLUGIN_DIR) +
          "]}\nassessors: {enabled: [heuristics]}\nbackends: {enabled: [native]}\n"
          "policies: {directory: " +
          (dir.path() / "policies").string() +
          ", budget: {wall_time: 200ms}}\naudit:\n  directory: " + (dir.path() / "audit").string() +
          "\n  signing_key: " + (dir.path() / "audit.key").string() + "\n");
  auto host = Host::open(config.string());
  ExecutionRequest attack;
  attack.code = "print('hello')\n";
  attack.metadata = {{"attack", true}};
  ExecutionResult stopped = host->assess_and_execute(attack);
  CHECK(stopped.decision == Outcome::kBlocked);
  CHECK_THAT(stopped.reason, Catch::Contains("policy failed, failing closed: in function "
                                             "'classify'"));
  CHECK_THAT(stopped.reason, Catch::Contains("exceeded the wall-clock budget of 200 ms"));
  ExecutionRequest plain;
  plain.code = "print('hello')\n";
  ExecutionResult next = host->assess_and_execute(plain);
  CHECK(next.decision == Outcome::kBlocked);
  CHECK_THAT(next.reason, Catch::Contains("decided normally"));

  bool failure_audited = false;
  for (const auto& rec : audit::scan_log(dir.path() / "audit", "warden.local/audit").records)
    if (rec.kind == "policy_failure")
      failure_audited =
          rec.data.value("function", "") == "classify" &&
          rec.data.value("error", "").find("exceeded the wall-clock budget of 200 ms") !=
              std::string::npos;
  CHECK(failure_audited);
}

TEST_CASE("require shares code inside the policy folder and nothing else") {
  test::TempDir dir;
  fs::create_directories(dir.path() / "lib");
  dir.write("lib/scores.lua", R"lua(
local M = {}
M.WEIGHTS = { low = 1, high = 3 }
function M.score(findings)
  local s = 0
  for _, f in ipairs(findings) do s = s + (M.WEIGHTS[f.severity] or 0) end
  return s
end
return M
)lua");
  dir.write("a_risk.lua", R"lua(
local scores = require("lib.scores")
function classify(assessment, request)
  return { level = scores.score(assessment.findings) >= 4 and "HIGH" or "LOW",
           score = scores.score(assessment.findings) }
end
)lua");
  dir.write("b_rest.lua",
            std::string("SAME_MODULE = require('lib.scores') == require('lib.scores')\n") +
                "assert(SAME_MODULE and require('a_risk') == true)\n" + kRest);
  PolicyEngine engine(config_for(dir.path()), Limits{});
  Classification c = engine.classify(sample_assessment({"high", "low"}), kRequest);
  CHECK_FALSE(c.stop);
  CHECK(c.level == RiskLevel::kHigh);
  CHECK(c.score == 4);

  SECTION("names that leave the folder, C modules and unknown modules are refused") {
    for (const char* name : {"../outside", "/etc/passwd", "lib/scores", "lib..scores", ".lib", "os",
                             "io", "lib.missing", "lib.scores.lua"}) {
      INFO(name);
      test::TempDir bad;
      fs::path file = bad.write("policy.lua",
                                "require('" + std::string(name) + "')\n" +
                                    "function classify(a) return { level = 'LOW' } end\n" + kRest);
      CHECK_THROWS_WITH(PolicyEngine(config_for(bad.path()), Limits{}),
                        Catch::Contains(file.string() + ":1:") && Catch::Contains("require"));
    }
  }
  SECTION("a module that is a link to a file outside the folder is refused") {
    test::TempDir outside;
    fs::path secret = outside.write("secret.lua", "return { leaked = true }\n");
    fs::create_symlink(secret, dir.path() / "lib" / "leak.lua");
    CHECK_THROWS_WITH(PolicyEngine(config_for(dir.path()), Limits{}),
                      Catch::Contains("leads outside the policy folder"));
  }
  SECTION("a compiled (bytecode) module is refused") {
    dir.write("lib/compiled.lua", std::string("\x1bLua\x54") + "garbage");
    dir.write("c_use.lua", "require('lib.compiled')\n");
    CHECK_THROWS_WITH(PolicyEngine(config_for(dir.path()), Limits{}),
                      Catch::Contains("binary chunk"));
  }
  SECTION("a cycle is named") {
    dir.write("lib/ping.lua", "return require('lib.pong')\n");
    dir.write("lib/pong.lua", "return require('lib.ping')\n");
    dir.write("c_use.lua", "require('lib.ping')\n");
    CHECK_THROWS_WITH(PolicyEngine(config_for(dir.path()), Limits{}),
                      Catch::Contains("cycle between modules: lib.ping -> lib.pong -> lib.ping") &&
                          Catch::Contains((dir.path() / "lib/pong.lua").string() + ":1:"));
  }
  SECTION("a module not loaded with the policy cannot be loaded by a call") {
    dir.write("lib/late.lua", "return { late = true }\n");
    dir.write("c_late.lua",
              "function classify(a) return { level = require('lib.late') and 'LOW' } end\n");
    PolicyEngine late(config_for(dir.path()), Limits{});
    Classification l = late.classify(sample_assessment({}), kRequest);
    CHECK(l.policy_failed());
    CHECK_THAT(l.reasons[0], Catch::Contains("modules load with the policy"));
  }
  SECTION("a changed module is a new version of the policy") {
    std::vector<nlohmann::json> loads;
    engine.set_event_sink([&](const std::string& kind, const nlohmann::json& details) {
      if (kind != "policy_failure") loads.push_back(details);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    dir.write("lib/scores.lua", "return { score = function() return 0 end }\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    CHECK(engine.classify(sample_assessment({"high", "low"}), kRequest).level == RiskLevel::kLow);
    REQUIRE(loads.size() == 2);
    bool module_listed = false;
    for (const auto& f : loads.back()["files"])
      module_listed = module_listed || f["path"] == (dir.path() / "lib/scores.lua").string();
    CHECK(module_listed);
  }
}
