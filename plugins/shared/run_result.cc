#include "shared/run_result.h"

#include <signal.h>

namespace warden::sandboxing {

RunResult interpret_run(const RunFacts& facts, const Limits& limits) {
  RunResult r;
  // Shells and container inits report a death by signal as 128 + the signal.
  if (facts.status > 128 && facts.status < 128 + 65)
    r.signal = facts.status - 128;
  else
    r.exit_code = facts.status;
  r.wall_time_ms = facts.wall_time_ms;
  r.cpu_time_ms = facts.usage.cpu_time_ms;
  r.peak_memory_bytes = facts.usage.peak_memory_bytes;
  // Each limit is judged on its own: a run that used up its CPU time and its
  // wall time says both.
  r.timed_out = facts.timed_out;
  // The run's CPU account (the cgroup's, every process together) reached the
  // limit, or RLIMIT_CPU, which backs it up per process, ended a process
  // (SIGXCPU; its SIGKILL a second later leaves the account past the limit).
  r.cpu_time_exceeded = facts.cpu_time_exceeded || r.signal == SIGXCPU ||
                        facts.usage.cpu_time_ms >= limits.cpu_time_ms;
  r.oom_killed = facts.usage.oom_killed;
  r.output_truncated = facts.output_truncated;
  // The run's processes and threads reached the pids limit: a fork was
  // refused, or their most at once was the limit. The peak says so only when
  // it was below the limit as the run began (a container's start, before the
  // limit is set, can pass it).
  const CgroupUsage& u = facts.usage;
  if (u.pids_refused ||
      (u.pids_peak_before < limits.pids && u.pids_peak >= limits.pids && limits.pids > 0))
    r.limits_hit.push_back("pids");
  if (r.signal == SIGXFSZ) r.limits_hit.push_back("file_size");
  return r;
}

}  // namespace warden::sandboxing
