// Helpers shared by the policy tests: a small budget, a sample assessment and
// request shaped like the host's, and the three functions a classify() test
// does not care about.
#pragma once

#include <warden/host.h>

#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

#include "policy/policy_engine.h"

namespace warden::policy::test_support {

inline const char* kRest = R"lua(
function trust(decision, request) return "standard" end
function limits(trust, assessment, system)
  return { backend = "native", memory = "128MiB", wall_time = "5s" }
end
function may_override(decision, request) return false end
)lua";

inline PolicyConfig config_for(const std::filesystem::path& dir) {
  PolicyConfig c;
  c.directory = dir;
  c.instruction_budget = 200'000;
  c.memory_bytes = 8ull << 20;
  c.wall_time_ms = 200;
  c.hot_reload = true;
  return c;
}

// The request input every policy function sees, as the host builds it.
inline nlohmann::json request_for(const std::string& user,
                                  nlohmann::json metadata = nlohmann::json::object()) {
  ExecutionRequest r;
  r.user = user;
  r.metadata = std::move(metadata);
  return PolicyEngine::request_input(r);
}
inline const nlohmann::json kRequest = request_for("tester");

inline nlohmann::json sample_assessment(std::initializer_list<const char*> severities) {
  nlohmann::json findings = nlohmann::json::array();
  for (const char* s : severities)
    findings.push_back({{"assessor", "heuristics"},
                        {"rule_id", "r"},
                        {"severity", s},
                        {"confidence", "high"},
                        {"category", "other"},
                        {"line", 1},
                        {"column", 1},
                        {"message", "m"},
                        {"cwe", 0},
                        {"source_line", ""}});
  return {{"findings", findings},
          {"metrics", {{"complexity", 0.2}, {"lines", 10}}},
          {"assessors",
           nlohmann::json::array({{{"name", "heuristics"}, {"status", "ok"}, {"reason", ""}}})}};
}

}  // namespace warden::policy::test_support
