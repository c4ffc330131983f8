#include <sys/stat.h>
#include <warden/plugin.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "plugin/loader.h"
#include "plugin/plugin_set.h"
#include "support/process.h"

using namespace warden;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(WARDEN_BINARY_DIR) / "tests/fixture_plugins";

const PluginRecord* record_for(const PluginCatalog& catalog, const std::string& file_part) {
  for (const auto& r : catalog.records())
    if (r.origin.find(file_part) != std::string::npos) return &r;
  return nullptr;
}

// An in-process plugin: counts how many instances exist, to prove lifetimes.
int g_live_instances = 0;
class CountingAssessor {
 public:
  explicit CountingAssessor(const nlohmann::json& settings) {
    if (settings.contains("fail")) throw settings_error("/fail", "asked to fail");
    ++g_live_instances;
  }
  ~CountingAssessor() { --g_live_instances; }
  Availability probe() { return {true, "", "tool 9", "k"}; }
  std::vector<Finding> assess(const AssessRequest& r) {
    if (r.code == "throw") throw std::runtime_error("boom");
    if (r.code == "unavailable") throw PluginError(WARDEN_ERR_UNAVAILABLE, "tool missing");
    Finding f;
    f.rule_id = "count";
    f.message = std::string(r.file_name);
    return {f};
  }
};
constexpr warden_plugin_descriptor kCounting =
    make_assessor_descriptor<CountingAssessor>("counting", "2.0.0", "counts");

// A backend that prints what it was asked to run.
class ArgvSandbox {
 public:
  explicit ArgvSandbox(const nlohmann::json&) {}
  Availability probe() { return {true, "", "", ""}; }
  RunResult run(const RunRequest& request) {
    RunResult r;
    r.exit_code = 0;
    r.stdout_data = nlohmann::json(request.spec.args).dump();
    return r;
  }
};

// ArgvSandbox as a plugin built for ABI 1.0 declares itself.
warden_plugin_descriptor abi_1_0_sandbox(const char* name) {
  warden_plugin_descriptor d =
      make_sandbox_descriptor<ArgvSandbox>(name, "1.0.0", "built for ABI 1.0");
  d.abi_minor = 0;
  return d;
}

}  // namespace

TEST_CASE("plugins from one folder load, and refused ones do not stop the others") {
  PluginCatalog catalog;
  catalog.load_directory(kFixtures / "mixed");

  const PluginRecord* echo = record_for(catalog, "/echo_assessor.so");
  REQUIRE(echo != nullptr);
  CHECK(echo->loaded);
  CHECK(echo->name == "echo");
  CHECK(echo->kind == "assessor");
  CHECK(echo->version == "1.2.3");
  CHECK(echo->abi == "1.1");
  CHECK(catalog.find("echo") != nullptr);

  const PluginRecord* abi_two = record_for(catalog, "abi_two.so");
  REQUIRE(abi_two != nullptr);
  CHECK_FALSE(abi_two->loaded);
  CHECK_THAT(abi_two->error, Catch::Contains((kFixtures / "mixed/abi_two.so").string()));
  CHECK_THAT(abi_two->error, Catch::Contains("built for plugin ABI 2.0"));
  CHECK_THAT(abi_two->error, Catch::Contains("this warden speaks ABI 1.1"));
  CHECK_THAT(abi_two->error, Catch::Contains("rebuild"));

  const PluginRecord* minor = record_for(catalog, "abi_future_minor.so");
  REQUIRE(minor != nullptr);
  CHECK_FALSE(minor->loaded);
  CHECK_THAT(minor->error, Catch::Contains("ABI 1.99, newer than this warden's ABI 1.1"));

  const PluginRecord* bad_kind = record_for(catalog, "bad_kind.so");
  REQUIRE(bad_kind != nullptr);
  CHECK_FALSE(bad_kind->loaded);
  CHECK_THAT(bad_kind->error, Catch::Contains("unknown plugin kind 7"));

  const PluginRecord* no_entry = record_for(catalog, "no_entry.so");
  REQUIRE(no_entry != nullptr);
  CHECK_FALSE(no_entry->loaded);
  CHECK_THAT(no_entry->error, Catch::Contains("does not export warden_plugin_entry"));

  const PluginRecord* copy = record_for(catalog, "echo_assessor_copy.so");
  REQUIRE(copy != nullptr);
  CHECK_FALSE(copy->loaded);
  CHECK_THAT(copy->error, Catch::Contains("plugin name 'echo' is already taken by " +
                                          (kFixtures / "mixed/echo_assessor.so").string()));
}

TEST_CASE("a plugin file that other users can write is refused") {
  test::TempDir dir;
  fs::copy_file(kFixtures / "mixed/echo_assessor.so", dir.path() / "echo.so");
  ::chmod((dir.path() / "echo.so").c_str(), 0666);
  PluginCatalog catalog;
  catalog.load_directory(dir.path());
  REQUIRE(catalog.records().size() == 1);
  CHECK_FALSE(catalog.records()[0].loaded);
  CHECK_THAT(catalog.records()[0].error,
             Catch::Contains("can be written by other users (mode 0666)"));
  CHECK_THAT(catalog.records()[0].error, Catch::Contains("chmod go-w"));

  ::chmod((dir.path() / "echo.so").c_str(), 0644);
  ::chmod(dir.path().c_str(), 0777);
  PluginCatalog again;
  again.load_directory(dir.path());
  CHECK_FALSE(again.records()[0].loaded);
  CHECK_THAT(again.records()[0].error, Catch::Contains("the plugin folder"));
  ::chmod(dir.path().c_str(), 0700);
}

TEST_CASE("a missing plugin folder is recorded, not fatal") {
  PluginCatalog catalog;
  catalog.load_directory("/nonexistent/warden/plugins");
  REQUIRE(catalog.records().size() == 1);
  CHECK_THAT(catalog.records()[0].error, Catch::Contains("plugin folder does not exist"));
}

TEST_CASE("an assessor from a shared object runs and outlives its catalog") {
  std::unique_ptr<Assessor> assessor;
  {
    PluginCatalog catalog;
    catalog.load_file(kFixtures / "mixed/echo_assessor.so");
    JsonWithMarks settings;
    settings.value = {{"word", "FIXME"}};
    assessor = catalog.create_assessor("echo", settings, "assessors.settings.echo");
  }
  auto findings =
      assessor->assess("a\n# FIXME here\nb FIXME\n", "python", "x.py", std::chrono::seconds(1), {});
  REQUIRE(findings.size() == 2);
  CHECK(findings[0].assessor == "echo");
  CHECK(findings[0].line == 2);
  CHECK(findings[1].line == 3);
  CHECK(assessor->probe().cache_key == "FIXME");
}

TEST_CASE("an assessor's findings cross the ABI as the JSON nlohmann would write") {
  Finding plain;
  plain.rule_id = "warden.exec-call";
  plain.severity = Severity::kHigh;
  plain.category = "code-execution";
  plain.line = 3;
  plain.column = -1;
  plain.message = "exec of a constant";
  plain.cwe = 95;
  plain.source_line = "exec(code)";
  Finding awkward = plain;
  awkward.assessor = "quote \" backslash \\ tab \t nul " + std::string(1, '\0');
  awkward.message = "UTF-8 \xc3\xa9, not UTF-8 \xff\xc3 and a control \x01";
  awkward.source_line = "\x7f";
  awkward.also_reported_by = {"bandit B102", "semgrep \"x\""};
  for (const auto& findings : {std::vector<Finding>{}, std::vector<Finding>{plain, awkward}}) {
    nlohmann::json expected{{"findings", findings}};
    CHECK(nlohmann::json::parse(plugin_detail::findings_json(findings)) ==
          nlohmann::json::parse(
              expected.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  }
}

namespace {

// read_findings() as it was before its SAX reader: through a document.
std::vector<Finding> findings_by_document(const std::string& out) {
  std::vector<Finding> findings;
  try {
    findings = nlohmann::json::parse(out).at("findings").get<std::vector<Finding>>();
  } catch (const std::exception& e) {
    throw PluginCallError(WARDEN_ERR_FAILED,
                          std::string("assessor a returned malformed findings: ") + e.what());
  }
  for (auto& f : findings) f.assessor = "a";
  return findings;
}

}  // namespace

TEST_CASE("an assessor's answer is read as its document would be, errors and all") {
  Finding plain;
  plain.rule_id = "warden.exec-call";
  plain.severity = Severity::kCritical;
  plain.confidence = Confidence::kLow;
  plain.line = 7;
  plain.column = 2;
  plain.message = "quote \" and \xc3\xa9 \\u escapes";
  plain.source_line = "exec(x)  # \t";
  Finding other = plain;
  other.also_reported_by = {"bandit B102"};
  const std::string sound[] = {
      plugin_detail::findings_json({}),
      plugin_detail::findings_json({plain, other}),
      R"({"findings":[{"rule_id":"r","severity":"low"}]})",
      R"( { "extra" : 1 , "findings" : [ {"severity":"high","rule_id":"r","line":4294967297,)"
      R"("column":-3,"cwe":18446744073709551615,"unknown":[{"x":null}]} ] } )",
      R"({"findings":[{"rule_id":"r","rule_id":"s","severity":"low","also_reported_by":["x"],)"
      R"("also_reported_by":["y","z"],"line":2.5,"column":true}]})",
      R"({"findings":[{"rule_id":"r","severity":"low"}],"findings":[]})",
      R"({"findings":[{"rule_id":"\ud83d\ude00","severity":"info","confidence":"high"}]})",
  };
  for (const std::string& out : sound) {
    INFO(out);
    CHECK(read_findings("a", WARDEN_OK, out, "") == findings_by_document(out));
  }
  const std::string malformed[] = {
      "",
      "\xff\xfe garbage {not json\n",
      "[]",
      "{}",
      R"({"findings":{}})",
      R"({"findings":null})",
      R"({"findings":[1]})",
      R"({"findings":[[]]})",
      R"({"findings":[{"severity":"low"}]})",
      R"({"findings":[{"rule_id":"r"}]})",
      R"({"findings":[{"rule_id":"r","severity":"dire"}]})",
      R"({"findings":[{"rule_id":"r","severity":"low","confidence":"sure"}]})",
      R"({"findings":[{"rule_id":"r","severity":"low","line":"3"}]})",
      R"({"findings":[{"rule_id":"r","severity":"low","line":null}]})",
      R"({"findings":[{"rule_id":7,"severity":"low"}]})",
      R"({"findings":[{"rule_id":"r","severity":"low","also_reported_by":[1]}]})",
      R"({"findings":[{"rule_id":"r","severity":"low","message":"\xff"}]})",
      R"({"findings":[]} trailing)",
      R"({"findings":[{"rule_id":"r","severity":"low"})",
  };
  for (const std::string& out : malformed) {
    INFO(out);
    std::string expected;
    try {
      findings_by_document(out);
    } catch (const PluginCallError& e) {
      expected = e.what();
    }
    REQUIRE_FALSE(expected.empty());
    CHECK_THROWS_WITH(read_findings("a", WARDEN_OK, out, ""), expected);
  }
  CHECK_THROWS_WITH(read_findings("a", WARDEN_ERR_TIMEOUT, "", "too slow"), "too slow");
}

TEST_CASE("in-memory descriptors work without any shared object") {
  PluginCatalog catalog;
  catalog.add_descriptor(&kCounting);
  {
    auto a = catalog.create_assessor("counting", {}, "assessors.settings.counting");
    CHECK(g_live_instances == 1);
    auto f = a->assess("x", "python", "main.py", std::chrono::seconds(1), {});
    REQUIRE(f.size() == 1);
    CHECK(f[0].message == "main.py");
    CHECK(f[0].assessor == "counting");
    Availability av = a->probe();
    CHECK(av.available);
    CHECK(av.tool_version == "tool 9");
  }
  CHECK(g_live_instances == 0);
}

TEST_CASE("exceptions inside a plugin come back as a status and a message") {
  PluginCatalog catalog;
  catalog.add_descriptor(&kCounting);
  auto a = catalog.create_assessor("counting", {}, "x");
  try {
    a->assess("throw", "python", "m.py", std::chrono::seconds(1), {});
    FAIL("expected an error");
  } catch (const PluginCallError& e) {
    CHECK(e.status() == WARDEN_ERR_INTERNAL);
    CHECK(std::string(e.what()) == "boom");
  }
  try {
    a->assess("unavailable", "python", "m.py", std::chrono::seconds(1), {});
    FAIL("expected an error");
  } catch (const PluginCallError& e) {
    CHECK(e.status() == WARDEN_ERR_UNAVAILABLE);
    CHECK(std::string(e.what()) == "tool missing");
  }
}

TEST_CASE("a plugin rejecting its settings points into the configuration file") {
  PluginCatalog catalog;
  catalog.add_descriptor(&kCounting);
  Config config = parse_config(
      "assessors:\n  enabled: [counting]\n  settings:\n    counting:\n      fail: yes\n", "w.yaml",
      "/");
  try {
    PluginSet set(config, std::move(catalog));
    FAIL("expected a configuration error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kConfig);
    CHECK(std::string(e.what()) == "w.yaml:5:13: assessors.settings.counting.fail: asked to fail");
  }
}

TEST_CASE("a sandbox plugin round-trips its spec, output and refusals") {
  PluginCatalog catalog;
  catalog.load_file(kFixtures / "sandbox/echo_sandbox.so");
  auto backend = catalog.create_sandbox("echo_sandbox", {}, "backends.settings.echo_sandbox");
  RunSpec spec;
  spec.run_id = "r1";
  RunResult r = backend->run(spec, "print(1)", "input", {});
  CHECK(r.exit_code == 0);
  CHECK(r.stdout_data == "print(1)");
  CHECK(r.stderr_data == "input");
  CHECK(r.backend_run_id == "echo-r1");
  CHECK(r.wall_time_ms == spec.limits.wall_time_ms);
  spec.limits.memory_bytes = 10;
  try {
    backend->run(spec, "x", "", {});
    FAIL("expected a refusal");
  } catch (const PluginCallError& e) {
    CHECK(e.status() == WARDEN_ERR_UNSUPPORTED);
    CHECK(e.kind() == ErrorKind::kRefused);
    CHECK_THAT(e.what(), Catch::Contains("memory"));
  }
  CHECK_THROWS_AS(catalog.create_assessor("echo_sandbox", {}, "x"), Error);
}

TEST_CASE("program arguments go to a backend of ABI 1.1, and a 1.0 backend refuses them") {
  static const warden_plugin_descriptor current =
      make_sandbox_descriptor<ArgvSandbox>("argv_now", "1.0.0", "prints its arguments");
  static const warden_plugin_descriptor old = abi_1_0_sandbox("argv_old");
  PluginCatalog catalog;
  catalog.add_descriptor(&current);
  catalog.add_descriptor(&old);
  RunSpec spec;
  spec.run_id = "r1";
  spec.args = {"a", "b c"};
  auto now = catalog.create_sandbox("argv_now", {}, "x");
  CHECK(now->run(spec, "print(1)", "", {}).stdout_data == R"(["a","b c"])");
  auto then = catalog.create_sandbox("argv_old", {}, "x");
  try {
    then->run(spec, "print(1)", "", {});
    FAIL("a 1.0 backend would have dropped the arguments");
  } catch (const PluginCallError& e) {
    CHECK(e.status() == WARDEN_ERR_UNSUPPORTED);
    CHECK_THAT(e.what(), Catch::Contains("plugin ABI 1.0, which has no program arguments"));
  }
  spec.args.clear();
  CHECK(then->run(spec, "print(1)", "", {}).exit_code == 0);  // without arguments it serves
}

TEST_CASE("a 1.0 backend is refused network egress and site folders; the spec JSON carries them") {
  static const warden_plugin_descriptor old = abi_1_0_sandbox("egress_old");
  PluginCatalog catalog;
  catalog.add_descriptor(&old);
  auto then = catalog.create_sandbox("egress_old", {}, "x");
  auto refused = [&](const RunSpec& spec, const std::string& what) {
    try {
      then->run(spec, "print(1)", "", {});
      FAIL("a 1.0 backend would have run without " << what);
    } catch (const PluginCallError& e) {
      CHECK(e.status() == WARDEN_ERR_UNSUPPORTED);
      CHECK_THAT(e.what(), Catch::Contains("plugin ABI 1.0, which has no " + what));
    }
  };
  RunSpec spec;
  spec.run_id = "r1";
  spec.network = NetworkMode::kEgress;
  spec.egress_socket = "/run/proxy.sock";
  refused(spec, "network egress");
  spec.network = NetworkMode::kNone;
  refused(spec, "egress sockets");
  spec.egress_socket.clear();
  spec.site_dir = "/var/lib/site";
  refused(spec, "site folders");
  spec.site_dir.clear();
  CHECK(then->run(spec, "print(1)", "", {}).exit_code == 0);

  // The keys appear only when set; "egress" parses; a 1.0 reader's list had no egress.
  CHECK_FALSE(nlohmann::json(spec).contains("egress_socket"));
  CHECK_FALSE(nlohmann::json(spec).contains("site_dir"));
  spec.network = NetworkMode::kEgress;
  spec.egress_socket = "/run/proxy.sock";
  spec.site_dir = "/var/lib/site";
  nlohmann::json j = spec;
  CHECK(j["network"] == "egress");
  RunSpec back = j.get<RunSpec>();
  CHECK(back.network == NetworkMode::kEgress);
  CHECK(back.egress_socket == "/run/proxy.sock");
  CHECK(back.site_dir == "/var/lib/site");
  CHECK_THROWS_WITH(network_mode_from_string("proxy"),
                    "unknown network mode 'proxy' (none, egress, open)");
}

TEST_CASE("an enabled plugin that is missing shows as unavailable with the reason") {
  PluginCatalog catalog;
  catalog.add_descriptor(&kCounting);
  Config config = parse_config(
      "assessors:\n  enabled: [counting, bandit]\nbackends:\n  enabled: []\n", "w.yaml", "/");
  PluginSet set(config, std::move(catalog));
  auto status = set.status();
  REQUIRE(status.size() == 2);
  CHECK(status[0].name == "counting");
  CHECK(status[0].available);
  CHECK(status[1].name == "bandit");
  CHECK_FALSE(status[1].available);
  CHECK_THAT(status[1].reason, Catch::Contains("not installed"));
}
