// Assessment: heuristics throughput in MB/s of Python source (target 50 MB/s
// per core) beside tokenizing alone, and a cached assessment (target < 1 ms).
#include <cstdio>

#include "assess/assessment.h"
#include "bench_util.h"
#include "lang/python/tokenizer.h"
#include "plugin/plugin_set.h"

int main() {
  using namespace warden;
  std::string unit = R"(import json, os
from dataclasses import dataclass

@dataclass
class Row:
    name: str
    value: float

def load(path):
    with open(path) as f:
        return [Row(**r) for r in json.load(f)]

def summary(rows):
    total = sum(r.value for r in rows if r.value > 0)
    return f"{len(rows)} rows, total {total:.2f}"

if __name__ == "__main__":
    print(summary(load(os.environ.get("DATA", "data.json"))))
)";
  std::string code;
  while (code.size() < (4u << 20)) code += unit;
  Config config = parse_config("log_level: warn\n", "bench.yaml", "/");
  config.plugin_directories = {std::string(WARDEN_BINARY_DIR) + "/lib/warden/plugins"};
  config.assessors.enabled = {"heuristics"};
  config.assessors.deadline_ms = 60'000;
  config.backends.enabled = {};
  PluginSet plugins(config);
  const Assessor* heuristics = plugins.assessor("heuristics");
  double mb = static_cast<double>(code.size()) / 1e6;
  bench::Timing tok = bench::time_runs(5, 1, [&] { python::tokenize(code); });
  bench::Timing full = bench::time_runs(
      5, 1, [&] { heuristics->assess(code, "python", "x.py", std::chrono::seconds(60), {}); });
  std::printf("assessment (%.1f MB of Python)\n", mb);
  std::printf("  %-44s %.1f MB/s\n", "tokenizer alone", mb / (tok.median_us / 1e6));
  std::printf("  %-44s %.1f MB/s (target >= 50: %s)\n", "heuristics plugin",
              mb / (full.median_us / 1e6), mb / (full.median_us / 1e6) >= 50 ? "met" : "NOT met");

  AssessmentStage stage(plugins, config.assessors);
  stage.assess(unit, "python", "main.py");
  bench::Timing cached =
      bench::time_runs(2000, 100, [&] { stage.assess(unit, "python", "main.py"); });
  bench::print_timing("cached assessment (heuristics)", cached);
  std::printf("  %-44s %.1f us (target < 1000 us: %s)\n", "cached median", cached.median_us,
              cached.median_us < 1000 ? "met" : "NOT met");
  return 0;
}
