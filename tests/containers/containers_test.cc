// The Docker and Podman backends beyond what the abuse suite checks: their
// settings, what they say when the engine or the image is missing, the image
// `warden image build` makes, and that no run leaves anything in the engine.
// Runs against the real dockerd and Podman service; an engine that is down
// fails the test under CI=true and is skipped with the reason elsewhere.
#define CATCH_CONFIG_MAIN
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_client.h"
#include "plugin/loader.h"
#include "support/process.h"

namespace warden {
namespace {

using engine::EngineClient;

const char* socket_of(const std::string& engine) {
  return engine == "docker" ? "/var/run/docker.sock" : "/run/podman/podman.sock";
}

// The API prefix of the calls these tests make themselves.
std::string api(const std::string& engine) {
  return engine == "docker" ? "/v1.41" : "/v4.0.0/libpod";
}

const PluginCatalog& catalog() {
  static PluginCatalog* c = [] {
    auto* out = new PluginCatalog;
    out->load_directory(WARDEN_PLUGIN_DIR);
    return out;
  }();
  return *c;
}

std::unique_ptr<SandboxBackend> backend(const std::string& name, nlohmann::json settings = {}) {
  JsonWithMarks marked;
  if (!settings.is_null()) marked.value = std::move(settings);
  return catalog().create_sandbox(name, marked, "backends.settings." + name);
}

// Whether `engine` answers and runs as root; otherwise the test is skipped
// (or fails under CI) with the reason.
bool engine_ready(const std::string& engine) {
  std::string why;
  if (::geteuid() != 0) {
    why = "the container backends need root";
  } else {
    try {
      EngineClient(socket_of(engine), std::chrono::seconds(5)).checked("GET", "/_ping");
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  if (why.empty()) return true;
  if (test::under_ci()) FAIL(engine << " is needed under CI: " << why);
  WARN("skipped: " << engine << ": " << why);
  return false;
}

RunSpec small_spec(const std::string& id) {
  RunSpec spec;
  spec.run_id = "containers-test-" + id;
  spec.limits.memory_bytes = 128ull << 20;
  spec.limits.cpus = 1;
  spec.limits.wall_time_ms = 10000;
  spec.limits.cpu_time_ms = 5000;
  spec.limits.pids = 32;
  spec.limits.file_size_bytes = 1 << 20;
  spec.limits.open_files = 64;
  spec.limits.tmpfs_bytes = 8 << 20;
  spec.limits.output_bytes = 64 * 1024;
  return spec;
}

bool container_exists(const std::string& engine, const std::string& id) {
  EngineClient client(socket_of(engine), std::chrono::seconds(10));
  return client.request("GET", api(engine) + "/containers/" + id + "/json").status == 200;
}

TEST_CASE("the container backends name the setting they reject") {
  for (const std::string engine : {"docker", "podman"}) {
    CAPTURE(engine);
    auto message = [&](nlohmann::json settings) -> std::string {
      try {
        backend(engine, std::move(settings));
      } catch (const std::exception& e) {
        return e.what();
      }
      return "accepted";
    };
    CHECK_THAT(message({{"colour", "red"}}), Catch::Contains("backends.settings." + engine) &&
                                                 Catch::Contains("/colour: unknown setting"));
    CHECK_THAT(message({{"interpreters", {{"python", {"python3"}}}}}),
               Catch::Contains("/interpreters/python") && Catch::Contains("absolute path"));
    CHECK_THAT(message({{"cgroup_parent", "../escape"}}), Catch::Contains("/cgroup_parent"));
    CHECK_THAT(message({{"api_timeout_ms", -5}}), Catch::Contains("/api_timeout_ms"));
    CHECK_THAT(message({{"warm_pool", 100}}), Catch::Contains("/warm_pool"));
  }
  CHECK_THROWS_WITH(backend("docker", {{"rootfs", "/srv/rootfs"}}),
                    Catch::Contains("/rootfs") && Catch::Contains("images only"));
}

TEST_CASE("an engine that is not running is named in the probe and in the run's error") {
  test::TempDir dir;
  std::string socket = (dir.path() / "engine.sock").string();
  for (const std::string engine : {"docker", "podman"}) {
    CAPTURE(engine);
    auto b = backend(engine, {{"socket", socket}});
    Availability a = b->probe();
    CHECK_FALSE(a.available);
    CHECK_THAT(a.reason, Catch::Contains(socket) && Catch::Contains("the daemon is not running"));
    try {
      b->run(small_spec("down"), "print(1)\n", "", {});
      FAIL("ran without an engine");
    } catch (const PluginCallError& e) {
      CHECK(e.status() == WARDEN_ERR_UNAVAILABLE);
      CHECK_THAT(e.what(), Catch::Contains(socket));
    }
  }
}

TEST_CASE("a missing image or root filesystem points at `warden image build`") {
  if (engine_ready("docker")) {
    Availability a = backend("docker", {{"image", "warden-no-such-image:never"}})->probe();
    CHECK_FALSE(a.available);
    CHECK_THAT(a.reason, Catch::Contains("warden-no-such-image:never") &&
                             Catch::Contains("warden image build"));
  }
  if (engine_ready("podman")) {
    test::TempDir empty;
    Availability a = backend("podman", {{"rootfs", empty.path().string()}})->probe();
    CHECK_FALSE(a.available);
    CHECK_THAT(a.reason, Catch::Contains(empty.path().string()) &&
                             Catch::Contains("/usr/bin/python3") &&
                             Catch::Contains("warden image build"));
  }
}

TEST_CASE("a run leaves no container and no staged code, and reports the container's id") {
  for (const std::string engine : {"docker", "podman"}) {
    if (!engine_ready(engine)) continue;
    CAPTURE(engine);
    test::TempDir staging;
    auto b = backend(engine, {{"staging_dir", staging.path().string()}, {"warm_pool", 0}});
    REQUIRE(b->probe().available);
    RunResult r = b->run(small_spec("clean-" + engine), "print(6 * 7)\n", "", {});
    CHECK(r.stdout_data == "42\n");
    CHECK(r.exit_code == 0);
    REQUIRE(r.backend_run_id.size() == 64);
    CHECK_FALSE(container_exists(engine, r.backend_run_id));
    // Only the derived seccomp profile stays, for the next runs of this backend.
    for (const auto& entry : std::filesystem::directory_iterator(staging.path()))
      CHECK(entry.path().filename().string().find("-seccomp.json") != std::string::npos);
  }
}

// The ids of the containers this process owns.
std::vector<std::string> own_containers(const std::string& engine) {
  EngineClient client(socket_of(engine), std::chrono::seconds(10));
  nlohmann::json filters = {{"label", {"io.warden.owner"}}};
  auto list =
      client.checked("GET", api(engine) + "/containers/json?all=true&filters=" + filters.dump())
          .json();
  std::string me = std::to_string(::getpid()) + ".";
  std::vector<std::string> ids;
  for (const auto& c : list)
    if (c["Labels"].value("io.warden.owner", "").rfind(me, 0) == 0) ids.push_back(c["Id"]);
  return ids;
}

// Whether the launcher of a container this process made for `engine` has
// been told to wait (the host holds its FIFO open) and sleeps in read().
bool launcher_waiting(const std::string& engine) {
  std::string own_cgroup = "/warden-" + engine + "-" + std::to_string(::getpid()) + "_";
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string cmdline = test::read_file(entry.path() / "cmdline");
    if (cmdline.find("/sandbox/warden-launch") == std::string::npos ||
        test::read_file(entry.path() / "cgroup").find(own_cgroup) == std::string::npos)
      continue;
    if (test::read_file(entry.path() / "wchan") == "pipe_read") return true;
  }
  return false;
}

TEST_CASE("a warm container serves one run, and the pool goes with the backend") {
  for (const std::string engine : {"docker", "podman"}) {
    if (!engine_ready(engine)) continue;
    CAPTURE(engine);
    REQUIRE(own_containers(engine).empty());
    test::TempDir staging;
    {
      auto b = backend(engine, {{"staging_dir", staging.path().string()}, {"warm_pool", 1}});
      RunResult first = b->run(small_spec("warm-1"), "print('first')\n", "", {});
      CHECK(first.stdout_data == "first\n");
      CHECK_FALSE(container_exists(engine, first.backend_run_id));
      // The pool prepares one container for the next run of this shape: it is
      // ready once its launcher waits in read() on the FIFO.
      for (int i = 0; i < 300 && !launcher_waiting(engine); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::vector<std::string> warm = own_containers(engine);
      REQUIRE(warm.size() == 1);
      RunResult second =
          b->run(small_spec("warm-2"), "import os\nprint(sorted(os.environ))\n", "", {});
      CHECK(second.backend_run_id == warm[0]);
      CHECK(second.stdout_data == "['HOME', 'PATH', 'PWD', 'TMPDIR']\n");
      CHECK_FALSE(container_exists(engine, second.backend_run_id));
      // A different shape (the tmpfs size is fixed at creation) is not served from it.
      RunSpec other = small_spec("warm-3");
      other.limits.tmpfs_bytes = 4 << 20;
      RunResult third = b->run(other, "print(3)\n", "", {});
      CHECK(third.stdout_data == "3\n");
      CHECK(std::find(warm.begin(), warm.end(), third.backend_run_id) == warm.end());
    }
    CHECK(own_containers(engine).empty());
    CHECK(std::filesystem::is_empty(staging.path()));
  }
}

TEST_CASE("an interpreter missing from the image is named, and the run refused") {
  for (const std::string engine : {"docker", "podman"}) {
    if (!engine_ready(engine)) continue;
    CAPTURE(engine);
    auto b = backend(engine, {{"interpreters", {{"ruby", {"/usr/bin/ruby"}}}}, {"warm_pool", 0}});
    RunSpec spec = small_spec("ruby");
    spec.language = "ruby";
    try {
      b->run(spec, "puts 1\n", "", {});
      FAIL("ran without an interpreter");
    } catch (const PluginCallError& e) {
      INFO(e.what());
      // Podman checks the root filesystem for every interpreter at its probe;
      // Docker learns it from the launcher in the container.
      CHECK(e.status() == (engine == "docker" ? WARDEN_ERR_UNSUPPORTED : WARDEN_ERR_UNAVAILABLE));
      CHECK_THAT(e.what(), Catch::Contains("/usr/bin/ruby"));
    }
  }
}

TEST_CASE("containers and staged code left by a host that died are removed at the next probe") {
  for (const std::string engine : {"docker", "podman"}) {
    if (!engine_ready(engine)) continue;
    CAPTURE(engine);
    // No process has this pid, so the owner is certainly gone.
    const std::string dead_owner = "4194305.1";
    EngineClient client(socket_of(engine), std::chrono::seconds(30));
    nlohmann::json spec;
    if (engine == "docker")
      spec = {{"Image", "warden-python:latest"},
              {"Cmd", {"/usr/bin/python3", "-c", "pass"}},
              {"Labels", {{"io.warden.owner", dead_owner}}}};
    else
      spec = {{"rootfs", "/var/lib/warden/rootfs/python"},
              {"command", {"/usr/bin/python3", "-c", "pass"}},
              {"labels", {{"io.warden.owner", dead_owner}}}};
    auto created = client.checked("POST", api(engine) + "/containers/create", spec).json();
    std::string leftover = created.at("Id");
    REQUIRE(container_exists(engine, leftover));

    test::TempDir staging;
    std::filesystem::create_directory(staging.path() / (dead_owner + "-warden-run-1"));
    auto b = backend(engine, {{"staging_dir", staging.path().string()}});
    REQUIRE(b->probe().available);
    CHECK_FALSE(container_exists(engine, leftover));
    CHECK_FALSE(std::filesystem::exists(staging.path() / (dead_owner + "-warden-run-1")));
    if (container_exists(engine, leftover))
      client.request("DELETE", api(engine) + "/containers/" + leftover + "?force=true");
  }
}

TEST_CASE("warden image build makes a root filesystem and an image the backends run") {
  if (::geteuid() != 0) {
    if (test::under_ci()) FAIL("warden image build needs root under CI");
    WARN("skipped: warden image build needs root");
    return;
  }
  bool docker = engine_ready("docker");
  bool podman = engine_ready("podman");
  test::TempDir dir;
  std::string rootfs = (dir.path() / "rootfs").string();
  const std::string tag = "warden-test-image:" + std::to_string(::getpid());
  std::string into = docker ? "docker" : "none";
  auto built = test::run_process({test::warden_binary(), "image", "build", "--rootfs", rootfs,
                                  "--tag", tag, "--import", into});
  INFO(built.out << built.err);
  REQUIRE(built.exit_code == 0);
  CHECK(std::filesystem::exists(rootfs + "/usr/bin/python3"));
  CHECK_FALSE(std::filesystem::exists(rootfs + "/usr/bin/bash"));
  CHECK_FALSE(std::filesystem::exists(rootfs + "/usr/lib/python3/dist-packages"));

  const std::string program = "import json, sqlite3, ssl\nprint(json.dumps([1]))\n";
  if (podman) {
    RunResult r =
        backend("podman", {{"rootfs", rootfs}})->run(small_spec("rootfs"), program, "", {});
    INFO(r.stderr_data);
    CHECK(r.stdout_data == "[1]\n");
  }
  if (docker) {
    CHECK_THAT(built.out, Catch::Contains("imported into docker as " + tag));
    RunResult r = backend("docker", {{"image", tag}})->run(small_spec("image"), program, "", {});
    INFO(r.stderr_data);
    CHECK(r.stdout_data == "[1]\n");
    EngineClient(socket_of("docker"), std::chrono::seconds(30))
        .request("DELETE", "/v1.41/images/" + tag + "?force=true");
  }
}

TEST_CASE("warden image build names what it cannot use") {
  test::TempDir dir;
  auto r = test::run_process({test::warden_binary(), "image", "build", "--python",
                              "/nonexistent/python3", "--rootfs", (dir.path() / "rootfs").string(),
                              "--import", "none"});
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("--python") && Catch::Contains("/nonexistent/python3"));
  r = test::run_process({test::warden_binary(), "image", "build", "--rootfs",
                         (dir.path() / "rootfs").string(), "--import", "lxc"});
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("--import") && Catch::Contains("lxc"));
  auto config = dir.write("warden.yaml",
                          "backends:\n  enabled: [native]\n  settings:\n    podman:\n"
                          "      rootfs: 5\n");
  r = test::run_process(
      {test::warden_binary(), "--config", config.string(), "image", "build", "--import", "none"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(config.string() + ":5:") &&
                        Catch::Contains("backends.settings.podman.rootfs: expected a string"));
}

}  // namespace
}  // namespace warden
