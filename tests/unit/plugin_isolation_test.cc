// Third-party plugins cannot take warden down, and the plugin folders cannot
// be raced: real fixture plugins that crash, hang and scribble, run through
// the real helper program and a real Host; real files, links and owners.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <warden/host.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "audit/audit_reader.h"
#include "plugin/loader.h"
#include "support/process.h"

using namespace warden;
namespace fs = std::filesystem;

// How the helper's death by SIGSEGV is reported. Under AddressSanitizer the
// helper's own SIGSEGV handler reports the crash and exits with a status.
#if defined(__SANITIZE_ADDRESS__)
constexpr const char* kSegfaultDeath = "the helper exited with status";
#else
constexpr const char* kSegfaultDeath = "killed by signal 11";
#endif

namespace {

const fs::path kFixtures = fs::path(WARDEN_BINARY_DIR) / "tests/fixture_plugins";

// Points warden at the helper of this build tree (the test binary is not
// installed beside it).
void use_built_plugin_host() {
  ::setenv("WARDEN_PLUGIN_HOST", WARDEN_PLUGIN_HOST_PATH, 1);
}

// A catalog that trusts no plugin file: every assessor runs in a helper.
PluginCatalog isolating_catalog() {
  use_built_plugin_host();
  return PluginCatalog(std::vector<std::string>{});
}

std::vector<Finding> assess(const Assessor& a, const std::string& code,
                            std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
  return a.assess(code, "python", "main.py", deadline, {});
}

// The status and message of a call that must fail.
std::pair<warden_status, std::string> failure_of(const Assessor& a, const std::string& code,
                                                 std::chrono::milliseconds deadline) {
  try {
    assess(a, code, deadline);
  } catch (const PluginCallError& e) {
    return {e.status(), e.what()};
  }
  FAIL("the call did not fail");
  return {};
}

}  // namespace

TEST_CASE("a third-party assessor runs in a helper and survives its own crashes and hangs") {
  PluginCatalog catalog = isolating_catalog();
  catalog.load_directory(kFixtures / "hostile");
  REQUIRE(catalog.records().size() == 1);
  CHECK(catalog.records()[0].loaded);
  CHECK(catalog.records()[0].name == "hostile");
  CHECK(catalog.records()[0].version == "6.6.6");
  auto plugin = catalog.find("hostile");
  REQUIRE(plugin);
  CHECK(plugin->isolated_file() != nullptr);
  auto assessor = catalog.create_assessor("hostile", {}, "assessors.settings.hostile");
  CHECK(assessor->probe().tool_version == "hostile 1");

  auto works = [&] {
    auto findings = assess(*assessor, "print(1)\n");
    REQUIRE(findings.size() == 1);
    CHECK(findings[0].rule_id == "hostile.seen");
    CHECK(findings[0].assessor == "hostile");
  };
  works();

  auto [crash_status, crash] = failure_of(*assessor, "CRASH", std::chrono::seconds(5));
  CHECK(crash_status == WARDEN_ERR_FAILED);
  CHECK_THAT(crash, Catch::Contains(kSegfaultDeath));
  CHECK_THAT(crash, Catch::Contains((kFixtures / "hostile/hostile.so").string()));
  works();

  auto [abort_status, aborted] = failure_of(*assessor, "ABORT", std::chrono::seconds(5));
  CHECK(abort_status == WARDEN_ERR_FAILED);
  CHECK_THAT(aborted, Catch::Contains("killed by signal 6"));
  works();

  auto [garbage_status, garbage] = failure_of(*assessor, "GARBAGE", std::chrono::seconds(5));
  CHECK(garbage_status == WARDEN_ERR_FAILED);
  CHECK_THAT(garbage, Catch::Contains("broke the protocol"));
  works();

  auto [hang_status, hang] = failure_of(*assessor, "HANG", std::chrono::milliseconds(100));
  CHECK(hang_status == WARDEN_ERR_TIMEOUT);
  CHECK_THAT(hang, Catch::Contains("no answer in time"));
  works();
}

TEST_CASE("a cancelled call ends the helper at once and the next call gets a new one") {
  PluginCatalog catalog = isolating_catalog();
  catalog.load_directory(kFixtures / "hostile");
  auto assessor = catalog.create_assessor("hostile", {}, "x");
  std::atomic<bool> cancelled{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancelled = true;
  });
  try {
    assessor->assess("HANG", "python", "m.py", std::chrono::minutes(10),
                     [&] { return cancelled.load(); });
    FAIL("expected a cancellation");
  } catch (const PluginCallError& e) {
    CHECK(e.status() == WARDEN_ERR_CANCELLED);
  }
  canceller.join();
  CHECK(assess(*assessor, "x = 1\n").size() == 1);
}

TEST_CASE("an isolated assessor is used from many threads at once") {
  PluginCatalog catalog = isolating_catalog();
  catalog.load_directory(kFixtures / "hostile");
  auto assessor = catalog.create_assessor("hostile", {}, "x");
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        try {
          if (t == 0 && i == 2) assess(*assessor, "CRASH");
          if (assess(*assessor, "y = 2\n").size() == 1) ++good;
        } catch (const PluginCallError&) {
        }
      }
    });
  for (auto& t : threads) t.join();
  CHECK(good == 6 * 5 - 1);  // only the call after the crash in thread 0 is lost
}

TEST_CASE("a crashing third-party assessor is failed in a real Host; the request is audited") {
  use_built_plugin_host();
  test::TempDir dir;
  fs::path config = dir.write("warden.yaml",
                              "log_level: error\n"
                              "plugins: {directories: [" +
                                  (kFixtures / "hostile").string() +
                                  "]}\n"
                                  "assessors: {enabled: [hostile], deadline: 1s}\n"
                                  "backends: {enabled: [native]}\n"
                                  "policies: {directory: " WARDEN_SOURCE_DIR
                                  "/policies/default}\n"
                                  "audit:\n  directory: " +
                                  (dir.path() / "audit").string() + "\n  signing_key: " +
                                  (dir.path() / "keys/audit.key").string() + "\n");
  auto host = Host::open(config.string());
  auto status_of = [](const ExecutionResult& r) {
    REQUIRE(r.assessment["assessors"].size() == 1);
    return r.assessment["assessors"][0];
  };
  std::vector<std::string> ids;
  for (const char* code : {"CRASH = 1\n", "GARBAGE = 1\n", "HANG = 1\n"}) {
    ExecutionRequest request;
    request.code = code;
    request.user = "mai";
    ExecutionResult r = host->assess_and_execute(request);
    auto assessor = status_of(r);
    INFO(code << assessor.dump());
    CHECK(assessor["status"] == (std::string(code) == "HANG = 1\n" ? "timeout" : "failed"));
    CHECK_FALSE(assessor["reason"].get<std::string>().empty());
    CHECK_FALSE(r.audit_ids.empty());
    ids.insert(ids.end(), r.audit_ids.begin(), r.audit_ids.end());

    ExecutionRequest next;
    next.code = "x = 1\n";
    next.user = "mai";
    ExecutionResult after = host->assess_and_execute(next);
    CHECK(status_of(after)["status"] == "ok");
    REQUIRE(after.findings.size() == 1);
    CHECK(after.findings[0].rule_id == "hostile.seen");
  }
  host.reset();
  auto scan = audit::scan_log(dir.path() / "audit", "warden.local/audit");
  for (const auto& id : ids) {
    bool found = false;
    for (const auto& record : scan.records) found = found || record.id == id;
    CHECK(found);
  }
}

TEST_CASE("plugins.in_process loads a trusted plugin into warden, and only from <name>.so") {
  test::TempDir dir;
  fs::copy_file(kFixtures / "hostile/hostile.so", dir.path() / "hostile.so");
  fs::copy_file(kFixtures / "mixed/echo_assessor.so", dir.path() / "echo_assessor.so");
  fs::copy_file(kFixtures / "sandbox/echo_sandbox.so", dir.path() / "echo_sandbox.so");
  use_built_plugin_host();
  PluginCatalog catalog(std::vector<std::string>{"hostile", "echo_assessor"});
  catalog.load_directory(dir.path());
  auto hostile = catalog.find("hostile");
  REQUIRE(hostile);
  CHECK(hostile->isolated_file() == nullptr);
  CHECK(assess(*catalog.create_assessor("hostile", {}, "x"), "x").size() == 1);
  for (const auto& r : catalog.records()) {
    if (r.origin.ends_with("/echo_assessor.so")) {
      CHECK_FALSE(r.loaded);
      CHECK_THAT(r.error, Catch::Contains("holds plugin 'echo'"));
    }
    if (r.origin.ends_with("/echo_sandbox.so")) {
      // A sandbox backend always runs in warden's process: only when trusted.
      CHECK_FALSE(r.loaded);
      CHECK(r.name == "echo_sandbox");
      CHECK_THAT(r.error, Catch::Contains("plugins.in_process lists 'echo_sandbox'"));
    }
  }
}

TEST_CASE("a plugin that crashes while it is loaded is refused, not fatal") {
  PluginCatalog catalog = isolating_catalog();
  catalog.load_directory(kFixtures / "crash_on_load");
  REQUIRE(catalog.records().size() == 1);
  CHECK_FALSE(catalog.records()[0].loaded);
  CHECK_THAT(catalog.records()[0].error, Catch::Contains(kSegfaultDeath));
  CHECK_THAT(catalog.records()[0].error, Catch::Contains("crash_on_load.so"));
}

TEST_CASE("the helper refuses what the loader refuses, with the same reasons") {
  PluginCatalog catalog = isolating_catalog();
  catalog.load_directory(kFixtures / "mixed");
  bool saw_abi_two = false;
  for (const auto& r : catalog.records())
    if (r.origin.ends_with("/abi_two.so")) {
      saw_abi_two = true;
      CHECK_FALSE(r.loaded);
      CHECK_THAT(r.error, Catch::Contains("built for plugin ABI 2.0"));
    }
  CHECK(saw_abi_two);
  REQUIRE(catalog.find("echo"));
  CHECK(catalog.find("echo")->isolated_file() != nullptr);
}

// ----------------------------------------------------------- folder races

TEST_CASE("a link swapped into a plugin folder never gets another user's code loaded") {
  test::TempDir dir;
  fs::path folder = dir.path() / "plugins";
  fs::path staging = dir.path() / "staging";
  fs::path elsewhere = dir.path() / "shared";
  fs::create_directories(folder);
  fs::create_directories(staging);
  fs::create_directories(elsewhere);
  ::chmod(folder.c_str(), 0755);
  ::chmod(elsewhere.c_str(), 01777);
  fs::copy_file(kFixtures / "mixed/echo_assessor.so", staging / "good");
  // The other user's code: writable by anyone, in a world-writable folder.
  fs::copy_file(kFixtures / "sandbox/echo_sandbox.so", elsewhere / "evil.so");
  ::chmod((elsewhere / "evil.so").c_str(), 0666);

  fs::create_hard_link(staging / "good", folder / "x.so");
  std::atomic<bool> stop{false};
  std::atomic<int> swaps{0};
  std::thread swapper([&] {
    for (int i = 0; !stop; ++i, ++swaps) {
      fs::path next = folder / (".next" + std::to_string(i));
      std::error_code ec;
      if (i % 2 == 0)
        fs::create_hard_link(staging / "good", next, ec);
      else
        fs::create_symlink(elsewhere / "evil.so", next, ec);
      if (!ec) fs::rename(next, folder / "x.so", ec);
    }
  });
  while (swaps < 10) std::this_thread::yield();
  // Many rounds, until each side of the swap was seen many times.
  int loaded_good = 0, refused_link = 0, loaded_evil = 0;
  for (int round = 0; round < 20000 && (round < 300 || loaded_good < 50 || refused_link < 50);
       ++round) {
    PluginCatalog catalog;  // trusts every file it accepts: the checks alone decide
    catalog.load_directory(folder);
    for (const auto& r : catalog.records()) {
      if (r.loaded && r.name == "echo_sandbox") ++loaded_evil;
      if (r.loaded && r.name == "echo") ++loaded_good;
      if (!r.loaded && r.error.find("symbolic link") != std::string::npos) ++refused_link;
    }
  }
  stop = true;
  swapper.join();
  CHECK(loaded_evil == 0);
  // Both sides of the race were seen, so the test exercised it.
  CHECK(loaded_good >= 50);
  CHECK(refused_link >= 50);
}

TEST_CASE("a plugin folder others can write is refused whole, sticky or not") {
  test::TempDir dir;
  fs::copy_file(kFixtures / "mixed/echo_assessor.so", dir.path() / "echo.so");
  for (mode_t mode : {01777, 0777, 0775, 01770}) {
    ::chmod(dir.path().c_str(), mode);
    PluginCatalog catalog;
    catalog.load_directory(dir.path());
    REQUIRE(catalog.records().size() == 1);
    CHECK_FALSE(catalog.records()[0].loaded);
    CHECK_THAT(catalog.records()[0].error, Catch::Contains("can be written by other users"));
    CHECK_THAT(catalog.records()[0].error, Catch::Contains("no plugin is loaded from it"));
    CHECK(catalog.find("echo") == nullptr);
    PluginCatalog one_file;
    one_file.load_file(dir.path() / "echo.so");
    CHECK(one_file.find("echo") == nullptr);
  }
  ::chmod(dir.path().c_str(), 0700);
}

TEST_CASE("a plugin or folder owned by another user is refused") {
  if (::geteuid() != 0) {
    WARN("skipped: making a file owned by another user needs root");
    return;
  }
  test::TempDir dir;
  fs::path file = dir.path() / "echo.so";
  fs::copy_file(kFixtures / "mixed/echo_assessor.so", file);
  REQUIRE(::chown(file.c_str(), 65534, 65534) == 0);
  PluginCatalog catalog;
  catalog.load_directory(dir.path());
  REQUIRE(catalog.records().size() == 1);
  CHECK_FALSE(catalog.records()[0].loaded);
  CHECK_THAT(catalog.records()[0].error, Catch::Contains("is owned by uid 65534"));

  REQUIRE(::chown(file.c_str(), 0, 0) == 0);
  REQUIRE(::chown(dir.path().c_str(), 65534, 65534) == 0);
  PluginCatalog again;
  again.load_directory(dir.path());
  CHECK(again.find("echo") == nullptr);
  CHECK_THAT(again.records()[0].error, Catch::Contains("plugin folder"));
  REQUIRE(::chown(dir.path().c_str(), 0, 0) == 0);
}

TEST_CASE("a FIFO or a folder named like a plugin is refused without blocking") {
  test::TempDir dir;
  REQUIRE(::mkfifo((dir.path() / "fifo.so").c_str(), 0644) == 0);
  fs::create_directory(dir.path() / "folder.so");
  PluginCatalog catalog;
  catalog.load_directory(dir.path());
  REQUIRE(catalog.records().size() == 2);
  for (const auto& r : catalog.records()) {
    CHECK_FALSE(r.loaded);
    CHECK_THAT(r.error, Catch::Contains("is not a regular file"));
  }
}
