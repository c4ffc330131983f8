// Runs that outlive warden: `warden run` is sent SIGTERM, SIGINT or SIGKILL
// while its program sleeps, on every backend. TERM and INT end the run, write
// its records and leave nothing; after KILL the sandbox ends by itself at
// once (the host's death is noticed inside it), and the next warden to start
// reaps what the dead one left (containers, cgroups, scratch mounts).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "audit/audit_reader.h"
#include "audit/note_signer.h"
#include "backends.h"
#include "shared/owner.h"
#include "support/process.h"
#include "support/service.h"

using namespace warden;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

extern char** environ;

namespace {

// Processes whose cgroup names the owner tag (and, if given, whose command
// line holds `marker`): the sandboxes of that warden.
std::vector<pid_t> sandbox_processes(const std::string& tag, const std::string& marker = "") {
  std::vector<pid_t> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (test::read_file(entry.path() / "cgroup").find("-" + tag + "-") == std::string::npos)
      continue;
    if (!marker.empty() &&
        test::read_file(entry.path() / "cmdline").find(marker) == std::string::npos)
      continue;
    found.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return found;
}

std::vector<std::string> cgroups_named(const std::string& tag) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    fs::path parent = hierarchy.path() / "warden";
    if (!fs::is_directory(parent)) parent = hierarchy.path();
    for (const auto& entry : fs::directory_iterator(parent, ec))
      if (entry.path().filename().string().find("-" + tag + "-") != std::string::npos)
        found.push_back(entry.path());
  }
  return found;
}

std::string containers_of(const std::string& backend, const std::string& owner) {
  if (backend == "native") return "";
  std::string cli = backend == "docker" ? "/usr/local/bin/docker" : "/usr/bin/podman";
  if (!fs::exists(cli)) cli = "/usr/bin/" + backend;
  auto r = test::run_process({cli, "ps", "-aq", "--filter", "label=io.warden.owner=" + owner});
  return r.out;
}

// The mounts whose place names the owner: the scratch spaces of its runs.
std::string scratch_mounts_of(const std::string& owner) {
  std::istringstream mounts(test::read_file("/proc/self/mounts"));
  std::string found;
  for (std::string line; std::getline(mounts, line);)
    if (line.find("/" + owner + "-") != std::string::npos) found += line + "\n";
  return found;
}

bool eventually(const std::function<bool()>& done, std::chrono::seconds within) {
  auto deadline = Clock::now() + within;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

struct Warden {
  test::TempDir dir;
  fs::path config;
  explicit Warden(const std::string& backend) {
    config = dir.write(
        "warden.yaml",
        "log_level: warn\nplugins: {directories: [" + std::string(WARDEN_PLUGIN_DIR) +
            "]}\nassessors: {enabled: [heuristics]}\n"
            "backends: {enabled: [" +
            backend + "]}\npolicies: {directory: " + std::string(WARDEN_SOURCE_DIR) +
            "/policies/default}\naudit:\n  directory: " + (dir.path() / "audit").string() +
            "\n  signing_key: " + (dir.path() / "keys/audit.key").string() +
            "\nservice: {socket: " + socket().string() + "}\n");
  }
  fs::path socket() const { return dir.path() / "s.sock"; }
  // Starts `warden run` of `program` in the background; its output goes to files.
  pid_t start(const std::string& backend, const std::string& program,
              const std::string& limits = "wall_time=120s") {
    fs::path file = dir.write("program.py", program);
    std::vector<std::string> argv = {
        test::warden_binary(), "--config", config.string(), "run",  "--json",     "--confirm",
        "--backend",           backend,    "--limit",       limits, file.string()};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, (dir.path() / "out").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, (dir.path() / "err").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    return pid;
  }
  std::string output() const {
    return test::read_file(dir.path() / "out") + test::read_file(dir.path() / "err");
  }
  std::vector<std::string> kinds() const {
    std::vector<std::string> out;
    for (const auto& r : audit::scan_log(dir.path() / "audit", "warden.local/audit").records)
      out.push_back(r.kind + (r.data.value("cancelled", false) ? ":cancelled" : "") +
                    (r.kind == "resource_violation" ? ":" + r.data["violations"].dump() : ""));
    return out;
  }
};

// Starts a service in the place of one that was killed (its socket is
// replaced), runs a program through it, and checks that it reaped what the
// dead one (`owner`) left: cgroups, containers, scratch mounts.
void next_service_reaps(Warden& warden, std::unique_ptr<test::ServiceProcess>& service,
                        const std::string& backend, const std::string& owner) {
  std::string tag = sandboxing::owner_tag(owner);
  service = std::make_unique<test::ServiceProcess>(warden.config, warden.socket(),
                                                   warden.dir.path() / "serve.log");
  pid_t again = warden.start(backend, "print('next')\n");
  int status = 0;
  REQUIRE(::waitpid(again, &status, 0) == again);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK(eventually([&] { return cgroups_named(tag).empty(); }, std::chrono::seconds(10)));
  CHECK(containers_of(backend, owner).empty());
  CHECK(scratch_mounts_of(owner).empty());
}

}  // namespace

TEST_CASE("killing warden mid-run leaves no process, container or cgroup") {
  abuse::for_each_backend([](const SandboxBackend& b) {
    for (int signal : {SIGTERM, SIGINT, SIGKILL}) {
      DYNAMIC_SECTION("signal " << signal) {
        Warden warden(b.name());
        pid_t pid = warden.start(b.name(), "import time\ntime.sleep(300)\n");
        std::string owner = sandboxing::owner_of(pid);
        std::string tag = sandboxing::owner_tag(owner);
        // The program runs once a process of this warden's sandbox is it.
        bool running =
            eventually([&] { return !sandbox_processes(tag, "/sandbox/main.py").empty(); },
                       std::chrono::seconds(60));
        INFO(warden.output());
        REQUIRE(running);
        ::kill(pid, signal);
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        if (signal == SIGKILL) {
          CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
        } else {
          CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 128 + signal));
          // The run's records were written before warden exited.
          auto kinds = warden.kinds();
          CHECK(std::count(kinds.begin(), kinds.end(), "run_result:cancelled") == 1);
          CHECK(std::count(kinds.begin(), kinds.end(), "resource_violation:[\"cancelled\"]") == 1);
        }
        CHECK(eventually([&] { return sandbox_processes(tag).empty(); }, std::chrono::seconds(10)));
        if (signal == SIGKILL) {
          // The next warden to start reaps what the dead one left.
          Warden next(b.name());
          pid_t again = next.start(b.name(), "print('next')\n");
          REQUIRE(::waitpid(again, &status, 0) == again);
          INFO(next.output());
          CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
        }
        CHECK(eventually([&] { return cgroups_named(tag).empty(); }, std::chrono::seconds(10)));
        CHECK(containers_of(b.name(), owner).empty());
        CHECK(scratch_mounts_of(owner).empty());
      }
    }
  });
}

// The same for the service: `warden run` sends its program to `warden serve`,
// which is killed with SIGKILL while the program sleeps.
TEST_CASE(
    "killing warden serve mid-run leaves no process, container or cgroup, and an intact log") {
  abuse::for_each_backend([](const SandboxBackend& b) {
    Warden warden(b.name());
    auto service = std::make_unique<test::ServiceProcess>(warden.config, warden.socket(),
                                                          warden.dir.path() / "serve.log");
    std::string owner = sandboxing::owner_of(service->pid());
    std::string tag = sandboxing::owner_tag(owner);
    pid_t client = warden.start(b.name(), "import time\ntime.sleep(300)\n");
    bool running = eventually([&] { return !sandbox_processes(tag, "/sandbox/main.py").empty(); },
                              std::chrono::seconds(60));
    INFO(warden.output() << service->log());
    REQUIRE(running);
    service->stop(SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(client, &status, 0) == client);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 3));  // the service went away
    CHECK_THAT(warden.output(), Catch::Contains("warden service"));
    CHECK(eventually([&] { return sandbox_processes(tag).empty(); }, std::chrono::seconds(10)));
    // The next service replaces the dead one's socket and reaps what it left.
    next_service_reaps(warden, service, b.name(), owner);
    // Nothing the dead service wrote is lost or damaged: the next one, once
    // stopped, has signed what the dead one had not.
    service->stop(SIGTERM);
    auto report = audit::verify_log(
        warden.dir.path() / "audit", "warden.local/audit",
        audit::read_verifier_key(warden.dir.path() / "keys/audit.key.pub"), std::nullopt);
    INFO(report.reason);
    CHECK(report.intact);
  });
}

// The host audits a resource violation when the backend reports the run's CPU
// time spent, however many processes spent it.
TEST_CASE("a run stopped at its CPU time is audited as a resource violation") {
  abuse::for_each_backend([](const SandboxBackend& b) {
    Warden warden(b.name());
    pid_t pid =
        warden.start(b.name(),
                     "import os\nfor _ in range(3):\n    if os.fork() == 0:\n        break\n"
                     "while True:\n    pass\n",
                     "cpu_time=1s,cpus=2,wall_time=20s");
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    INFO(warden.output());
    CHECK(warden.output().find("\"cpu_time_exceeded\": true") != std::string::npos);
    auto kinds = warden.kinds();
    CHECK(std::count(kinds.begin(), kinds.end(), "resource_violation:[\"cpu_time\"]") == 1);
  });
}

// A host killed while its warm pool is full and one of its sandboxes runs a
// program: every sandbox ends at once (each launcher sees the host's end of
// its FIFO close; bwrap's parent-death signal fires), and the next host reaps
// their cgroups, scratch mounts and staging folders.
TEST_CASE("killing warden serve with a full warm pool leaves no process, cgroup or mount") {
  abuse::for_each_backend([](const SandboxBackend& b) {
    Warden warden(b.name());
    auto service = std::make_unique<test::ServiceProcess>(warden.config, warden.socket(),
                                                          warden.dir.path() / "serve.log");
    std::string owner = sandboxing::owner_of(service->pid());
    std::string tag = sandboxing::owner_tag(owner);
    int status = 0;
    // Native keeps a shape warm from its second run on.
    for (int i = 0; i < 2; ++i) {
      pid_t client = warden.start(b.name(), "print('warm')\n");
      REQUIRE(::waitpid(client, &status, 0) == client);
      INFO(warden.output() << service->log());
      REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    // The refill: two sandboxes whose launchers wait.
    REQUIRE(eventually([&] { return sandbox_processes(tag, "/sandbox/warden-launch").size() >= 2; },
                       std::chrono::seconds(60)));
    // One of them takes a program that sleeps, and the pool refills beside it.
    pid_t sleeper = warden.start(b.name(), "import time\ntime.sleep(300)\n");
    REQUIRE(eventually([&] { return !sandbox_processes(tag, "/sandbox/main.py").empty(); },
                       std::chrono::seconds(60)));
    std::this_thread::sleep_for(std::chrono::seconds(1));
    service->stop(SIGKILL);
    REQUIRE(::waitpid(sleeper, &status, 0) == sleeper);
    CHECK(eventually([&] { return sandbox_processes(tag).empty(); }, std::chrono::seconds(10)));
    next_service_reaps(warden, service, b.name(), owner);
    for (const char* dir : {"/var/lib/warden/native", "/var/lib/warden/staging"}) {
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(dir, ec))
        CHECK(entry.path().filename().string().rfind(owner + "-", 0) != 0);
    }
    service->stop(SIGTERM);
  });
}
