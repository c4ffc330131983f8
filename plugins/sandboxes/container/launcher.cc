#include "launcher.h"

#include <map>
#include <nlohmann/json.hpp>

#include "shared/sandbox_limits.h"

namespace warden::containers {
namespace {

// How long after the wall-time limit the launcher ends a run itself: only
// when the host that should have ended it is gone (killed, say).
constexpr std::uint64_t kWatchdogGraceMs = 2000;

// Every container's first program, run by the image's Python with nothing
// but the standard library. It opens the FIFO without waiting for a writer;
// the host opens its end as soon as that is done and writes "r" (ready); a
// host that died before (while filling its warm pool, say) never will, so
// the launcher exits after 30 s without it (a loaded engine can take seconds
// to answer the start that comes before the host's open). Then it waits until the host
// writes "g" (or goes away: then it exits), then starts the program in a child that
// lowers its rlimits as the message says and execs it with exactly the given
// environment. Everything slow (interpreter start, imports) happens before
// the wait. The launcher stays as the run's watchdog: when the host's end of
// the FIFO closes (the host died, or ended the run) or `deadline_ms` passes,
// it kills every process of the sandbox user and exits, which ends the
// container (its init exits with its only child). So no run outlives its
// host or its wall time. It exits with the program's status, or 128 + the
// signal that ended it.
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
pid = os.fork()
if pid == 0:
    try:
        os.close(host)
        for name, soft, hard in m['rlimits']:
            resource.setrlimit(getattr(resource, 'RLIMIT_' + name), (soft, hard))
        os.chdir(m['cwd'])
        os.execve(m['argv'][0], m['argv'], m['env'])
    except (OSError, ValueError) as e:
        os.write(2, ('warden-launch: %s: %s\n' % (m['argv'][0], e)).encode())
        os._exit(125)
for fd in (0, 1, 2):
    os.close(fd)
watch = select.poll()
watch.register(host, select.POLLIN)
watch.register(os.pidfd_open(pid), select.POLLIN)
while True:
    left = deadline - time.monotonic()
    done = os.waitpid(pid, os.WNOHANG)
    if done[0] == pid:
        status = done[1]
        os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
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

std::string launch_message(const RunSpec& spec, const std::vector<std::string>& argv) {
  const Limits& l = spec.limits;
  nlohmann::json env = nlohmann::json::object();
  for (const auto& [k, v] : program_environment(spec)) env[k] = v;
  return nlohmann::json{
      {"argv", argv},
      {"env", env},
      {"cwd", "/tmp"},
      {"deadline_ms", l.wall_time_ms + kWatchdogGraceMs},
      {"rlimits",
       {{"FSIZE", l.file_size_bytes, l.file_size_bytes},
        {"CPU", sandboxing::cpu_limit_seconds(l), sandboxing::cpu_limit_seconds(l) + 1},
        {"CORE", 0, 0}}}}
      .dump();
}

}  // namespace warden::containers
