// Helpers for the benchmarks in bench/: time a callable many times and print
// a side-by-side comparison. Timing is never asserted; it is reported.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace warden::bench {

struct Timing {
  double median_us = 0;
  double p10_us = 0;
  double p90_us = 0;
  int runs = 0;
};

// Runs `body` `runs` times (after `warmup` untimed runs) and summarises the
// durations it reports: a body times itself to leave out a pause it takes.
inline Timing time_self_timed_runs(
    int runs, int warmup, const std::function<std::chrono::steady_clock::duration()>& body) {
  for (int i = 0; i < warmup; ++i) body();
  std::vector<double> us;
  us.reserve(runs);
  for (int i = 0; i < runs; ++i)
    us.push_back(std::chrono::duration<double, std::micro>(body()).count());
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[static_cast<std::size_t>(q * (us.size() - 1))]; };
  return {at(0.5), at(0.1), at(0.9), runs};
}

// Runs `body` `runs` times (after `warmup` untimed runs) and summarises.
inline Timing time_runs(int runs, int warmup, const std::function<void()>& body) {
  return time_self_timed_runs(runs, warmup, [&] {
    auto start = std::chrono::steady_clock::now();
    body();
    return std::chrono::steady_clock::now() - start;
  });
}

// Prints "label: median (p10..p90) over N runs".
inline void print_timing(const std::string& label, const Timing& t) {
  std::printf("  %-44s median %10.1f us  (p10 %.1f, p90 %.1f, %d runs)\n", label.c_str(),
              t.median_us, t.p10_us, t.p90_us, t.runs);
}

// Prints the ratio of `ours` to `reference` against a target ratio.
inline void print_ratio(const std::string& label, double ours, double reference, double target) {
  double ratio = ours / reference;
  std::printf("  %-44s %.2fx  (target <= %.2fx: %s)\n", label.c_str(), ratio, target,
              ratio <= target ? "met" : "NOT met");
}

// Runs argv (argv[0] a path) with stdout and stderr thrown away and waits
// for it, as a user's shell does with a command, without the shell. Returns
// the exit status (128 + signal; -1 when it could not be started).
inline int run_quietly_status(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int status = -1;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) == 0 &&
      waitpid(pid, &status, 0) == pid)
    status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  else
    status = -1;
  posix_spawn_file_actions_destroy(&actions);
  return status;
}

// run_quietly_status when the status does not matter.
inline void run_quietly(const std::vector<std::string>& argv) {
  run_quietly_status(argv);
}

}  // namespace warden::bench
