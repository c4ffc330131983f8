// What every sandbox backend makes of a run's limits alike: the limits no
// program could start under, which are refused rather than run, and the CPU
// limit as RLIMIT_CPU counts it. What a run's end makes of them is
// run_result.h.
#pragma once

#include <warden/plugin.h>

#include <cstdint>
#include <string>

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
// account (RunFacts::cpu_time_exceeded), which counts every process together.
inline std::uint64_t cpu_limit_seconds(const Limits& l) {
  return (l.cpu_time_ms + 999) / 1000;
}

}  // namespace warden::sandboxing
