// What every sandbox backend makes of a run's limits alike: the limits no
// program could start under, which are refused rather than run, and the CPU
// limit as RLIMIT_CPU counts it.
#pragma once

#include <warden/plugin.h>

#include <cstdint>
#include <string>

namespace warden::sandboxing {

// Throws PluginError(WARDEN_ERR_UNSUPPORTED) naming the first limit that
// could not hold at all. `init` names the process that runs beside the
// program and counts against the pids limit ("bwrap's init").
inline void refuse_unenforceable(const Limits& l, const std::string& init) {
  auto refuse = [](const std::string& what) { throw PluginError(WARDEN_ERR_UNSUPPORTED, what); };
  if (l.memory_bytes < (8ull << 20)) refuse("memory: below 8 MiB the interpreter cannot start");
  if (l.pids < 2) refuse("pids: at least 2 are needed (" + init + " and the program)");
  if (l.open_files < 16) refuse("open_files: at least 16 are needed to start the interpreter");
  if (l.cpus <= 0) refuse("cpus: must be positive");
  if (l.wall_time_ms == 0 || l.cpu_time_ms == 0) refuse("time limits must be positive");
  if (l.tmpfs_bytes == 0) refuse("tmpfs: must be positive");
}

// The CPU time limit in whole seconds, rounded up: RLIMIT_CPU's soft limit
// (the hard one is a second later).
inline std::uint64_t cpu_limit_seconds(const Limits& l) {
  return (l.cpu_time_ms + 999) / 1000;
}

}  // namespace warden::sandboxing
