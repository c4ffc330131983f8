// The whole pipeline through warden::Host, as Mai calls it: heuristics
// assessor, the default policies, group-commit auditing, the native backend.
//   1. Host overhead per request, excluding the sandbox run itself (target at
//      most 1 ms at the median): total time of assess_and_execute minus the
//      backend's run, shown beside both.
//   2. assess_code_only throughput with 1..32 callers (target at least 2,000
//      requests/s on the 2-core machine). Every request is a different
//      program, so nothing comes from the assessment cache.
#include <warden/host.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"

namespace fs = std::filesystem;

namespace {

// Typical assistant-written code: a few functions, a loop, some string work.
constexpr const char* kProgram = R"py(import json
import statistics


def summarize(values):
    """Mean, median and spread of a list of numbers."""
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "mean": statistics.mean(values),
        "median": statistics.median(values),
        "stdev": statistics.pstdev(values),
    }


def histogram(words):
    counts = {}
    for word in words:
        word = word.strip().lower()
        if word:
            counts[word] = counts.get(word, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


text = "the quick brown fox jumps over the lazy dog the end"
print(json.dumps(summarize([len(w) for w in text.split()])))
print(histogram(text.split())[:3])
)py";

std::string unique_program(int n) {
  return std::string(kProgram) + "# request " + std::to_string(n) + "\n";
}

fs::path write_config(const fs::path& dir) {
  fs::path config = dir / "warden.yaml";
  std::ofstream(config) << "log_level: warn\n"
                        << "plugins: {directories: [" << WARDEN_BINARY_DIR
                        << "/lib/warden/plugins]}\n"
                        << "assessors: {enabled: [heuristics]}\n"
                        << "backends: {enabled: [native]}\n"
                        << "policies: {directory: " << WARDEN_SOURCE_DIR << "/policies/default}\n"
                        << "audit:\n"
                        << "  directory: " << (dir / "audit").string() << "\n"
                        << "  signing_key: " << (dir / "keys/audit.key").string() << "\n"
                        << "  durability: group\n";  // the shipped group_commit_delay
  return config;
}

}  // namespace

int main() {
  using namespace warden;
  fs::path dir = fs::temp_directory_path() / ("warden-bench-host-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    auto host = Host::open(write_config(dir).string());

    std::printf("host overhead: assess_and_execute of a 30-line LOW program, native backend\n");
    std::vector<double> total, sandbox, overhead;
    int n = 0;
    for (int i = 0; i < 230; ++i) {
      ExecutionRequest request;
      request.code = unique_program(n++);
      ExecutionResult r = host->assess_and_execute(request);
      if (r.decision != Outcome::kRan || !r.run || r.run->exit_code != 0) {
        std::fprintf(stderr, "the sample did not run cleanly: %s\n", r.to_json().dump().c_str());
        return 1;
      }
      if (i < 30) continue;  // warm-up
      total.push_back(r.total_ms * 1000);
      sandbox.push_back(r.sandbox_ms * 1000);
      overhead.push_back((r.total_ms - r.sandbox_ms) * 1000);
    }
    auto summary = [](std::vector<double> us) {
      std::sort(us.begin(), us.end());
      auto at = [&](double q) { return us[static_cast<std::size_t>(q * (us.size() - 1))]; };
      return bench::Timing{at(0.5), at(0.1), at(0.9), static_cast<int>(us.size())};
    };
    bench::Timing host_only = summary(overhead);
    bench::print_timing("whole request", summary(total));
    bench::print_timing("of which the sandbox run", summary(sandbox));
    bench::print_timing("host overhead (whole - sandbox)", host_only);
    std::printf("  %-44s %.3f ms  (target <= 1 ms: %s)\n", "host overhead, median",
                host_only.median_us / 1000, host_only.median_us <= 1000 ? "met" : "NOT met");

    std::printf("\nassess_code_only throughput, a different program each request (no cache)\n");
    std::atomic<int> next{1'000'000};
    for (int callers : {1, 2, 8, 32}) {
      constexpr auto kSpan = std::chrono::seconds(2);
      std::atomic<long> done{0};
      std::atomic<bool> failed{false};
      auto start = std::chrono::steady_clock::now();
      std::vector<std::thread> threads;
      for (int t = 0; t < callers; ++t)
        threads.emplace_back([&] {
          while (std::chrono::steady_clock::now() - start < kSpan) {
            auto a = host->assess_code_only(unique_program(next++));
            if (a["level"] != "LOW") failed = true;
            ++done;
          }
        });
      for (auto& t : threads) t.join();
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double rate = static_cast<double>(done) / seconds;
      if (failed) {
        std::fprintf(stderr, "the sample was not assessed LOW\n");
        return 1;
      }
      std::printf("  %2d callers %35s %8.0f requests/s  (target >= 2000: %s)\n", callers, "", rate,
                  rate >= 2000 ? "met" : "NOT met");
    }
  }
  fs::remove_all(dir);
  return 0;
}
