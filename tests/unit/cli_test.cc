// Black-box tests of the warden program: exit codes and messages.
#include <warden/version.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/process.h"

using namespace warden::test;

TEST_CASE("warden --version prints the version and the plugin ABI") {
  auto r = run_process({warden_binary(), "--version"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains(std::string("warden ") + WARDEN_VERSION));
  CHECK_THAT(r.out, Catch::Contains("plugin ABI 1.1"));
}

TEST_CASE("configuration errors exit 2 with file:line:column") {
  TempDir dir;
  auto syntax = dir.write("syntax.yaml", "assessors:\n  enabled: [a\n");
  auto unknown = dir.write("unknown.yaml", "log_level: info\nplugns: {}\n");
  auto type = dir.write("type.yaml", "assessors:\n  deadline: {a: 1}\n");
  for (const auto& [file, expected] :
       {std::pair{syntax, std::string(":3:1: YAML syntax error")},
        std::pair{unknown, std::string(":2:1: plugns: unknown key")},
        std::pair{type, std::string(":2:13: assessors.deadline: expected a single value")}}) {
    auto r = run_process({warden_binary(), "--config", file.string(), "status"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(file.string() + expected));
  }
}

TEST_CASE("WARDEN_CONFIG is used when --config is absent, and --config wins") {
  TempDir dir;
  auto bad = dir.write("bad.yaml", "nonsense_key: 1\n");
  auto good = dir.write("good.yaml",
                        "log_level: warn\nassessors: {enabled: []}\nbackends: {enabled: []}\n");
  auto via_env =
      run_process({warden_binary(), "status", "--json"}, {{"WARDEN_CONFIG", bad.string()}});
  CHECK(via_env.exit_code == 2);
  CHECK_THAT(via_env.err, Catch::Contains(bad.string() + ":1:1: nonsense_key: unknown key"));
  auto via_flag = run_process({warden_binary(), "--config", good.string(), "status", "--json"},
                              {{"WARDEN_CONFIG", bad.string()}});
  CHECK(via_flag.exit_code == 0);
  CHECK(nlohmann::json::parse(via_flag.out)["config"] == good.string());
}

TEST_CASE("a missing configuration file exits 2 and says what to do") {
  auto r = run_process({warden_binary(), "--config", "/nonexistent/w.yaml", "status"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("/nonexistent/w.yaml: cannot read the configuration file"));
}

TEST_CASE("plugins list --json shows what a folder holds, refusals included") {
  TempDir dir;
  auto config = dir.write("w.yaml", "plugins:\n  directories: [" + std::string(WARDEN_BINARY_DIR) +
                                        "/tests/fixture_plugins/mixed]\nassessors: {enabled: []}\n"
                                        "backends: {enabled: []}\n");
  auto r = run_process({warden_binary(), "--config", config.string(), "plugins", "list", "--json"});
  REQUIRE(r.exit_code == 0);
  auto list = nlohmann::json::parse(r.out);
  bool saw_echo = false, saw_abi_two = false;
  for (const auto& p : list) {
    if (p["name"] == "echo" && p["status"] == "loaded") {
      saw_echo = true;
      CHECK(p["kind"] == "assessor");
      CHECK(p["version"] == "1.2.3");
      CHECK(p["abi"] == "1.1");
    }
    if (std::string(p["file"]).ends_with("abi_two.so")) {
      saw_abi_two = true;
      CHECK(p["status"] == "refused");
      CHECK_THAT(std::string(p["error"]), Catch::Contains("ABI 2.0"));
    }
  }
  CHECK(saw_echo);
  CHECK(saw_abi_two);
}

TEST_CASE("bad command lines exit 2") {
  CHECK(run_process({warden_binary()}).exit_code == 2);
  CHECK(run_process({warden_binary(), "no-such-command"}).exit_code == 2);
}

TEST_CASE("warden assess refuses /dev/zero promptly, naming the limit") {
  auto r = run_process({warden_binary(), "assess", "/dev/zero"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("/dev/zero: larger than the limit of"));
}
