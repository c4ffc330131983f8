// Out-of-process assessors: what one assessment costs when the assessor runs
// in warden-plugin-host (a warm helper, two socket messages) beside the same
// plugin loaded into warden's process, and what starting a helper costs (paid
// once, and after a helper crashed or hung). Target: the warm helper adds
// under 0.5 ms per assessment.
#include <cstdio>
#include <cstdlib>

#include "bench_util.h"
#include "plugin/loader.h"

int main() {
  using namespace warden;
  ::setenv("WARDEN_PLUGIN_HOST", WARDEN_BINARY_DIR "/lib/warden/warden-plugin-host", 0);
  const std::string plugin = std::string(WARDEN_BINARY_DIR) + "/lib/warden/plugins/heuristics.so";
  std::string program;
  while (program.size() < 1000)
    program += "import json\nrows = json.loads(open('data.json').read())\nprint(len(rows))\n";

  PluginCatalog trusting;  // loads the plugin into this process
  trusting.load_file(plugin);
  PluginCatalog isolating(std::vector<std::string>{});  // runs it in a helper
  isolating.load_file(plugin);
  if (!trusting.find("heuristics") || !isolating.find("heuristics")) {
    std::fprintf(stderr, "cannot load %s (build it first)\n", plugin.c_str());
    return 1;
  }
  auto in_process = trusting.create_assessor("heuristics", {}, "bench");
  auto isolated = isolating.create_assessor("heuristics", {}, "bench");
  auto assess = [&](const Assessor& a) {
    a.assess(program, "python", "x.py", std::chrono::seconds(10), {});
  };
  bench::Timing here = bench::time_runs(2000, 50, [&] { assess(*in_process); });
  bench::Timing there = bench::time_runs(2000, 50, [&] { assess(*isolated); });
  bench::Timing start =
      bench::time_runs(20, 1, [&] { isolating.create_assessor("heuristics", {}, "bench"); });
  std::printf("assessor plugins out of process (heuristics, a 1 KB program)\n");
  bench::print_timing("in warden's process", here);
  bench::print_timing("in a warm warden-plugin-host", there);
  bench::print_timing("a new helper (start, load, create, stop)", start);
  double added = there.median_us - here.median_us;
  std::printf("  %-44s %.1f us  (target < 500 us: %s)\n", "added per assessment", added,
              added < 500 ? "met" : "NOT met");
  return 0;
}
