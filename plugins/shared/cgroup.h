// A cgroup for one run: memory (no swap), pids and CPU bandwidth, on cgroup v2
// or on v1/hybrid hosts. It measures the run (peak memory, CPU time, OOM
// kills, pids refusals), kills everything in it, and removes itself together
// with any cgroups created below it (a container engine given it as the
// cgroup parent makes its own there, in every v1 hierarchy).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace warden::sandboxing {

// A zero field sets no limit of that kind.
struct CgroupLimits {
  std::uint64_t memory_bytes = 0;
  double cpus = 0;
  std::uint32_t pids = 0;
};

struct CgroupUsage {
  std::uint64_t peak_memory_bytes = 0;
  std::uint64_t cpu_time_ms = 0;
  bool oom_killed = false;  // the OOM killer ran at this cgroup's memory limit
  // A fork was refused at the pids limit: pids.events here, or in a cgroup
  // below that still exists (the kernel counts a refusal in the forking
  // task's cgroup on v1, and on v2 before Linux 6.14).
  bool pids_refused = false;
  // The most processes and threads there were at once (pids.peak, which
  // counts the cgroups below; 0 where the kernel has none), and the same at
  // begin_measuring(): pids.peak cannot be restarted.
  std::uint64_t pids_peak = 0;
  std::uint64_t pids_peak_before = 0;
};

class Cgroup {
 public:
  // Kills what runs in, and removes, every cgroup <parent>/<name> (in every
  // hierarchy) whose name `stale` accepts: those of a host that died.
  static void remove_stale(const std::string& parent,
                           const std::function<bool(const std::string&)>& stale);
  // Which hierarchy this host offers, or why none is usable; empty when fine.
  static std::string unusable_reason(const std::string& parent);

  // Creates <parent>/<name> with the limits. Throws std::runtime_error naming
  // the limit that cannot be enforced and why.
  Cgroup(const std::string& parent, const std::string& name, const CgroupLimits& limits);
  ~Cgroup();  // kills what is left and removes the cgroup and those below it
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;

  // Open "cgroup.procs" files: a child writes "0" to each before exec, which
  // moves it (and so everything it starts) into the cgroup.
  const std::vector<int>& join_fds() const { return join_fds_; }
  // Sets the limits now (a zero field leaves that kind as it is). Throws
  // std::runtime_error naming the limit that cannot be set.
  void set_limits(const CgroupLimits& limits);
  // Starts the measurement over: usage() counts CPU time from here, and on v1
  // the peak memory too (v2 cannot reset it); the pids peak so far is kept
  // as pids_peak_before.
  void begin_measuring();
  // Kills every process in the cgroup and waits until it is empty.
  void kill_all();
  // Sends every process in the cgroup SIGKILL without waiting for them to
  // go (their exits, namespaces and all, take a while); kill_all() later
  // makes sure they have.
  void kill_now();
  // The processes in the cgroup (and those below it), by host pid.
  std::vector<pid_t> processes() const;
  CgroupUsage usage() const;
  // The CPU time of every process that ran in it since begin_measuring():
  // cheap enough to poll while the run goes on.
  std::uint64_t cpu_time_ms() const;
  std::string id() const { return name_; }
  // The path to give a container engine as its cgroup parent: "/<parent>/<name>".
  std::string path() const { return "/" + parent_ + "/" + name_; }

 private:
  // Whether pids.events here or in a cgroup below counts a refused fork.
  bool pids_refused() const;

  std::vector<std::string> dirs_;  // one per hierarchy (v1) or one (v2)
  std::vector<int> join_fds_;
  // v1 with a memory limit: an eventfd the kernel signals when this cgroup's
  // limit invokes the OOM killer. v1 counts the kill ("oom_kill") only in the
  // victim's own cgroup, which an engine's container cgroup below this one is.
  int oom_event_fd_ = -1;
  std::uint64_t cpu_baseline_ms_ = 0;
  std::uint64_t pids_peak_before_ = 0;
  std::string parent_;
  std::string name_;
  bool v2_ = false;
};

}  // namespace warden::sandboxing
