// Starting bwrap in a child that first joins the run's cgroups, sets its
// rlimits and drops to the unprivileged user; then feeding stdin, reading
// stdout/stderr under a hard cap, and enforcing the wall-clock limit.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>
#include <warden/plugin.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace warden::native {

// At most this many inherited_fds (the child moves them on its stack).
inline constexpr std::size_t kMaxInheritedFds = 8;

struct ChildSetup {
  std::string program;                             // absolute path of bwrap
  std::vector<std::string> argv;                   // argv[0] included
  std::vector<std::string> env;                    // bwrap's own environment ("K=V")
  std::vector<int> cgroup_fds;                     // cgroup.procs files to write "0" to
  std::vector<std::pair<int, int>> inherited_fds;  // (open fd, number in the child >= 3)
  uid_t uid = 65534;
  gid_t gid = 65534;
  std::vector<std::pair<int, rlimit>> rlimits;
};

struct ChildOutcome {
  int wait_status = 0;  // from waitpid on bwrap
  bool timed_out = false;
  bool cpu_time_exceeded = false;
  bool output_truncated = false;
  bool cancelled = false;
  std::string out;
  std::string err;
  std::uint64_t wall_time_ms = 0;
  int reported_status = -1;  // the launcher's, through status_fd; -1: none came
};

// A started child: bwrap, with the host's ends of its stdin, stdout and
// stderr pipes.
struct StartedChild {
  pid_t pid = -1;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // A warm sandbox's: the read end on which its launcher writes the program's
  // status as it exits ("<status>\n"). The pump then ends the run at once.
  int status_fd = -1;
};

// Starts the child (it has exec'd bwrap when this returns). Throws
// std::runtime_error when it cannot be started, with the step and errno, after
// calling `kill_tree`.
StartedChild start_child(const ChildSetup& setup, const std::function<void()>& kill_tree);

// Feeds stdin, pumps output and watches the limits of a started child from
// `start` on, until it has exited and its output ended; closes its pipes and
// reaps it. The same contract as run_child. A child without a pid (-1): the
// program of a warm sandbox, whose launcher reports its status on status_fd;
// the run ends when that has come (or the fd closed) and the output ended.
ChildOutcome pump_child(StartedChild& child, std::chrono::steady_clock::time_point start,
                        std::string_view stdin_data, std::uint64_t wall_time_ms,
                        std::uint64_t output_cap, OutputStream& output,
                        const std::function<bool()>& cancelled,
                        const std::function<bool()>& cpu_exhausted,
                        const std::function<void()>& kill_tree);

// Runs the child to completion (start_child, then pump_child). `kill_tree` must kill every process
// of the run (the cgroup); it is called on timeout, output overflow, cancellation, when
// `cpu_exhausted` (polled every few milliseconds) says the run's CPU time is spent, and once the
// child has exited (to end anything it left). Throws std::runtime_error when the child cannot be
// started, with the step and errno. Each piece of output kept (under `output_cap`) also goes to
// `output` as it arrives.
ChildOutcome run_child(const ChildSetup& setup, std::string_view stdin_data,
                       std::uint64_t wall_time_ms, std::uint64_t output_cap, OutputStream& output,
                       const std::function<bool()>& cancelled,
                       const std::function<bool()>& cpu_exhausted,
                       const std::function<void()>& kill_tree);

}  // namespace warden::native
