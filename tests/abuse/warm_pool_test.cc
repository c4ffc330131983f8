// Warm pools (native, docker, podman): sandboxes started ahead of need wait
// beside the runs. A run must not reach them (see, signal, write into their
// staging), and a sandbox serves one run only, so nothing a program leaves
// reaches the next one. (What a host killed with a full pool leaves is
// host_death_test.cc's.)
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "backends.h"
#include "shared/owner.h"
#include "support/process.h"

using namespace warden;
using namespace warden::abuse;
namespace fs = std::filesystem;

namespace {

// Host pids of this process's launchers waiting in a warm sandbox (or
// watching a run).
std::set<pid_t> launchers() {
  std::set<pid_t> found;
  std::string tag = "-" + sandboxing::owner_tag(sandboxing::this_owner()) + "-";
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (test::read_file(entry.path() / "cgroup").find(tag) == std::string::npos) continue;
    if (test::read_file(entry.path() / "cmdline").find("/sandbox/warden-launch") ==
        std::string::npos)
      continue;
    // The launcher itself, not a container's init whose command line holds its.
    if (test::read_file(entry.path() / "comm") != "warden-launch\n") continue;
    found.insert(static_cast<pid_t>(std::stol(name)));
  }
  return found;
}

bool alive(pid_t pid) {
  return ::kill(pid, 0) == 0;
}

}  // namespace

TEST_CASE("a run cannot reach the warm sandboxes waiting beside it") {
  for_each_backend([](const SandboxBackend& b) {
    RunSpec spec = short_spec();
    // The pool fills with sandboxes of this shape (native: from its second run on).
    run(b, spec, "print(1)\n");
    run(b, spec, "print(1)\n");
    std::set<pid_t> waiting;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while ((waiting = launchers()).size() < 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    // Once the used sandbox's processes (ending as the run did) are surely gone.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    waiting = launchers();
    REQUIRE(waiting.size() >= 2);
    // The program is given the host pids of the waiting launchers, and tries
    // every pid it can name besides its own line, and every way into /sandbox.
    std::string pids;
    for (pid_t p : waiting) pids += std::to_string(p) + ",";
    std::string code = R"(import json, os, signal
report = {'killed': [], 'written': []}
mine = {os.getpid(), os.getppid(), 1}
for pid in [)" + pids + R"(] + list(range(2, 64)):
    if pid in mine:
        continue
    try:
        os.kill(pid, signal.SIGKILL)
        report['killed'].append(pid)
    except OSError:
        pass
for path, flags in [('/sandbox/.launch.json', os.O_WRONLY | os.O_TRUNC),
                    ('/sandbox/main.py', os.O_WRONLY | os.O_TRUNC),
                    ('/sandbox/planted', os.O_WRONLY | os.O_CREAT),
                    ('/sandbox/warden-launch', os.O_WRONLY | os.O_TRUNC),
                    ('/sandbox/.go', os.O_WRONLY | os.O_NONBLOCK)]:
    try:
        os.close(os.open(path, flags, 0o644))
        report['written'].append(path)
    except OSError:
        pass
report['pids'] = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
report['host_dirs'] = [d for d in ('/var/lib/warden', '/run/warden') if os.path.exists(d)]
print(json.dumps(report))
)";
    RunResult r = run(b, spec, code);
    INFO(r.stdout_data << r.stderr_data);
    REQUIRE(r.exit_code == 0);
    auto report = nlohmann::json::parse(r.stdout_data);
    // Only its own sandbox's processes, which it may end only for itself.
    CHECK(report["pids"].size() < 6);
    for (const auto& pid : report["killed"]) CHECK(pid.get<int>() < 64);
    CHECK(report["written"].empty());
    CHECK(report["host_dirs"].empty());
    // The run took at most one of the waiting sandboxes; the others still wait.
    int gone = 0;
    for (pid_t p : waiting) gone += alive(p) ? 0 : 1;
    CHECK(gone <= 1);
    // And serve runs as they should.
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      RunResult next = run(b, spec, "print('fine')\n");
      CHECK(next.stdout_data == "fine\n");
    }
  });
}

TEST_CASE("nothing a run leaves reaches the next run: each sandbox serves one") {
  for_each_backend([](const SandboxBackend& b) {
    RunSpec spec = short_spec();
    std::set<std::string> sandboxes;
    for (int i = 0; i < 6; ++i) {
      // Lists what it finds, then leaves files, a /dev/shm segment and a
      // child that keeps writing after the program ends.
      RunResult r = run(b, spec, R"(import os, time
print(sorted(os.listdir('/tmp')), sorted(os.listdir('/dev/shm')))
open('/tmp/left', 'w').write('x')
open('/dev/shm/segment', 'w').write('x')
if os.fork() == 0:
    os.setsid()
    for i in range(100):
        open('/tmp/late-%d' % i, 'w').write('x')
        time.sleep(0.05)
    os._exit(0)
)");
      INFO(r.stdout_data << r.stderr_data);
      CHECK(r.stdout_data == "[] []\n");
      sandboxes.insert(r.backend_run_id);
    }
    CHECK(sandboxes.size() == 6);
  });
}

TEST_CASE("two native backends in one process keep their warm sandboxes apart") {
  // Two Hosts in one process (Mai's SafetyAPI twice) each have a backend
  // with a pool, under one owner tag: their sandboxes' cgroups and folders
  // must not share names, or one's teardown kills the other's runs.
  for_each_backend([](const SandboxBackend& native) {
    if (native.name() != "native") return;
    PluginCatalog catalog;
    catalog.load_directory(WARDEN_PLUGIN_DIR);
    auto first = catalog.create_sandbox("native", {}, "backends.settings.native");
    auto second = catalog.create_sandbox("native", {}, "backends.settings.native");
    RunSpec spec = short_spec();
    std::set<std::string> ids;
    int warm_runs[2] = {0, 0};
    for (int i = 0; i < 20 && (warm_runs[0] < 2 || warm_runs[1] < 2); ++i) {
      for (int which = 0; which < 2; ++which) {
        RunResult r = run(which == 0 ? *first : *second, spec, "print('fine')\n");
        INFO(r.backend_run_id << ": " << r.stderr_data);
        CHECK(r.stdout_data == "fine\n");
        CHECK(ids.insert(r.backend_run_id).second);
        if (r.backend_run_id.find("-w") != std::string::npos) ++warm_runs[which];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the pools refill
    }
    CHECK(warm_runs[0] >= 2);
    CHECK(warm_runs[1] >= 2);
  });
}
