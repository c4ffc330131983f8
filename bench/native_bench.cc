// native backend: `print(1)` through the sandbox against bare
// /usr/bin/python3 -c 'print(1)', side by side, then 16 concurrent runs.

#include <cstdio>

#include "bench_util.h"
#include "concurrent_runs.h"
#include "plugin/loader.h"

int main() {
  using namespace warden;
  PluginCatalog catalog;
  catalog.load_file(std::string(WARDEN_BINARY_DIR) + "/lib/warden/plugins/native.so");
  auto backend = catalog.create_sandbox("native", {}, "backends.settings.native");
  if (Availability a = backend->probe(); !a.available) {
    std::printf("native backend unavailable: %s\n", a.reason.c_str());
    return 1;
  }
  RunSpec spec;
  spec.run_id = "bench";
  auto sandboxed = [&] { backend->run(spec, "print(1)\n", "", {}); };
  auto bare = [] { bench::run_quietly({"/usr/bin/python3", "-c", "print(1)"}); };
  std::printf("native backend, print(1), 40 runs each (interleaved warm-up of 5)\n");
  bench::Timing bare_t = bench::time_runs(40, 5, bare);
  bench::Timing native_t = bench::time_runs(40, 5, sandboxed);
  bench::print_timing("bare /usr/bin/python3 -c 'print(1)'", bare_t);
  bench::print_timing("native backend (bwrap+seccomp+cgroup)", native_t);
  bench::print_ratio("native / bare", native_t.median_us, bare_t.median_us, 1.3);

  bench::report_concurrent_runs(*backend, spec);
  return 0;
}
