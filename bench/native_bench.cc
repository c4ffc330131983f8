// native backend: `print(1)` through the sandbox against bare
// /usr/bin/python3 -c 'print(1)', side by side, then 16 concurrent runs.
// Three ways: without the warm pool (warm_pool 0: each run starts bwrap,
// compiles seccomp, makes its cgroup and scratch mount); with it, runs back
// to back (each run's teardown and refill compete with the next runs, and a
// run that finds the pool empty starts its own sandbox: that shows here); and
// with it, a pause after each run (untimed) in which the pool refills, as a
// user who runs a program now and then sees it. The ways take turns in
// blocks of 8 runs, so that a machine whose load changes meanwhile weighs on
// each alike.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "concurrent_runs.h"
#include "plugin/loader.h"

namespace {

using Clock = std::chrono::steady_clock;

double micros_of(const std::function<void()>& body) {
  auto start = Clock::now();
  body();
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

warden::bench::Timing summary(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[static_cast<std::size_t>(q * (us.size() - 1))]; };
  return {at(0.5), at(0.1), at(0.9), static_cast<int>(us.size())};
}

}  // namespace

int main() {
  using namespace warden;
  PluginCatalog catalog;
  catalog.load_file(std::string(WARDEN_BINARY_DIR) + "/lib/warden/plugins/native.so");
  auto make = [&](nlohmann::json settings) {
    JsonWithMarks marked;
    marked.value = std::move(settings);
    return catalog.create_sandbox("native", marked, "backends.settings.native");
  };
  auto direct = make({{"warm_pool", 0}});
  auto pooled = make(nlohmann::json::object());
  for (SandboxBackend* b : {direct.get(), pooled.get()})
    if (Availability a = b->probe(); !a.available) {
      std::printf("native backend unavailable: %s\n", a.reason.c_str());
      return 1;
    }
  RunSpec spec;
  spec.run_id = "bench";
  auto bare = [] { bench::run_quietly({"/usr/bin/python3", "-c", "print(1)"}); };
  auto on = [&](SandboxBackend& b) { return [&] { b.run(spec, "print(1)\n", "", {}); }; };
  // Warm-up: the interpreter's files in the page cache, the pool filled once.
  for (int i = 0; i < 5; ++i) {
    bare();
    on (*direct)();
    on (*pooled)();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  constexpr int kBlocks = 5, kBlock = 8;
  std::vector<double> bare_us, direct_us, back_to_back_us, paced_us;
  for (int block = 0; block < kBlocks; ++block) {
    for (int i = 0; i < kBlock; ++i) bare_us.push_back(micros_of(bare));
    for (int i = 0; i < kBlock; ++i) direct_us.push_back(micros_of(on(*direct)));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a full pool to start
    for (int i = 0; i < kBlock; ++i) back_to_back_us.push_back(micros_of(on(*pooled)));
    for (int i = 0; i < kBlock; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(150));  // the pool refills
      paced_us.push_back(micros_of(on(*pooled)));
    }
  }
  auto bare_t = summary(bare_us), direct_t = summary(direct_us),
       back_to_back_t = summary(back_to_back_us), paced_t = summary(paced_us);
  std::printf("native backend, print(1), %d runs each, in turns of %d (after a warm-up of 5)\n",
              kBlocks * kBlock, kBlock);
  bench::print_timing("bare /usr/bin/python3 -c 'print(1)'", bare_t);
  bench::print_timing("native, warm_pool 0 (bwrap per run)", direct_t);
  bench::print_timing("native, warm pool, back to back", back_to_back_t);
  bench::print_timing("native, warm pool, 150 ms apart", paced_t);
  bench::print_ratio("native warm_pool 0 / bare", direct_t.median_us, bare_t.median_us, 1.3);
  bench::print_ratio("native pool back to back / bare", back_to_back_t.median_us, bare_t.median_us,
                     1.3);
  bench::print_ratio("native pool 150 ms apart / bare", paced_t.median_us, bare_t.median_us, 1.3);

  bench::report_concurrent_runs(*pooled, spec);
  return 0;
}
