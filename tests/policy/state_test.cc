// Issue 13: a policy must not keep state from one request to the next. Each
// hostile policy below tries to count requests, or to remember the previous
// request's code, one way; over several requests each must either see fresh
// state every time or fail closed with a message naming the file and line
// (or be refused when it loads).
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "policy/policy_engine.h"
#include "policy_fixture.h"
#include "support/process.h"

using namespace warden;
using namespace warden::policy;
using namespace warden::policy::test_support;
namespace fs = std::filesystem;

namespace {

// Each policy's classify answers score = how many requests it has counted
// (1 when it sees fresh state) and reasons = { the code it remembers from the
// previous request, or "" }.
struct Smuggler {
  const char* name;
  const char* source;
};

const Smuggler kSmugglers[] = {
    {"a global", R"lua(
function classify(a)
  COUNT = (COUNT or 0) + 1
  return { level = "LOW", score = COUNT, reasons = { "" } }
end)lua"},
    {"a table in a global", R"lua(
SEEN = {}
function classify(a)
  local previous = SEEN[#SEEN] or ""
  SEEN[#SEEN + 1] = a.code_sha256
  return { level = "LOW", score = #SEEN, reasons = { previous } }
end)lua"},
    {"a captured local table", R"lua(
local seen = { count = 0 }
function classify(a)
  seen.count = seen.count + 1
  local previous = seen.code or ""
  seen.code = a.code_sha256
  return { level = "LOW", score = seen.count, reasons = { previous } }
end)lua"},
    {"a captured local number", R"lua(
local count = 0
function classify(a)
  count = count + 1
  return { level = "LOW", score = count, reasons = { "" } }
end)lua"},
    {"a local of a helper function", R"lua(
local previous = ""
local function remember(code)
  local before = previous
  previous = code
  return before
end
function classify(a)
  return { level = "LOW", score = 1, reasons = { remember(a.code_sha256) } }
end)lua"},
    {"the strings' metatable", R"lua(
function classify(a)
  local meta = getmetatable("")
  meta.count = (meta.count or 0) + 1
  return { level = "LOW", score = meta.count, reasons = { "" } }
end)lua"},
    {"the string library", R"lua(
function classify(a)
  local previous = ("").previous or ""
  string.previous = a.code_sha256
  return { level = "LOW", score = 1, reasons = { previous } }
end)lua"},
    {"a private _ENV", R"lua(
local memory = setmetatable({}, { __index = _G })
function classify(a)
  local _ENV = memory
  count = (count or 0) + 1
  return { level = "LOW", score = count, reasons = { "" } }
end)lua"},
    {"the table behind a frozen table, through pairs()", R"lua(
SEEN = { "start" }
function classify(a)
  local _, inner = pairs(SEEN)
  local previous = inner[2] or ""
  inner[2] = a.code_sha256
  return { level = "LOW", score = 1, reasons = { previous } }
end)lua"},
    {"a metatable's __index table", R"lua(
local defaults = { count = 0 }
CONFIG = setmetatable({}, { __index = defaults })
function classify(a)
  local d = getmetatable(CONFIG)
  d = d and d.__index or defaults
  d.count = d.count + 1
  return { level = "LOW", score = d.count, reasons = { "" } }
end)lua"},
    {"the random generator's seed", R"lua(
function classify(a)
  local n = 1
  for guess = 1, 100 do math.randomseed(guess) end
  return { level = "LOW", score = n, reasons = { "" } }
end)lua"},
    {"a finalizer that resurrects the request", R"lua(
function classify(a)
  setmetatable({}, { __gc = function(o) KEPT = a.code_sha256 end })
  return { level = "LOW", score = 1, reasons = { "" } }
end)lua"},
    {"a captured variable changed before denying", R"lua(
local count = 0
function classify(a)
  count = count + 1
  if count > 0 then return warden.deny("seen " .. count) end
end)lua"},
};

nlohmann::json assessment_of(const std::string& code) {
  nlohmann::json a = sample_assessment({});
  a["code_sha256"] = code;
  return a;
}

}  // namespace

TEST_CASE("each way of keeping state between requests sees fresh state or fails at its line") {
  for (const Smuggler& smuggler : kSmugglers) {
    INFO(smuggler.name);
    test::TempDir dir;
    fs::path file = dir.write("policy.lua", std::string(smuggler.source) + "\n" + kRest);
    PolicyEngine engine(config_for(dir.path()), Limits{});
    bool refused = false;
    for (const char* code : {"first-program", "second-program", "third-program"}) {
      INFO(code);
      Classification c = engine.classify(assessment_of(code), kRequest);
      if (c.policy_failed()) {
        refused = true;
        REQUIRE(c.reasons.size() == 1);
        CHECK_THAT(c.reasons[0], Catch::Matches(".*" + file.string() + ":[0-9]+.*"));
        continue;
      }
      CHECK_FALSE(c.denied());
      CHECK(c.score == 1);  // fresh state: this request is the first it sees
      CHECK(c.reasons == std::vector<std::string>{""});
    }
    CHECK(refused);  // every one of these tries to write state: each attempt fails
  }
}

TEST_CASE("a failed attempt leaves nothing behind for the next request") {
  test::TempDir dir;
  // Succeeds only while the captured value is untouched: it fails on every
  // request that follows an attempt to change it unless the change was undone.
  dir.write("policy.lua", R"lua(
local count = 0
function classify(a, request)
  if count ~= 0 then return { level = "HIGH", score = count } end
  if request.metadata.change then count = count + 1 end
  return { level = "LOW" }
end
)lua" + std::string(kRest));
  PolicyEngine engine(config_for(dir.path()), Limits{});
  Classification attempt =
      engine.classify(sample_assessment({}), request_for("mallory", {{"change", true}}));
  CHECK(attempt.policy_failed());
  CHECK_THAT(attempt.reasons[0], Catch::Contains("changed the captured variable 'count'"));
  for (int i = 0; i < 3; ++i) {
    Classification next = engine.classify(sample_assessment({}), kRequest);
    CHECK_FALSE(next.policy_failed());
    CHECK(next.level == RiskLevel::kLow);
  }
}

TEST_CASE("state kept from load time by coroutines or finalizers is refused at load") {
  for (const char* source : {"KEEPER = coroutine.create(function() end)\n",
                             "KEEPER = setmetatable({}, { __gc = function() end })\n"}) {
    INFO(source);
    test::TempDir dir;
    fs::path file =
        dir.write("policy.lua", std::string(source) +
                                    "function classify(a) return { level = 'LOW' } end\n" + kRest);
    CHECK_THROWS_WITH(PolicyEngine(config_for(dir.path()), Limits{}),
                      Catch::Contains(file.string() + ":1:"));
  }
}

TEST_CASE("a module's table is frozen too, whether required at load or in a call") {
  test::TempDir dir;
  fs::create_directories(dir.path() / "lib");
  dir.write("lib/counter.lua", "return { count = 0 }\n");
  fs::path file = dir.write("policy.lua", R"lua(
local counter = require("lib.counter")
function classify(a, request)
  local c = request.metadata.late and require("lib.counter") or counter
  c.count = c.count + 1
  return { level = "LOW", score = c.count }
end
)lua" + std::string(kRest));
  PolicyEngine engine(config_for(dir.path()), Limits{});
  for (bool late : {false, true, false}) {
    Classification c =
        engine.classify(sample_assessment({}), request_for("tester", {{"late", late}}));
    CHECK(c.policy_failed());
    CHECK_THAT(c.reasons[0], Catch::Contains(file.string() + ":5:"));
    CHECK_THAT(c.reasons[0], Catch::Contains("must not keep state between calls"));
  }
}
