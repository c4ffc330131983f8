// Issue 13: a policy must not escape its budget. Each hostile policy below
// tries one way of running past the wall clock (C loops of the standard
// library, metamethods, error handlers, finalizers, coroutines); each must end
// in a fail-closed decision naming the file, the function and the budget,
// reported as a policy failure, and the next request must be decided normally.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "policy/policy_engine.h"
#include "policy_fixture.h"
#include "support/process.h"

using namespace warden;
using namespace warden::policy;
using namespace warden::policy::test_support;
namespace fs = std::filesystem;

namespace {

struct Escape {
  const char* name;
  const char* attack;    // Lua run by classify() when the request asks for it
  const char* expected;  // in the failure's reason
};

const char* kWallClock = "exceeded the wall-clock budget of 200 ms";

const Escape kEscapes[] = {
    {"table.move over a huge empty range (a loop in C)",
     "table.move({}, 1, math.maxinteger // 2, 1)", kWallClock},
    {"table.insert shifting a table whose __len is huge",
     "local t = setmetatable({}, { __len = function() return math.maxinteger // 2 end })\n"
     "table.insert(t, 1, 'x')",
     kWallClock},
    {"table.remove shifting a table whose __len is huge",
     "local t = setmetatable({}, { __len = function() return math.maxinteger // 2 end })\n"
     "table.remove(t, 1)",
     kWallClock},
    {"table.sort of two billion values with a comparator written in C",
     "table.sort(setmetatable({}, { __len = function() return 2^31 - 2 end }), math.type)",
     kWallClock},
    {"table.sort with pcall as comparator: C code throwing and catching without end",
     "table.sort(setmetatable({}, { __len = function() return 2^31 - 2 end }), pcall)", kWallClock},
    {"a pattern the cost estimate lets through (%b scans inside a quantifier)",
     "string.find(string.rep('(', 2600), '.-%b()')", kWallClock},
    {"table.concat of values a C __index makes up",
     "table.concat(setmetatable({}, { __index = rawlen }), '', 1, math.maxinteger)",
     "exceeded the "},
    {"a Lua loop whose every step is slow C work",
     "while true do local s = string.rep('x', 1000000) end", kWallClock},
    {"a table.sort comparator that never returns",
     "table.sort({ 3, 2, 1 }, function(a, b) while true do end end)",
     "exceeded the instruction budget"},
    {"an __index metamethod that never returns",
     "local t = setmetatable({}, { __index = function() while true do end end })\nreturn t.x",
     "exceeded the instruction budget"},
    {"an __lt metamethod that never returns",
     "local mt = { __lt = function() while true do end end }\n"
     "return setmetatable({}, mt) < setmetatable({}, mt)",
     "exceeded the instruction budget"},
    {"an __eq metamethod that never returns",
     "local mt = { __eq = function() while true do end end }\n"
     "return setmetatable({}, mt) == setmetatable({}, mt)",
     "exceeded the instruction budget"},
    {"a __close handler that never returns, run while an error unwinds",
     "do local x <close> = setmetatable({}, { __close = function() while true do end end })\n"
     "error('boom') end",
     "exceeded the instruction budget"},
    {"a __tostring that never returns, inside string.format",
     "return string.format('%s', setmetatable({}, { __tostring = function() while true do end "
     "end }))",
     "exceeded the instruction budget"},
    {"an xpcall message handler that never returns",
     "xpcall(error, function() while true do end end)", "exceeded the "},
    {"a finalizer (__gc) that would run outside any budget",
     "setmetatable({}, { __gc = function() while true do end end })",
     "finalizers (__gc) are not allowed"},
    {"a coroutine", "coroutine.wrap(function() while true do end end)()", "global 'coroutine'"},
};

std::string attack_policy(const std::string& attack) {
  return "function classify(assessment, request)\n"
         "  if request.metadata.attack then\n" +
         attack +
         "\n  end\n"
         "  return { level = 'LOW', reasons = { 'decided normally' } }\n"
         "end\n" +
         kRest;
}

const nlohmann::json kAttack = request_for("mallory", {{"attack", true}});

}  // namespace

TEST_CASE("every way out of the budget ends fail-closed, is reported, and the next request works") {
  for (const Escape& escape : kEscapes) {
    INFO(escape.name);
    test::TempDir dir;
    dir.write("policy.lua", attack_policy(escape.attack));
    PolicyEngine engine(config_for(dir.path()), Limits{});
    std::vector<std::pair<std::string, nlohmann::json>> events;
    engine.set_event_sink([&](const std::string& kind, const nlohmann::json& details) {
      events.emplace_back(kind, details);
    });
    auto start = std::chrono::steady_clock::now();
    Classification c = engine.classify(sample_assessment({}), kAttack);
    auto took = std::chrono::steady_clock::now() - start;
    INFO("took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    CHECK(took < std::chrono::seconds(2));  // a budget of 200 ms; without it, never
    CHECK(c.policy_failed());
    CHECK(c.level == RiskLevel::kBlocked);
    REQUIRE(c.reasons.size() == 1);
    CHECK_THAT(c.reasons[0], Catch::StartsWith("policy failed, failing closed: in function "
                                               "'classify': "));
    CHECK_THAT(c.reasons[0], Catch::Contains((dir.path() / "policy.lua").string() + ":"));
    CHECK_THAT(c.reasons[0], Catch::Contains(escape.expected));
    REQUIRE(events.size() == 2);  // policy_load, then the failure
    CHECK(events[1].first == "policy_failure");
    CHECK(events[1].second["function"] == "classify");
    CHECK_THAT(events[1].second["error"].get<std::string>(), Catch::Contains(escape.expected));

    Classification next = engine.classify(sample_assessment({}), request_for("alice"));
    CHECK_FALSE(next.policy_failed());
    CHECK(next.level == RiskLevel::kLow);
    CHECK(next.reasons == std::vector<std::string>{"decided normally"});
  }
}

TEST_CASE("repeating the empty string any number of times is answered at once") {
  test::TempDir dir;
  dir.write("policy.lua", attack_policy("assert(string.rep('', math.maxinteger) == '')\n"
                                        "assert(('').rep('', math.maxinteger, '') == '')"));
  PolicyEngine engine(config_for(dir.path()), Limits{});
  Classification c = engine.classify(sample_assessment({}), kAttack);
  CHECK_FALSE(c.policy_failed());
  CHECK(c.level == RiskLevel::kLow);
}

TEST_CASE("a policy stuck in C while it loads is refused, and a reload to it keeps the old one") {
  test::TempDir dir;
  dir.write("policy.lua", "table.move({}, 1, math.maxinteger // 2, 1)\n" +
                              std::string("function classify(a) return { level = 'LOW' } end\n") +
                              kRest);
  auto start = std::chrono::steady_clock::now();
  try {
    PolicyEngine engine(config_for(dir.path()), Limits{});
    FAIL("a policy that cannot load was accepted");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kConfig);
    CHECK_THAT(e.what(), Catch::Contains((dir.path() / "policy.lua").string()));
    CHECK_THAT(e.what(), Catch::Contains(kWallClock));
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));

  test::TempDir good;
  good.write("policy.lua",
             "function classify(a) return { level = 'MEDIUM' } end\n" + std::string(kRest));
  PolicyEngine engine(config_for(good.path()), Limits{});
  CHECK_THROWS_AS(engine.replace(dir.path()), Error);
  CHECK(engine.classify(sample_assessment({}), kRequest).level == RiskLevel::kMedium);
}

TEST_CASE("the watchdog stops calls on several threads at once") {
  test::TempDir dir;
  dir.write("policy.lua", attack_policy("table.move({}, 1, math.maxinteger // 2, 1)"));
  PolicyEngine engine(config_for(dir.path()), Limits{});
  std::vector<std::thread> threads;
  std::atomic<int> stopped{0}, normal{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 3; ++i) {
        if (engine.classify(sample_assessment({}), kAttack).policy_failed()) ++stopped;
        if (engine.classify(sample_assessment({}), kRequest).level == RiskLevel::kLow) ++normal;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(stopped == 12);
  CHECK(normal == 12);
}
