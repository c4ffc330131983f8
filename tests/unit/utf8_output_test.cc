// Bytes that are not UTF-8 come back through every JSON path, replaced by
// U+FFFD, and the result says when program output was altered.
#include <warden/host.h>
#include <warden/plugin.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "plugin/loader.h"
#include "support/process.h"

using namespace warden;
namespace fs = std::filesystem;

namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

class QuotingAssessor {
 public:
  explicit QuotingAssessor(const nlohmann::json&) {}
  Availability probe() { return {true, "", "quoting \xff", "k"}; }
  std::vector<Finding> assess(const AssessRequest& r) {
    Finding f;
    f.rule_id = "quote";
    f.message = "saw " + std::string(r.code);
    return {f};
  }
};
constexpr warden_plugin_descriptor kQuoting =
    make_assessor_descriptor<QuotingAssessor>("quoting", "1.0", "quotes the code");

}  // namespace

TEST_CASE("a result whose program printed bytes that are not UTF-8 flags the replacement") {
  ExecutionResult r;
  r.decision = Outcome::kRan;
  r.run = RunResult{};
  r.run->stdout_data = std::string("ok\xff\xfe", 4);
  r.run->stderr_data = "fine\n";
  nlohmann::json j = r.to_json();
  CHECK(j["stdout"] == "ok" + kReplacement + kReplacement);
  CHECK(j["stdout_replaced"] == true);
  CHECK(j["stderr"] == "fine\n");
  CHECK(j["stderr_replaced"] == false);
  CHECK_NOTHROW(j.dump());  // the strict dump an embedder might use
  CHECK(r.run->stdout_data == std::string("ok\xff\xfe", 4));  // C++ keeps the bytes

  ExecutionResult blocked;
  blocked.decision = Outcome::kBlocked;
  CHECK(blocked.to_json()["stdout_replaced"] == false);
}

TEST_CASE("a plugin answer holding bytes that are not UTF-8 is replaced, not a failed call") {
  PluginCatalog catalog;
  catalog.add_descriptor(&kQuoting);
  auto a = catalog.create_assessor("quoting", {}, "x");
  auto findings =
      a->assess(std::string("x = '\xff'", 7), "python", "m.py", std::chrono::seconds(1), {});
  REQUIRE(findings.size() == 1);
  CHECK(findings[0].message == "saw x = '" + kReplacement + "'");
  CHECK(a->probe().tool_version == "quoting " + kReplacement);
}

TEST_CASE("plugins list --json survives a plugin file name that is not UTF-8") {
  test::TempDir dir;
  fs::copy_file(fs::path(WARDEN_BINARY_DIR) / "tests/fixture_plugins/mixed/echo_assessor.so",
                dir.path() / "echo\xff.so");
  auto config = dir.write("w.yaml", "plugins:\n  directories: [" + dir.path().string() +
                                        "]\nassessors: {enabled: []}\nbackends: {enabled: []}\n");
  auto r = test::run_process(
      {test::warden_binary(), "--config", config.string(), "plugins", "list", "--json"},
      {{"WARDEN_PLUGIN_HOST", WARDEN_PLUGIN_HOST_PATH}});
  REQUIRE(r.exit_code == 0);
  auto list = nlohmann::json::parse(r.out);
  REQUIRE(list.size() == 1);
  CHECK(list[0]["name"] == "echo");
  CHECK(list[0]["file"].get<std::string>().ends_with("echo" + kReplacement + ".so"));
}
