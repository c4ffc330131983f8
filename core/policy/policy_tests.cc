#include "policy/policy_tests.h"

#include <warden/error.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

#include "common/text.h"
#include "policy/policy_engine.h"

namespace warden::policy {
namespace fs = std::filesystem;
namespace {

// Helpers every test file can use: expectations and fake inputs shaped like
// what the host passes to policies.
constexpr const char* kTestPrelude = R"lua(
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
local function show(v)
  if type(v) ~= "table" then return tostring(v) end
  local parts = {}
  for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. show(x) end
  table.sort(parts)
  return "{" .. table.concat(parts, ", ") .. "}"
end
function expect_eq(actual, expected, what)
  if not same(actual, expected) then
    error((what and (what .. ": ") or "") .. "expected " .. show(expected) .. ", got " .. show(actual), 2)
  end
end
function expect(condition, what)
  if not condition then error(what or "expectation failed", 2) end
end
function fake_finding(severity, fields)
  local f = { assessor = "heuristics", rule_id = "test.rule", severity = severity, confidence = "high",
              category = "other", line = 1, column = 1, message = "test finding", cwe = 0, source_line = "" }
  for k, v in pairs(fields or {}) do f[k] = v end
  return f
end
function expect_denied(fn, pattern, what)
  local ok, answer = pcall(fn)
  local reason = warden.denial(answer)
  if reason == nil then
    error((what and (what .. ": ") or "") .. "expected a warden.deny(), got " ..
          (ok and ("the answer " .. show(answer)) or ("the error " .. tostring(answer))), 2)
  end
  if pattern and not reason:find(pattern) then
    error((what and (what .. ": ") or "") .. "denied with '" .. reason .. "', expected a reason matching '" ..
          pattern .. "'", 2)
  end
  return reason
end
function fake_assessment(findings, fields)
  local a = { code_sha256 = "0", language = "python", file = "main.py", findings = findings or {},
              imports = {}, calls = {},
              metrics = { lines = 10, code_lines = 8, complexity = 0.1, imports = 1, control_flow = 1,
                          functions = 1, classes = 0, loops = 0, max_nesting = 1, calls = 2,
                          string_literals = 1, string_operations = 0, tokens = 40, bytes = 200 },
              assessors = { { name = "heuristics", status = "ok", reason = "" } } }
  for k, v in pairs(fields or {}) do a[k] = v end
  return a
end
function fake_request(fields)
  local r = { user = "tester", user_verified = false, confirmed = false, override = nil, metadata = {},
              backend = nil }
  for k, v in pairs(fields or {}) do r[k] = v end
  return r
end
function fake_event(kind, fields)
  local e = { kind = kind, time = "2026-01-01T00:00:00.000Z", user = "tester", level = "BLOCKED",
              reason = "test event", request_id = "r-0000000000000000", score = 10 }
  for k, v in pairs(fields or {}) do e[k] = v end
  return e
end
function fake_system(fields)
  local s = { cpus = 2, free_memory_bytes = 8 * 1024 ^ 3, total_memory_bytes = 16 * 1024 ^ 3, load1 = 0.2,
              loaded_backends = { "native", "docker", "podman" }, default_backend = "native",
              requested_backend = nil }
  for k, v in pairs(fields or {}) do s[k] = v end
  return s
end
)lua";

void run_folder(const fs::path& dir, const Budget& budget, std::vector<PolicyTestResult>& out) {
  std::vector<fs::path> tests;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().ends_with("_test.lua")) tests.push_back(entry.path());
  std::sort(tests.begin(), tests.end());
  if (tests.empty()) return;
  PolicyFiles policies = read_policy_files(dir);
  static const std::regex kLocation(R"(^(.*?):(\d+): (.*)$)");
  for (const auto& test_file : tests) {
    std::string test_source = read_whole_file(test_file).value_or("");
    // The policies with the helpers and the tests; again after a test the
    // watchdog had to stop (that state is gone).
    auto load = [&] {
      auto sandbox = std::make_unique<LuaSandbox>(budget);
      try {
        sandbox->set_modules(&policies.modules);
        sandbox->load(kTestPrelude, "warden-test-helpers");
        for (const auto& name : policies.policy_files) sandbox->load_module(name);
        sandbox->load(test_source, test_file.string());
        sandbox->freeze();
        sandbox->set_modules(nullptr);
      } catch (const PolicyFailure& e) {
        throw Error(ErrorKind::kConfig, e.what());
      }
      return sandbox;
    };
    std::unique_ptr<LuaSandbox> sandbox = load();
    auto names = sandbox->functions_with_prefix("test_");
    if (names.empty())
      out.push_back({test_file.string(), "(no test_* functions)", false, 0, "no tests defined"});
    for (const auto& name : names) {
      PolicyTestResult r{test_file.string(), name, true, 0, ""};
      if (!sandbox->alive()) sandbox = load();
      try {
        LuaSandbox::Answer answer = sandbox->call(name, {});
        if (answer.denial) {
          r.passed = false;
          r.message = "the test returned a warden.deny(): " + *answer.denial;
        }
      } catch (const PolicyFailure& e) {
        r.passed = false;
        std::string msg = e.what();
        std::string prefix = "in function '" + name + "': ";
        if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
        std::smatch m;
        if (std::regex_match(msg, m, kLocation)) {
          r.file = m[1];
          r.line = std::stoi(m[2]);
          r.message = m[3];
        } else {
          r.message = msg;
        }
      }
      out.push_back(r);
    }
  }
}

}  // namespace

std::vector<PolicyTestResult> run_policy_tests(const fs::path& directory, const Budget& budget) {
  std::error_code ec;
  if (!fs::is_directory(directory, ec))
    throw Error(ErrorKind::kInvalidInput, directory.string() + ": not a folder");
  std::vector<fs::path> folders = {directory};
  for (const auto& entry : fs::recursive_directory_iterator(directory, ec))
    if (entry.is_directory()) folders.push_back(entry.path());
  std::sort(folders.begin(), folders.end());
  std::vector<PolicyTestResult> out;
  for (const auto& folder : folders) run_folder(folder, budget, out);
  return out;
}

}  // namespace warden::policy
