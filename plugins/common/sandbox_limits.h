// What every sandbox backend makes of a run's limits alike: the limits no
// program could start under, which are refused rather than run, the CPU limit
// as RLIMIT_CPU counts it, and the RunResult a run's end and usage make.
#pragma once

#include <signal.h>
#include <warden/plugin.h>

#include <cstdint>
#include <string>

#include "cgroup.h"

namespace warden::sandboxing {

// Processes every backend starts beside the program, which count against the
// pids limit: bwrap and its init (native); the container's init and warden's
// launcher, which stays as the run's wall-time watchdog (docker, podman).
inline constexpr std::uint32_t kHelperProcesses = 2;

// Throws PluginError(WARDEN_ERR_UNSUPPORTED) naming the first limit that
// could not hold at all. `helpers` names the kHelperProcesses processes that
// run beside the program ("bwrap and its init").
inline void refuse_unenforceable(const RunSpec& spec, const std::string& helpers) {
  auto refuse = [](const std::string& what) { throw PluginError(WARDEN_ERR_UNSUPPORTED, what); };
  const Limits& l = spec.limits;
  if (!spec.read_only_root)
    refuse("read_only_root: a writable root would not count against the scratch (tmpfs) limit");
  if (l.memory_bytes < (8ull << 20)) refuse("memory: below 8 MiB the interpreter cannot start");
  if (l.pids < kHelperProcesses + 1)
    refuse("pids: at least " + std::to_string(kHelperProcesses + 1) + " are needed (" + helpers +
           ", and the program)");
  if (l.open_files < 16) refuse("open_files: at least 16 are needed to start the interpreter");
  if (l.cpus <= 0) refuse("cpus: must be positive");
  if (l.wall_time_ms == 0 || l.cpu_time_ms == 0) refuse("time limits must be positive");
  if (l.tmpfs_bytes == 0) refuse("tmpfs: must be positive");
}

// The CPU time limit in whole seconds, rounded up: RLIMIT_CPU's soft limit
// (the hard one is a second later). It only backs up the run's own CPU
// account (RunEnd::cpu_time_exceeded), which counts every process together.
inline std::uint64_t cpu_limit_seconds(const Limits& l) {
  return (l.cpu_time_ms + 999) / 1000;
}

// How a run ended, as the backend saw it.
struct RunEnd {
  int status = 0;                  // the program's exit code, or 128 + the signal that ended it
  bool timed_out = false;          // the backend killed it at the wall-time limit
  bool cpu_time_exceeded = false;  // the backend killed it when the cgroup's CPU passed the limit
  bool output_truncated = false;
  std::uint64_t wall_time_ms = 0;
};

// The RunResult of a run that ended so, with the cgroup's usage, under
// `limits`; output and the backend's id are the caller's to fill in.
inline RunResult run_result(const RunEnd& end, const CgroupUsage& usage, const Limits& limits) {
  RunResult r;
  if (end.status > 128 && end.status < 128 + 65)
    r.signal = end.status - 128;
  else
    r.exit_code = end.status;
  r.timed_out = end.timed_out;
  r.output_truncated = end.output_truncated;
  r.wall_time_ms = end.wall_time_ms;
  r.cpu_time_ms = usage.cpu_time_ms;
  r.peak_memory_bytes = usage.peak_memory_bytes;
  r.oom_killed = usage.oom_killed;
  // RLIMIT_CPU ends one process with SIGXCPU, then SIGKILL a second later.
  r.cpu_time_exceeded =
      end.cpu_time_exceeded || r.signal == SIGXCPU ||
      (r.signal == SIGKILL && !end.timed_out && usage.cpu_time_ms >= limits.cpu_time_ms);
  if (usage.pids_limit_hit) r.limits_hit.push_back("pids");
  if (r.signal == SIGXFSZ) r.limits_hit.push_back("file_size");
  return r;
}

}  // namespace warden::sandboxing
