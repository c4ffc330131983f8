// The Lua policy layer against hostile policies, and the default policy's
// decisions. Every hostile policy must end in a fail-closed decision with a
// reason naming the script, line and function, within its budget.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

#include <warden/error.h>

#include "common/text.h"
#include "policy/policy_engine.h"
#include "policy/system_info.h"
#include "policy_fixture.h"
#include "support/process.h"

using namespace warden;
using namespace warden::policy;
using namespace warden::policy::test_support;
namespace fs = std::filesystem;

namespace {

// A policy whose classify() is `body`; returns the decision and checks it
// failed closed within a bounded time.
Classification hostile(const std::string& body) {
  test::TempDir dir;
  dir.write("policy.lua", "function classify(assessment)\n" + body + "\nend\n" + kRest);
  PolicyEngine engine(config_for(dir.path()), Limits{});
  auto start = std::chrono::steady_clock::now();
  Classification c = engine.classify(sample_assessment({}), kRequest);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  CHECK(c.policy_failed());
  CHECK(c.level == RiskLevel::kBlocked);
  REQUIRE(c.reasons.size() == 1);
  CHECK_THAT(c.reasons[0], Catch::Contains("in function 'classify'"));
  return c;
}

}  // namespace

TEST_CASE("an endless loop is stopped by the instruction budget") {
  auto c = hostile("while true do end");
  CHECK_THAT(c.reasons[0], Catch::Contains("policy.lua:2:"));
  CHECK_THAT(c.reasons[0], Catch::Contains("exceeded the instruction budget of 200000"));
}

TEST_CASE("catching the budget error with pcall does not help") {
  auto c = hostile(
      "while true do\n  pcall(function() while true do end end)\n  xpcall(function() while true do "
      "end end, "
      "function(e) return e end)\nend");
  CHECK_THAT(c.reasons[0], Catch::Contains("instruction budget"));
}

TEST_CASE("string.rep cannot exhaust memory") {
  auto c = hostile("local s = string.rep('x', 1 << 40)\nreturn { level = 'LOW' }");
  CHECK_THAT(c.reasons[0], Catch::Contains("exceeded the memory budget of 8388608 bytes"));
  auto grow = hostile("local t = {}\nwhile true do t[#t + 1] = string.rep('y', 4096) .. #t end");
  CHECK_THAT(grow.reasons[0], Catch::Contains("memory budget"));
}

TEST_CASE("a catastrophic pattern is refused before it runs") {
  auto c = hostile(
      "local s = string.rep('a', 30)\nstring.find(s, string.rep('a?', 30) .. string.rep('a', 30))\n"
      "return { level = 'LOW' }");
  CHECK_THAT(c.reasons[0], Catch::Contains("pattern too costly"));
  CHECK_THAT(c.reasons[0], Catch::Contains("policy.lua:3:"));
}

TEST_CASE("os, io, require, debug and binary chunks are out of reach") {
  for (const char* attempt :
       {"os.execute('id')", "io.open('/etc/passwd')", "require('os')", "debug.getinfo(1)",
        "load(string.dump(function() end))()", "dofile('/etc/passwd')", "string.dump(print)",
        "rawset(_G, 'x', 1)", "collectgarbage('stop')"}) {
    INFO(attempt);
    auto c = hostile(std::string(attempt) + "\nreturn { level = 'LOW' }");
    CHECK_THAT(c.reasons[0], Catch::Contains("policy.lua:2:"));
  }
}

TEST_CASE("a policy file that is a binary chunk is refused at load") {
  test::TempDir dir;
  dir.write("policy.lua", std::string("\x1bLua") + "garbage");
  CHECK_THROWS_WITH(PolicyEngine(config_for(dir.path()), Limits{}),
                    Catch::Contains("binary chunks are not accepted"));
}

TEST_CASE("a policy cannot keep state between calls") {
  SECTION("in a global") {
    auto c = hostile("calls = (calls or 0) + 1\nreturn { level = 'LOW' }");
    CHECK_THAT(c.reasons[0], Catch::Contains("must not keep state between calls"));
  }
  SECTION("in a table it defined") {
    test::TempDir dir;
    dir.write("policy.lua",
              "SEEN = {}\nfunction classify(a)\n  SEEN[#SEEN + 1] = 1\n  return { level = 'LOW' "
              "}\nend\n" +
                  std::string(kRest));
    PolicyEngine engine(config_for(dir.path()), Limits{});
    Classification c = engine.classify(sample_assessment({}), kRequest);
    CHECK(c.policy_failed());
    CHECK_THAT(c.reasons[0], Catch::Contains("policy.lua:3:"));
  }
  SECTION("in a captured local") {
    test::TempDir dir;
    dir.write("policy.lua",
              "local n = 0\nfunction classify(a)\n  n = n + 1\n  return { level = n > 1 and "
              "'BLOCKED' or 'LOW' }\n"
              "end\n" +
                  std::string(kRest));
    PolicyEngine engine(config_for(dir.path()), Limits{});
    Classification first = engine.classify(sample_assessment({}), kRequest);
    CHECK(first.policy_failed());
    CHECK_THAT(first.reasons[0], Catch::Contains("changed the captured variable 'n'"));
    CHECK_THAT(first.reasons[0], Catch::Contains("policy.lua:2"));
  }
}

TEST_CASE("invalid answers fail closed with the function named") {
  auto bad_level = hostile("return { level = 'MAYBE', score = 1 }");
  CHECK_THAT(bad_level.reasons[0], Catch::Contains("unknown risk level 'MAYBE'"));
  auto not_table = hostile("return 42");
  CHECK_THAT(not_table.reasons[0], Catch::Contains("must return a table"));
  auto runtime = hostile("local x = nil\nreturn x.field");
  CHECK_THAT(runtime.reasons[0], Catch::Contains("policy.lua:3: attempt to index a nil value"));
}

TEST_CASE("a syntax error names the file and line at load") {
  test::TempDir dir;
  dir.write("policy.lua", "function classify(a)\n  return {\nend\n");
  try {
    PolicyEngine engine(config_for(dir.path()), Limits{});
    FAIL("expected a configuration error");
  } catch (const warden::Error& e) {
    CHECK(e.kind() == ErrorKind::kConfig);
    CHECK_THAT(e.what(), Catch::Contains((dir.path() / "policy.lua").string() + ":3:"));
  }
}

TEST_CASE("a missing function is a configuration error") {
  test::TempDir dir;
  dir.write("policy.lua", "function classify(a) return { level = 'LOW' } end\n");
  CHECK_THROWS_WITH(PolicyEngine(config_for(dir.path()), Limits{}),
                    Catch::Contains("function 'trust'"));
}

TEST_CASE("limits are validated and clamped to the ceilings") {
  test::TempDir dir;
  auto write = [&](const std::string& limits_body) {
    dir.write("policy.lua",
              "function classify(a) return { level = 'LOW' } end\n"
              "function trust(d, r) return 'trusted' end\n"
              "function may_override(d, r) return false end\n"
              "function limits(t, a, s)\n" +
                  limits_body + "\nend\n");
  };
  Limits ceilings;
  ceilings.memory_bytes = 1ull << 30;
  ceilings.wall_time_ms = 60'000;
  write(
      "return { backend = 'native', memory = '8GiB', wall_time = '10m', cpus = 1, network = 'none' "
      "}");
  PolicyEngine engine(config_for(dir.path()), ceilings);
  LimitsDecision d =
      engine.limits(TrustLevel::kTrusted, sample_assessment({}), kRequest, {}, {"native"});
  CHECK_FALSE(d.stop);
  CHECK(d.limits.memory_bytes == 1ull << 30);
  CHECK(d.limits.wall_time_ms == 60'000);
  CHECK(d.clamped.size() == 2);

  for (const char* body :
       {"return { backend = 'native', memory = -5 }",
        "return { backend = 'native', wall_time = 'soon' }", "return { backend = 'kubernetes' }",
        "return { backend = 'native', network = 'internet' }",
        "return { backend = 'native', network = 'egress' }",  // the install phase's only
        "return { backend = 'native', pids = 0 }", "return { backend = 'native', bogus = 1 }"}) {
    INFO(body);
    write(body);
    PolicyEngine e(config_for(dir.path()), ceilings);
    LimitsDecision refused =
        e.limits(TrustLevel::kTrusted, sample_assessment({}), kRequest, {}, {"native"});
    REQUIRE(refused.stop);
    CHECK_FALSE(refused.stop->denied());
    CHECK_THAT(refused.stop->reason, Catch::Contains("in function 'limits'"));
  }
}

TEST_CASE("dependencies() answers are validated; no function installs nothing") {
  test::TempDir dir;
  auto write = [&](const std::string& body) {
    dir.write("policy.lua",
              "function classify(a) return { level = 'LOW' } end\n"
              "function trust(d, r) return 'trusted' end\n"
              "function may_override(d, r) return false end\n"
              "function limits(t, a, s) return { backend = 'native' } end\n" +
                  body);
  };
  const nlohmann::json packages =
      nlohmann::json::array({{{"name", "Requests"}, {"normalized", "requests"}}});
  const nlohmann::json configured = {{"indexes", {"https://pypi.org/simple"}},
                                     {"hosts", nlohmann::json::array()},
                                     {"packages", {{"requests", ">=2"}}}};
  auto decide = [&] {
    PolicyEngine e(config_for(dir.path()), Limits{});
    return e.session(sample_assessment({}), kRequest)
        .dependencies(packages, TrustLevel::kStandard, configured);
  };

  write("");
  CHECK_FALSE(decide().defined);

  write(
      "function dependencies(p, t, r, c)\n"
      "  return { indexes = c.indexes, hosts = { 'files.pythonhosted.org' },\n"
      "           packages = { Requests = '>= 2', Foo_Bar = '' } }\nend\n");
  DependenciesDecision allowed = decide();
  REQUIRE_FALSE(allowed.stop);
  CHECK(allowed.indexes == std::vector<std::string>{"https://pypi.org/simple"});
  CHECK(allowed.packages ==
        std::map<std::string, std::string>{{"foo-bar", ""}, {"requests", ">=2"}});

  write("function dependencies(p, t, r, c) return warden.deny('not ' .. t .. ' enough') end\n");
  DependenciesDecision denied = decide();
  REQUIRE(denied.stop);
  CHECK(denied.stop->denied());
  CHECK(denied.stop->reason == "not standard enough");

  for (const char* answer :
       {"'yes'", "{ indexes = {} }", "{ indexes = { 'ftp://x/simple' } }",
        "{ indexes = c.indexes, packages = { requests = 'latest' } }",
        "{ indexes = c.indexes, packages = { ['bad name!'] = '' } }",
        "{ indexes = c.indexes, mirrors = {} }", "{ indexes = c.indexes, hosts = 'pypi.org' }"}) {
    INFO(answer);
    write(std::string("function dependencies(p, t, r, c) return ") + answer + " end\n");
    DependenciesDecision failed = decide();
    REQUIRE(failed.stop);
    CHECK_FALSE(failed.stop->denied());
    CHECK_THAT(failed.stop->reason, Catch::Contains("in function 'dependencies'"));
    CHECK(failed.packages.empty());
  }
}

TEST_CASE("the default policy decides the same way every time") {
  PolicyEngine engine(config_for(fs::path(WARDEN_SOURCE_DIR) / "policies/default"), Limits{});
  auto assessment = sample_assessment({"high", "high", "medium"});
  Classification first = engine.classify(assessment, kRequest);
  CHECK(first.level == RiskLevel::kHigh);
  CHECK(first.score == 8);
  for (int i = 0; i < 200; ++i) {
    Classification again = engine.classify(assessment, kRequest);
    CHECK(again.level == first.level);
    CHECK(again.score == first.score);
    CHECK(again.reasons == first.reasons);
  }
}

TEST_CASE("changing the thresholds in Lua changes the decision without a rebuild") {
  test::TempDir dir;
  for (const auto& entry : fs::directory_iterator(fs::path(WARDEN_SOURCE_DIR) / "policies/default"))
    fs::copy_file(entry.path(), dir.path() / entry.path().filename());
  PolicyEngine engine(config_for(dir.path()), Limits{});
  auto assessment = sample_assessment({"high", "medium"});
  CHECK(engine.classify(assessment, kRequest).level == RiskLevel::kMedium);

  std::string risk = test::read_file(dir.path() / "risk.lua");
  risk.replace(risk.find("MEDIUM = 4, HIGH = 7"), 20, "MEDIUM = 2, HIGH = 5");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  dir.write("risk.lua", risk);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // past the reload check interval
  CHECK(engine.classify(assessment, kRequest).level == RiskLevel::kHigh);
}

TEST_CASE("a broken new version leaves the last good policy in force and says so") {
  test::TempDir dir;
  dir.write("policy.lua",
            "function classify(a) return { level = 'MEDIUM' } end\n" + std::string(kRest));
  PolicyEngine engine(config_for(dir.path()), Limits{});
  std::vector<std::string> events;
  engine.set_event_sink(
      [&](const std::string& kind, const nlohmann::json&) { events.push_back(kind); });
  CHECK(engine.classify(sample_assessment({}), kRequest).level == RiskLevel::kMedium);
  dir.write("policy.lua", "function classify(a) return { level = \n" + std::string(kRest));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  Classification c = engine.classify(sample_assessment({}), kRequest);
  CHECK(c.level == RiskLevel::kMedium);
  CHECK_FALSE(c.policy_failed());
  CHECK(std::find(events.begin(), events.end(), "policy_failure") != events.end());
  dir.write("policy.lua",
            "function classify(a) return { level = 'HIGH' } end\n" + std::string(kRest));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(engine.classify(sample_assessment({}), kRequest).level == RiskLevel::kHigh);
  CHECK(std::find(events.begin(), events.end(), "policy_reload") != events.end());
}

TEST_CASE("policy records name each file by the SHA-256 of its text") {
  test::TempDir dir;
  std::string first = "function classify(a) return { level = 'MEDIUM' } end\n" + std::string(kRest);
  dir.write("policy.lua", first);
  PolicyEngine engine(config_for(dir.path()), Limits{});
  std::vector<std::pair<std::string, nlohmann::json>> events;
  engine.set_event_sink([&](const std::string& kind, const nlohmann::json& details) {
    events.emplace_back(kind, details);
  });
  REQUIRE(events.size() == 1);
  CHECK(events[0].first == "policy_load");
  const auto& files = events[0].second.at("files");
  REQUIRE(files.size() == 1);
  CHECK(files[0].at("path") == (dir.path() / "policy.lua").string());
  CHECK(files[0].at("sha256") == sha256_hex(first));

  std::string second = "function classify(a) return { level = 'HIGH' } end\n" + std::string(kRest);
  dir.write("policy.lua", second);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(engine.classify(sample_assessment({}), kRequest).level == RiskLevel::kHigh);
  REQUIRE(events.back().first == "policy_reload");
  CHECK(events.back().second.at("files")[0].at("sha256") == sha256_hex(second));
  CHECK(events.back().second.at("generation") == 2);
}

TEST_CASE("many threads evaluate at once") {
  PolicyEngine engine(config_for(fs::path(WARDEN_SOURCE_DIR) / "policies/default"), Limits{});
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i)
        if (engine.classify(sample_assessment({"critical", "critical"}), kRequest).level !=
            RiskLevel::kBlocked)
          ++wrong;
    });
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
}

TEST_CASE("warden policy test passes on the shipped policies and fails with name and line") {
  auto ok = test::run_process({test::warden_binary(), "--config",
                               std::string(WARDEN_SOURCE_DIR) + "/config/warden.yaml", "policy",
                               "test", std::string(WARDEN_SOURCE_DIR) + "/policies"});
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.out, Catch::Contains(" 0 failed"));
  test::TempDir dir;
  dir.write("policy.lua",
            "function classify(a) return { level = 'LOW' } end\n" + std::string(kRest));
  dir.write("policy_test.lua",
            "function test_good() expect_eq(1, 1) end\n\nfunction test_bad()\n"
            "  expect_eq(classify({}).level, 'HIGH', 'level')\nend\n");
  auto bad = test::run_process({test::warden_binary(), "--config",
                                std::string(WARDEN_SOURCE_DIR) + "/config/warden.yaml", "policy",
                                "test", dir.path().string()});
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.out, Catch::Contains("FAIL " + (dir.path() / "policy_test.lua").string() +
                                      ":4: test_bad: level: expected HIGH, got LOW"));
  CHECK_THAT(bad.out, Catch::Contains("PASS"));
}

TEST_CASE(
    "warden policy explain and assess --explain say which rule decided what, from which inputs") {
  test::TempDir dir;
  auto config = dir.write(
      "w.yaml", "log_level: warn\nplugins: {directories: [" + std::string(WARDEN_PLUGIN_DIR) +
                    "]}\npolicies: {directory: " + std::string(WARDEN_SOURCE_DIR) +
                    "/policies/default}\naudit: {directory: " + (dir.path() / "audit").string() +
                    ", signing_key: " + (dir.path() / "k").string() + "}\n");
  auto program = dir.write("p.py", "import os\nos.system('ls')\n");
  auto e = test::run_process({test::warden_binary(), "--config", config.string(), "policy",
                              "explain", "--json", program.string()});
  REQUIRE(e.exit_code == 0);
  auto j = nlohmann::json::parse(e.out);
  CHECK(j["classify"]["level"] == "MEDIUM");
  CHECK(j["inputs"]["findings"] == 1);
  CHECK(j["trust"]["trust"] == "standard");
  CHECK(j["limits"]["backend"] == "native");
  bool level_note = false, memory_note = false;
  for (const auto& n : j["classify"]["notes"]) level_note = level_note || n["topic"] == "level";
  for (const auto& n : j["limits"]["notes"]) memory_note = memory_note || n["topic"] == "memory";
  CHECK(level_note);
  CHECK(memory_note);
  auto a = test::run_process({test::warden_binary(), "--config", config.string(), "assess",
                              "--explain", program.string()});
  CHECK(a.exit_code == 0);
  CHECK_THAT(a.out, Catch::Contains("level: MEDIUM (score 5.0) by classify()"));
  CHECK_THAT(a.out, Catch::Contains("because (level): score 5 from 1 findings"));
  CHECK_THAT(a.out, Catch::Contains("limits by limits(): backend native"));
}

TEST_CASE("a session's calls share one assessment table; the next request gets a fresh one") {
  test::TempDir dir;
  // classify() scribbles on its input; limits() reports what it sees.
  dir.write("policy.lua", R"lua(
function classify(assessment)
  assessment.metrics.lines = (assessment.metrics.lines or 0) + 1000
  return { level = "LOW" }
end
function trust(decision, request) return "standard" end
function limits(trust, assessment, system)
  return { backend = "native", pids = assessment.metrics.lines }
end
function may_override(decision, request) return false end
)lua");
  Limits ceilings;
  ceilings.pids = 100'000;
  PolicyEngine engine(config_for(dir.path()), ceilings);
  auto assessment = sample_assessment({});  // lines = 10
  for (int request = 0; request < 3; ++request) {
    PolicySession session = engine.session(assessment, kRequest);
    session.classify();
    CHECK(session.limits(TrustLevel::kStandard, {}, {"native"}).limits.pids == 1010);
  }
  CHECK(assessment["metrics"]["lines"] == 10);  // the caller's JSON is never touched
  CHECK(engine.limits(TrustLevel::kStandard, assessment, kRequest, {}, {"native"}).limits.pids ==
        10);
}

TEST_CASE("a session goes on with a fresh state after a failed call") {
  test::TempDir dir;
  dir.write("policy.lua", R"lua(
function classify(assessment) while true do end end
function trust(decision, request) return "standard" end
function limits(trust, assessment, system)
  return { backend = "native", pids = assessment.metrics.lines }
end
function may_override(decision, request) return false end
)lua");
  PolicyEngine engine(config_for(dir.path()), Limits{});
  auto assessment = sample_assessment({});
  PolicySession session = engine.session(assessment, kRequest);
  Classification c = session.classify();
  CHECK(c.policy_failed());
  CHECK_THAT(c.reasons[0], Catch::Contains("instruction budget"));
  CHECK(session.trust(c).trust == TrustLevel::kStandard);
  CHECK(session.limits(TrustLevel::kStandard, {}, {"native"}).limits.pids == 10);
}

TEST_CASE("the system snapshot reads the machine's real figures") {
  nlohmann::json s = system_snapshot();
  auto total = static_cast<std::uint64_t>(sysconf(_SC_PHYS_PAGES)) *
               static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  CHECK(s["total_memory_bytes"].get<std::uint64_t>() == total);
  CHECK(s["free_memory_bytes"].get<std::uint64_t>() > 0);
  CHECK(s["free_memory_bytes"].get<std::uint64_t>() <= total);
  CHECK(s["cpus"].get<int>() >= 1);
  CHECK(s["load1"].get<double>() >= 0);
}
