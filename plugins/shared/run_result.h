// The one reading of a run's end for every sandbox backend: the raw facts a
// backend gathers (how the program ended, what the backend killed it for, the
// cgroup's usage) and the limits, made into a RunResult. Backends gather the
// facts their own way; what they mean is decided here only, so a program
// reaches the same limits on every backend. docs/sandboxes.md, "What a
// RunResult says", is this function in words.
#pragma once

#include <warden/plugin.h>

#include <cstdint>

#include "shared/cgroup.h"

namespace warden::sandboxing {

// What a backend saw of one run.
struct RunFacts {
  int status = 0;                  // the exit code, or 128 + the signal that ended the program
  bool timed_out = false;          // the backend killed it at the wall-time limit
  bool cpu_time_exceeded = false;  // the backend killed it when the cgroup's CPU passed the limit
  bool output_truncated = false;   // the backend cut the output at the cap (and killed it)
  std::uint64_t wall_time_ms = 0;
  CgroupUsage usage;  // peak memory, CPU time, OOM kills, refused forks
};

// The RunResult of a run with these facts under `limits`; output and the
// backend's id are the caller's to fill in.
RunResult interpret_run(const RunFacts& facts, const Limits& limits);

}  // namespace warden::sandboxing
