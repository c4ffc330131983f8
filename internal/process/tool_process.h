// An external analysis tool run by an assessor plugin (Bandit, Semgrep): a
// child process in its own process group, with pipes to its stdin, stdout and
// stderr, reads bounded by a deadline, and a kill that takes the whole group.
// The child dies with the host: by default through PR_SET_PDEATHSIG, which
// Linux ties to the *thread* that forked it (prctl(2)), so it also kills the
// child when that thread ends — right for a tool run and waited for by one
// call, wrong for a worker kept for later calls. A long-lived worker passes
// Lifetime::kUntilStdinCloses and must exit when its stdin ends: the host's
// end of that pipe closes however the host ends, SIGKILL included.
//
// Not thread-safe: one owner at a time. The destructor kills and reaps.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace warden::tools {

using Deadline = std::chrono::steady_clock::time_point;

// Why a read failed; `what()` says it for people.
class ToolFailure : public std::runtime_error {
 public:
  enum class Kind { kTimeout, kExited, kIo };
  ToolFailure(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

class ToolProcess {
 public:
  enum class Lifetime {
    kWithCallingThread,  // PR_SET_PDEATHSIG: killed when the forking thread ends
    kUntilStdinCloses,   // a worker that exits at the end of its stdin
  };
  // Starts argv[0] (an absolute path) with exactly `env` as its environment
  // and `cwd` as its folder. Throws ToolFailure(kIo) when it cannot start.
  ToolProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
              const std::string& cwd, Lifetime lifetime = Lifetime::kWithCallingThread);
  ~ToolProcess();
  ToolProcess(const ToolProcess&) = delete;
  ToolProcess& operator=(const ToolProcess&) = delete;

  // Writes all of `data` to the tool's stdin.
  void write(const std::string& data);
  // Closes the tool's stdin (end of input).
  void close_stdin();
  // The next line of stdout without its '\n'. Throws ToolFailure: kTimeout at
  // the deadline, kExited when stdout ends first.
  std::string read_line(Deadline deadline);
  // All of stdout until the tool exits; returns its wait status. Throws
  // ToolFailure(kTimeout) at the deadline (the tool is then killed).
  int read_to_exit(Deadline deadline, std::string& out);
  // The last few KiB the tool wrote to stderr, for error messages.
  std::string stderr_tail() const;
  // Whether the tool has not exited yet (reaps it when it has).
  bool running();
  // Kills the whole process group and reaps the child. Idempotent.
  void kill();

 private:
  // Waits for readable stdout/stderr until `deadline`, draining stderr.
  // Returns bytes appended to buffer_ (0 at end of stdout).
  std::size_t fill(Deadline deadline);

  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1, stderr_ = -1;
  std::string buffer_;        // stdout read but not yet returned
  std::size_t searched_ = 0;  // how much of buffer_ has no '\n' (a long line comes in chunks)
  std::string stderr_tail_;
  int status_ = 0;
  bool reaped_ = false;
};

// A short summary of a wait status: "exit code 1", "killed by signal 11".
std::string describe_status(int status);

}  // namespace warden::tools
