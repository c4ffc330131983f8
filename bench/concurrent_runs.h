// For the sandbox benchmarks: 16 runs at once through one backend, each
// checked, with the throughput they reached.
#pragma once

#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <vector>

#include "plugin/loader.h"

namespace warden::bench {

inline void report_concurrent_runs(const SandboxBackend& backend, const RunSpec& spec) {
  auto start = std::chrono::steady_clock::now();
  std::vector<std::future<RunResult>> runs;
  for (int i = 0; i < 16; ++i)
    runs.push_back(std::async(std::launch::async, [&, i] {
      RunSpec s = spec;
      s.run_id = "bench-" + std::to_string(i);
      return backend.run(s, "print(sum(range(100000)))\n", "", {});
    }));
  int ok = 0;
  for (auto& r : runs) ok += r.get().stdout_data == "4999950000\n";
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  16 concurrent runs: %d/16 correct in %.2f s (%.1f runs/s)\n", ok, seconds,
              16 / seconds);
}

}  // namespace warden::bench
