#include "shared/launcher.h"

#include <map>
#include <nlohmann/json.hpp>

#include "shared/sandbox_limits.h"

namespace warden::sandboxing {
namespace {

// How long after the wall-time limit the launcher ends a run itself: only
// when the host that should have ended it is gone (killed, say).
constexpr std::uint64_t kWatchdogGraceMs = 2000;

// Every container's (and native warm sandbox's) first program, run by the
// sandbox's Python with nothing but the standard library. It opens the FIFO
// without waiting for a writer; the host opens its end as soon as that is
// done and writes "r" (ready); a host that died before (while filling its
// warm pool, say) never will, so the launcher exits after 30 s without it (a
// loaded engine can take seconds to answer the start that comes before the
// host's open). Then it waits until the host writes "g" (or goes away: then
// it exits), lowers its own rlimits as the message says (it needs next to
// nothing: a few files, no CPU to speak of) and spawns the program
// (posix_spawn: no copy of the launcher's memory), which inherits them, with
// exactly the given environment, its stdio from the message's "stdio" fds
// (0, 1, 2 by default) and none of the launcher's. Everything slow
// (interpreter start, imports) happens before the wait. The launcher stays
// as the run's watchdog: when the host's end of the FIFO closes (the host
// died, or ended the run) or `deadline_ms` passes, it kills every process of
// the sandbox user and exits, which ends the sandbox (its init exits with its
// only child). So no run outlives its host or its wall time. It exits with
// the program's status, or 128 + the signal that ended it; given a status
// fd, it first writes that status there (text, a newline after it), so that
// the host learns of the end at once rather than through the exits of the
// sandbox's other processes (bwrap's).
constexpr const char* kLauncher = R"(import json, os, resource, select, signal, time
host = os.open('/sandbox/.go', os.O_RDONLY | os.O_NONBLOCK)
ready = select.poll()
ready.register(host, select.POLLIN)
if not ready.poll(30000) or os.read(host, 1) != b'r':
    os._exit(0)
os.set_blocking(host, True)
try:
    if os.read(host, 1) != b'g':
        os._exit(0)
    with open('/sandbox/.launch.json', 'rb') as f:
        m = json.load(f)
except OSError:
    os._exit(0)
deadline = time.monotonic() + m['deadline_ms'] / 1000
status_fd = m.get('status_fd', -1)
stdio = m.get('stdio', [0, 1, 2])
actions = [(os.POSIX_SPAWN_DUP2, fd, i) for i, fd in enumerate(stdio) if fd != i]
actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in sorted(set(stdio) - {0, 1, 2})]
if status_fd >= 0:
    actions.append((os.POSIX_SPAWN_CLOSE, status_fd))
try:
    for name, soft, hard in m['rlimits']:
        resource.setrlimit(getattr(resource, 'RLIMIT_' + name), (soft, hard))
    os.chdir(m['cwd'])
    pid = os.posix_spawn(m['argv'][0], m['argv'], m['env'], file_actions=actions)
except (OSError, ValueError) as e:
    os.write(stdio[2], ('warden-launch: %s: %s\n' % (m['argv'][0], e)).encode())
    if status_fd >= 0:
        os.write(status_fd, b'125\n')
    os._exit(125)
for fd in set(stdio) | {0, 1, 2}:
    os.close(fd)
watch = select.poll()
watch.register(host, select.POLLIN)
watch.register(os.pidfd_open(pid), select.POLLIN)
while True:
    left = deadline - time.monotonic()
    done = os.waitpid(pid, os.WNOHANG)
    if done[0] == pid:
        status = done[1]
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        if status_fd >= 0:
            os.write(status_fd, b'%d\n' % code)
        os._exit(code)
    if left <= 0 or any(fd == host for fd, _ in watch.poll(left * 1000)):
        os.kill(-1, signal.SIGKILL)
        os._exit(128 + signal.SIGKILL)
)";

std::map<std::string, std::string> program_environment(const RunSpec& spec) {
  std::map<std::string, std::string> env = {
      {"HOME", "/tmp"}, {"PATH", "/usr/bin:/bin"}, {"PWD", "/tmp"}, {"TMPDIR", "/tmp"}};
  for (const auto& [k, v] : spec.env) env[k] = v;
  return env;
}

}  // namespace

std::vector<std::string> launcher_command(const std::string& python) {
  return {python, "-I", "-S", "-c", kLauncher};
}

std::string launch_message(const RunSpec& spec, const std::vector<std::string>& argv,
                           const std::vector<LaunchRlimit>& more, int status_fd,
                           const std::vector<int>& stdio) {
  const Limits& l = spec.limits;
  nlohmann::json env = nlohmann::json::object();
  for (const auto& [k, v] : program_environment(spec)) env[k] = v;
  nlohmann::json rlimits = {
      {"FSIZE", l.file_size_bytes, l.file_size_bytes},
      {"CPU", sandboxing::cpu_limit_seconds(l), sandboxing::cpu_limit_seconds(l) + 1},
      {"CORE", 0, 0}};
  for (const auto& [name, soft, hard] : more) rlimits.push_back({name, soft, hard});
  nlohmann::json message{{"argv", argv},       {"env", env},
                         {"cwd", "/tmp"},      {"deadline_ms", l.wall_time_ms + kWatchdogGraceMs},
                         {"rlimits", rlimits}, {"status_fd", status_fd}};
  if (!stdio.empty()) message["stdio"] = stdio;
  return message.dump();
}

}  // namespace warden::sandboxing
