// Programs that declare packages (issue #19), for real: a local PEP 503 index
// on loopback over HTTP and HTTPS and a second, forbidden one
// (package_index.py), pip in the install phase of every backend, the egress
// proxy, the default policy, the cache and the audit log. No internet is
// needed or used.
#define CATCH_CONFIG_MAIN
#include <warden/error.h>
#include <warden/host.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/audit_reader.h"
#include "deps/installer.h"
#include "deps/requirements.h"
#include "package_index.h"
#include "support/process.h"

using namespace warden;
namespace fs = std::filesystem;

namespace {

test::PackageIndex& index_server() {
  static test::PackageIndex index(WARDEN_DEPS_DIR);
  return index;
}

// The backends to try: $WARDEN_ABUSE_BACKENDS or all three.
std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  const char* env = std::getenv("WARDEN_ABUSE_BACKENDS");
  std::stringstream list(env && *env ? env : "native,docker,podman");
  for (std::string n; std::getline(list, n, ',');) names.push_back(n);
  return names;
}

// A policy: the default one, with trust taken from the request's metadata
// when it names one (so that one program can be tried at each trust level).
fs::path test_policy(const test::TempDir& dir) {
  fs::path policy = dir.path() / "policy";
  fs::create_directories(policy);
  for (const auto& entry :
       fs::directory_iterator(std::string(WARDEN_SOURCE_DIR) + "/policies/default"))
    if (!entry.path().filename().string().ends_with("_test.lua"))
      fs::copy_file(entry.path(), policy / entry.path().filename());
  std::ofstream(policy / "zz_trust_from_metadata.lua")
      << "local default_trust = trust\n"
         "function trust(decision, request)\n"
         "  if request.metadata.trust then return request.metadata.trust end\n"
         "  return default_trust(decision, request)\n"
         "end\n";
  return policy;
}

std::string dependencies_yaml(const test::TempDir& dir) {
  return index_server().dependencies_yaml(dir.path() / "cache");
}

struct Fixture {
  test::TempDir dir;
  fs::path config;
  Fixture() {
    std::string backends;
    for (const auto& name : backend_names()) backends += (backends.empty() ? "" : ", ") + name;
    config = dir.write("warden.yaml",
                       "log_level: warn\n"
                       "plugins: {directories: [" +
                           std::string(WARDEN_PLUGIN_DIR) +
                           "]}\n"
                           "assessors: {enabled: [heuristics]}\n"
                           "backends: {enabled: [" +
                           backends +
                           "], default: native}\n"
                           "policies: {directory: " +
                           test_policy(dir).string() +
                           "}\naudit:\n  directory: " + (dir.path() / "audit").string() +
                           "\n  signing_key: " + (dir.path() / "keys/audit.key").string() + "\n" +
                           dependencies_yaml(dir));
  }
  audit::Scan log() const { return audit::scan_log(dir.path() / "audit", "warden.local/audit"); }
};

// Calls `body` for each backend the host has available; one that is not is
// skipped with the reason, or fails under CI=true.
void for_each_backend(Host& host, const std::function<void(const std::string&)>& body) {
  nlohmann::json components = host.get_security_status()["components"];
  for (const auto& name : backend_names()) {
    const nlohmann::json& c = components["sandbox:" + name];
    if (!c.value("available", false)) {
      std::string why = c.is_null() ? "not loaded" : c.value("reason", "");
      if (test::under_ci()) FAIL("backend unavailable under CI: " << name << ": " << why);
      WARN("skipped backend " << name << ": " << why);
      continue;
    }
    SECTION(name) {
      body(name);
    }
  }
}

ExecutionRequest request(const std::string& code, const std::string& backend,
                         const std::string& trust = "") {
  ExecutionRequest r;
  r.code = code;
  r.user = "mai";
  r.backend = backend;
  if (!trust.empty()) r.metadata["trust"] = trust;
  return r;
}

std::vector<nlohmann::json> records_of(const audit::Scan& scan, const std::string& request_id,
                                       const std::string& kind) {
  std::vector<nlohmann::json> out;
  for (const auto& rec : scan.records)
    if (rec.kind == kind && rec.data.value("request_id", "") == request_id) out.push_back(rec.data);
  return out;
}

const char* kDemo =
    "# /// script\n"
    "# requires-python = \">=3.8\"\n"
    "# dependencies = [\"wardendemo\"]\n"
    "# ///\n"
    "import wardendemo\n"
    "print(wardendemo.greet())\n";

}  // namespace

// ------------------------------------------------------------ declarations

TEST_CASE("PEP 723 metadata is read as the reference reads it, errors name the line") {
  auto meta = deps::script_metadata(
      "#!/usr/bin/env python3\n# /// script\n# dependencies = [\n#   \"Requests[socks] >= 2.31, "
      "<3\",\n"
      "#   'rich; python_version >= \"3.8\"',\n# ]\n#\n# [tool.x]\n# y = 1\n# ///\nimport rich\n",
      "main.py");
  REQUIRE(meta);
  CHECK(meta->first_line == 2);
  REQUIRE(meta->dependencies.size() == 2);
  CHECK(meta->dependencies[0].normalized == "requests");
  CHECK(meta->dependencies[0].text() == "Requests[socks]>=2.31,<3");
  CHECK(meta->dependencies[1].marker == "python_version >= \"3.8\"");
  CHECK_FALSE(deps::script_metadata("print(1)\n# /// other\n# x = 1\n# ///\n", "main.py"));

  auto error_of = [](const std::string& code) {
    try {
      deps::script_metadata(code, "prog.py");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kInvalidInput);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of("x = 1\n# /// script\n# dependencies = [\"a\"]\n"),
             Catch::Contains("prog.py:2:") && Catch::Contains("no closing"));
  CHECK_THAT(error_of("# /// script\n# dependencies = [\"a\",\n# ///\n"),
             Catch::Contains("prog.py:") && Catch::Contains("not valid TOML"));
  CHECK_THAT(error_of("# /// script\n# ///\n# /// script\n# ///\n"),
             Catch::Contains("prog.py:3:") && Catch::Contains("second"));
  CHECK_THAT(error_of("# /// script\n# dependencies = \"a\"\n# ///\n"),
             Catch::Contains("prog.py:2:") && Catch::Contains("list of strings"));
  CHECK_THAT(
      error_of("# /// script\n# dependencies = [\n#  \"x @ https://evil.test/x.whl\"]\n# ///\n"),
      Catch::Contains("prog.py:3:") && Catch::Contains("URLs and paths"));
}

TEST_CASE("requirements name packages only: no URLs, paths, options or injected lines") {
  for (const char* bad :
       {"--index-url=https://evil.test/simple", "-e .", "pkg @ git+https://evil.test/x", "./local",
        "/abs/path.whl", "pkg\n--extra-index-url https://evil.test", "pkg; os_name == 'x' --pre",
        "pkg>=1 --hash=sha256:00", "pkg===", "pkg>=1.*", "_pkg", "pkg[", "pk g", "pkgé"})
    CHECK_THROWS_AS(deps::parse_requirement(bad), std::invalid_argument);
  CHECK(deps::parse_requirement("Foo.Bar_baz (>=1.0)").normalized == "foo-bar-baz");
  CHECK(deps::parse_requirement("numpy==1.26.*").specifier == "==1.26.*");
  CHECK(deps::parse_requirement("x ~= 2.1 , != 2.1.3").specifier == "~=2.1,!=2.1.3");
  CHECK_THROWS_WITH(deps::declared_dependencies("", "main.py", {"a", "b", "c"}, 2),
                    Catch::Contains("more than the 2 allowed"));
  CHECK_THROWS_WITH(deps::declared_dependencies("", "main.py", {"ok", "--pre"}, 8),
                    Catch::Contains("dependencies[1]"));
}

// ------------------------------------------------------------- through Host

TEST_CASE("a PEP 723 program installs what the policy allows, runs with it, then from the cache") {
  Fixture f;
  auto host = Host::open(f.config.string());
  for_each_backend(*host, [&](const std::string& backend) {
    test::PackageIndex& index = index_server();
    std::size_t index_lines = index.lines_from("index");

    ExecutionResult cold = host->assess_and_execute(request(kDemo, backend));
    INFO(cold.reason << " " << (cold.run ? cold.run->stderr_data : ""));
    REQUIRE(cold.decision == Outcome::kRan);
    CHECK(cold.run->exit_code == 0);
    CHECK(cold.run->stdout_data == "hello from wardendemo 42\n");
    const nlohmann::json& set = cold.dependencies;
    CHECK(set["cached"] == false);
    REQUIRE(set["packages"].size() == 2);
    CHECK(set["packages"][0]["name"] == "wardendemo");
    CHECK(set["packages"][1]["name"] == "wardendep");
    CHECK(set["packages"][1]["version"] == "2.0");
    CHECK(set["packages"][0]["sha256"].get<std::string>().size() == 64);
    CHECK(index.lines_from("index") > index_lines);
    CHECK(index.lines_from("forbidden") == 0);

    // The audit log: the set, and every egress decision with its bytes.
    audit::Scan scan = f.log();
    auto installed = records_of(scan, cold.request_id, "dependencies");
    REQUIRE(installed.size() == 1);
    CHECK(installed[0]["outcome"] == "installed");
    CHECK(installed[0]["packages"] == set["packages"]);
    auto egress = records_of(scan, cold.request_id, "egress");
    REQUIRE_FALSE(egress.empty());
    CHECK(egress.size() == set["egress"].size());
    for (const auto& e : egress) {
      CHECK(e["allowed"] == true);
      CHECK(e["host"] == "index.test");
      CHECK(e["sni"] == "index.test");
      CHECK(e["bytes_down"].get<std::uint64_t>() > 0);
    }

    // Again: the cache, no network, faster.
    index_lines = index.lines_from("index");
    ExecutionResult warm = host->assess_and_execute(request(kDemo, backend));
    REQUIRE(warm.decision == Outcome::kRan);
    CHECK(warm.run->stdout_data == "hello from wardendemo 42\n");
    CHECK(warm.dependencies["cached"] == true);
    CHECK(warm.dependencies["packages"] == set["packages"]);
    CHECK(index.lines_from("index") == index_lines);
    CHECK(records_of(f.log(), warm.request_id, "egress").empty());
    CHECK(records_of(f.log(), warm.request_id, "dependencies")[0]["outcome"] == "cached");
    CHECK(warm.total_ms < cold.total_ms);

    // Asked another way, resolved to the same distributions: one tree.
    ExecutionRequest both = request(kDemo, backend);
    both.dependencies = {"wardendep>=2"};
    ExecutionResult same = host->assess_and_execute(both);
    INFO(same.reason);
    REQUIRE(same.decision == Outcome::kRan);
    CHECK(same.dependencies["cached"] == false);
    CHECK(same.dependencies["key"] != set["key"]);
    CHECK(same.dependencies["set"] == set["set"]);
  });
}

TEST_CASE("the run phase has no network and cannot change the installed set") {
  Fixture f;
  auto host = Host::open(f.config.string());
  const test::PackageIndex& index = index_server();
  std::string code = std::string(kDemo) +
                     "import os, socket\n"
                     "def attempt(what, fn):\n"
                     "    try:\n"
                     "        fn()\n"
                     "        print(what, 'worked')\n"
                     "    except OSError as e:\n"
                     "        print(what, 'failed')\n"
                     "attempt('tcp', lambda: socket.create_connection(('" +
                     (index.host_address().empty() ? "192.0.2.1" : index.host_address()) + "', " +
                     std::to_string(index.port("tcp")) +
                     "), timeout=2))\n"
                     "attempt('egress', lambda: socket.socket(socket.AF_UNIX).connect("
                     "'/run/warden/egress.sock'))\n"
                     "attempt('write', lambda: open(os.path.dirname(wardendemo.__file__) + "
                     "'/x.py', 'w'))\n"
                     "attempt('remove', lambda: os.unlink(wardendemo.__file__))\n";
  for_each_backend(*host, [&](const std::string& backend) {
    std::size_t tcp_lines = index.lines_from("tcp");
    ExecutionResult r = host->assess_and_execute(request(code, backend));
    INFO(r.reason << " " << (r.run ? r.run->stderr_data : ""));
    REQUIRE(r.decision == Outcome::kRan);
    CHECK(r.network == NetworkMode::kNone);
    CHECK(r.run->stdout_data ==
          "hello from wardendemo 42\ntcp failed\negress failed\nwrite failed\nremove failed\n");
    CHECK(index.lines_from("tcp") == tcp_lines);
  });
}

TEST_CASE("what the policy does not allow is refused with its reason, before or after pip") {
  Fixture f;
  auto host = Host::open(f.config.string());
  auto declaring = [](const std::string& package) {
    return "# /// script\n# dependencies = [\"" + package + "\"]\n# ///\nprint('ran')\n";
  };
  for_each_backend(*host, [&](const std::string& backend) {
    test::PackageIndex& index = index_server();

    // Not on the allow-list: the policy says so, and nothing is fetched.
    std::size_t index_lines = index.lines_from("index");
    ExecutionResult not_listed =
        host->assess_and_execute(request(declaring("wardenextra"), backend));
    CHECK(not_listed.decision == Outcome::kRefused);
    CHECK_THAT(not_listed.reason, Catch::Contains("denied by the policy (dependencies)") &&
                                      Catch::Contains("wardenextra is not on the allow-list"));
    CHECK_FALSE(not_listed.run);
    CHECK(index.lines_from("index") == index_lines);

    // Untrusted code installs nothing.
    ExecutionResult untrusted =
        host->assess_and_execute(request(declaring("wardendemo"), backend, "untrusted"));
    CHECK(untrusted.decision == Outcome::kRefused);
    CHECK_THAT(untrusted.reason, Catch::Contains("untrusted code may not install packages"));

    // Allowed, but what it pulls in is not: found after pip, nothing kept.
    ExecutionResult pulls = host->assess_and_execute(request(declaring("wardenpulls"), backend));
    CHECK(pulls.decision == Outcome::kRefused);
    CHECK_THAT(pulls.reason, Catch::Contains("wardenextra 1.0") &&
                                 Catch::Contains("not among the packages the policy allows"));
    CHECK_FALSE(pulls.run);
    auto refused = records_of(f.log(), pulls.request_id, "dependencies");
    REQUIRE(refused.size() == 1);
    CHECK(refused[0]["outcome"] == "refused");
    CHECK(pulls.dependencies["refused"] == refused[0]["reason"]);

    // An install hook (a .pth file, sitecustomize.py): refused unless trusted.
    ExecutionResult hook =
        host->assess_and_execute(request(declaring("wardenhook"), backend, "standard"));
    CHECK(hook.decision == Outcome::kRefused);
    CHECK_THAT(hook.reason, Catch::Contains("install hooks") &&
                                Catch::Contains("sitecustomize.py") &&
                                Catch::Contains("wardenhook.pth"));
    ExecutionResult trusted_hook =
        host->assess_and_execute(request(declaring("wardenhook"), backend, "trusted"));
    INFO(trusted_hook.reason);
    CHECK(trusted_hook.decision == Outcome::kRan);
    CHECK(trusted_hook.dependencies["hooks"].size() == 2);

    // An index page that sends pip to a host the policy did not name: the
    // proxy refuses it, pip fails, the refusal is in the audit log.
    std::size_t forbidden_lines = index.lines_from("forbidden");
    ExecutionResult far = host->assess_and_execute(request(declaring("wardenfar"), backend));
    CHECK(far.decision == Outcome::kRefused);
    CHECK_THAT(far.reason, Catch::Contains("pip could not install them"));
    CHECK(index.lines_from("forbidden") == forbidden_lines);
    bool denied_recorded = false;
    for (const auto& e : records_of(f.log(), far.request_id, "egress"))
      denied_recorded |= e["host"] == "forbidden.test" && e["allowed"] == false &&
                         e["reason"].get<std::string>().find("not allowed") != std::string::npos;
    CHECK(denied_recorded);
  });
}

TEST_CASE("warden run --with installs beside PEP 723, and bad requirements name the place") {
  Fixture f;
  fs::path program = f.dir.write("prog.py", "import wardendemo\nprint(wardendemo.greet())\n");
  test::ProcessResult ran =
      test::run_process({test::warden_binary(), "--config", f.config.string(), "run", "--json",
                         "--with", "wardendemo", program.string()});
  INFO(ran.err);
  REQUIRE(ran.exit_code == 0);
  nlohmann::json r = nlohmann::json::parse(ran.out);
  CHECK(r["stdout"] == "hello from wardendemo 42\n");
  CHECK(r["dependencies"]["packages"].size() == 2);

  fs::path bad =
      f.dir.write("bad.py", "# /// script\n# dependencies = [\n#   '-e .',\n# ]\n# ///\n");
  test::ProcessResult refused = test::run_process(
      {test::warden_binary(), "--config", f.config.string(), "run", bad.string()});
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.err, Catch::Contains(bad.string() + ":3:") && Catch::Contains("pip options"));
}

// --------------------------------------------------- the phase from inside

TEST_CASE("from inside the install phase only the allowed index is reachable") {
  test::PackageIndex& index = index_server();
  test::TempDir dir;
  Config config = load_config(dir.write("warden.yaml", dependencies_yaml(dir)));
  deps::Installer installer(config.dependencies);
  deps::InstallPlan plan;
  plan.indexes = config.dependencies.indexes;

  std::vector<std::string> nameservers;
  std::istringstream resolv(test::read_file("/etc/resolv.conf"));
  for (std::string line; std::getline(resolv, line);)
    if (line.starts_with("nameserver ")) nameservers.push_back(line.substr(11));
  nlohmann::json args = index.ports();
  args["nameservers"] = nameservers;
  std::string probe = test::read_file(std::string(WARDEN_DEPS_DIR) + "/install_phase_probe.py");

  PluginCatalog catalog;
  catalog.load_directory(WARDEN_PLUGIN_DIR);
  for (const auto& name : backend_names()) {
    auto backend = catalog.create_sandbox(name, {}, "backends.settings." + name);
    Availability a = backend->probe();
    if (!a.available) {
      if (test::under_ci()) FAIL("backend unavailable under CI: " << name << ": " << a.reason);
      WARN("skipped backend " << name << ": " << a.reason);
      continue;
    }
    SECTION(name) {
      std::size_t forbidden = index.lines_from("forbidden");
      std::size_t tcp = index.lines_from("tcp");
      std::size_t udp = index.lines_from("udp");
      deps::Installer::PhaseRun phase =
          installer.run_install_phase(plan, *backend, "deps-probe-" + name, probe, {args.dump()},
                                      {{"ca.pem", test::read_file(index.ca()), ""}}, {});
      INFO(phase.run.stderr_data);
      REQUIRE(phase.run.exit_code == 0);
      nlohmann::json seen = nlohmann::json::parse(phase.run.stdout_data);
      INFO(seen.dump(2));
      // Through the proxy: the allowed index answers, nothing else does.
      CHECK(seen["allowed"] == "200");
      for (const char* attempt :
           {"connect_forbidden_name", "connect_ip_literal", "connect_ip_literal_index_port",
            "connect_decimal_literal", "connect_index_wrong_port", "http_forbidden"})
        CHECK(seen[attempt] == "403");
      CHECK_THAT(seen["http_host_mismatch"].get<std::string>(), Catch::Matches("40[03]"));
      CHECK_THAT(seen["sni_mismatch"].get<std::string>(), Catch::StartsWith("error"));
      // Around it: no route, no resolver, no raw sockets.
      for (const char* attempt : {"tcp_host", "tcp_loopback_forbidden", "getaddrinfo_forbidden",
                                  "getaddrinfo_outside", "raw_icmp"})
        CHECK_THAT(seen[attempt].get<std::string>(), Catch::StartsWith("error"));
      CHECK(seen["interfaces"] == nlohmann::json::array({"lo"}));
      // What reached the host: nothing but the allowed index.
      CHECK(index.lines_from("forbidden") == forbidden);
      CHECK(index.lines_from("tcp") == tcp);
      CHECK(index.lines_from("udp") == udp);
      // And the proxy said why for each refusal.
      std::set<std::string> reasons;
      for (const auto& d : phase.egress)
        if (!d.allowed) reasons.insert(d.reason);
      std::string all;
      for (const auto& r : reasons) all += r + "\n";
      CHECK_THAT(all, Catch::Contains("IP literal") && Catch::Contains("SNI"));
      std::size_t allowed = 0;
      for (const auto& d : phase.egress) allowed += d.allowed ? 1 : 0;
      CHECK(allowed == 1);
    }
  }
}
