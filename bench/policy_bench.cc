// The default policies for one request (classify, trust, limits,
// may_override), against the 20 microsecond target.
#include <cstdio>

#include "bench_util.h"
#include "config/config.h"
#include "policy/policy_engine.h"
#include "policy/system_info.h"

int main() {
  using namespace warden;
  // The shipped configuration: its budget and ceilings.
  Config config = load_config(std::string(WARDEN_SOURCE_DIR) + "/config/warden.yaml");
  policy::PolicyEngine engine(config.policies, config.ceilings);
  nlohmann::json findings = nlohmann::json::array();
  for (const char* s : {"high", "medium", "low"})
    findings.push_back({{"assessor", "heuristics"},
                        {"rule_id", "heuristics.code-exec"},
                        {"severity", s},
                        {"confidence", "high"},
                        {"category", "code-execution"},
                        {"line", 3},
                        {"column", 1},
                        {"message", "runs code built at run time"},
                        {"cwe", 95},
                        {"source_line", "eval(x)"}});
  nlohmann::json assessment = {
      {"file", "main.py"},
      {"findings", findings},
      {"metrics", {{"lines", 40}, {"code_lines", 30}, {"complexity", 0.3}, {"imports", 3}}},
      {"assessors",
       nlohmann::json::array({{{"name", "heuristics"}, {"status", "ok"}, {"reason", ""}}})}};
  nlohmann::json request = {{"user", "mai"},
                            {"confirmed", false},
                            {"override", nullptr},
                            {"metadata", nlohmann::json::object()}};
  nlohmann::json system = policy::system_snapshot();
  system["loaded_backends"] = {"native"};
  system["default_backend"] = "native";
  std::vector<std::string> backends = {"native"};
  auto one_request = [&] {  // as the host does it
    policy::PolicySession session = engine.session(assessment, request);
    auto c = session.classify();
    auto t = session.trust(c);
    session.limits(t.trust, system, backends);
    session.may_override(c);
  };
  auto four_single_calls = [&] {
    auto c = engine.classify(assessment, request);
    auto t = engine.trust(c, request);
    engine.limits(t.trust, assessment, request, system, backends);
    engine.may_override(c, request);
  };
  std::printf("default policies, one request (classify + trust + limits + may_override)\n");
  bench::Timing single = bench::time_runs(20000, 500, four_single_calls);
  bench::print_timing("four single calls (a state each)", single);
  bench::Timing t = bench::time_runs(20000, 500, one_request);
  bench::print_timing("one session (the host's way)", t);
  std::printf("  %-44s %.1f us  (target <= 20 us: %s)\n", "median", t.median_us,
              t.median_us <= 20 ? "met" : "NOT met");
  return 0;
}
