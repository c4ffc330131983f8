// Assessment: heuristics throughput in MB/s of Python source (target 50 MB/s
// per core) on the labelled corpus one program at a time, beside one large
// program and tokenizing alone; and a cached assessment (target < 1 ms).
#include <cstdio>
#include <filesystem>

#include "assess/assessment.h"
#include "bench_util.h"
#include "common/text.h"
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
  std::printf("assessment, one core\n");
  std::printf("  %-44s %.1f MB/s\n", "tokenizer alone, one 4 MB program",
              mb / (tok.median_us / 1e6));
  std::printf("  %-44s %.1f MB/s\n", "heuristics plugin, one 4 MB program",
              mb / (full.median_us / 1e6));

  // What warden really sees: one program per request. The labelled corpus
  // (tests/corpus, programs of 0.1-3 KB), each assessed on its own through
  // the plugin's C ABI, findings and all; dangerous programs cost more per
  // byte since each finding crosses the ABI as JSON.
  for (const char* label : {"benign", "dangerous"}) {
    std::vector<std::string> programs;
    std::size_t bytes = 0;
    for (const auto& entry : std::filesystem::directory_iterator(
             std::filesystem::path(WARDEN_SOURCE_DIR) / "tests/corpus" / label)) {
      programs.push_back(read_whole_file(entry.path()).value_or(""));
      bytes += programs.back().size();
    }
    constexpr int kRounds = 40;
    bench::Timing t = bench::time_runs(5, 1, [&] {
      for (int round = 0; round < kRounds; ++round)
        for (const auto& program : programs)
          heuristics->assess(program, "python", "x.py", std::chrono::seconds(60), {});
    });
    double seconds = t.median_us / 1e6;
    double rate = static_cast<double>(bytes) * kRounds / 1e6 / seconds;
    std::printf("  %-44s %.1f MB/s, %.0f programs/s%s\n",
                (std::string("heuristics plugin, ") + label + " corpus, one at a time").c_str(),
                rate, static_cast<double>(programs.size()) * kRounds / seconds,
                std::string(label) == "benign"
                    ? (rate >= 50 ? " (target >= 50 MB/s: met)" : " (target >= 50 MB/s: NOT met)")
                    : "");
  }

  AssessmentStage stage(plugins, config.assessors);
  stage.assess(unit, "python", "main.py");
  bench::Timing cached =
      bench::time_runs(2000, 100, [&] { stage.assess(unit, "python", "main.py"); });
  bench::print_timing("cached assessment (heuristics)", cached);
  std::printf("  %-44s %.1f us (target < 1000 us: %s)\n", "cached median", cached.median_us,
              cached.median_us < 1000 ? "met" : "NOT met");
  return 0;
}
