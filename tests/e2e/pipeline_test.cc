// Mai's integration scenarios, done for real: the heuristics assessor, the
// default Lua policy, the native sandbox and the audit log, through the C++
// embedding API and the warden program. Nothing of warden is mocked.
#define CATCH_CONFIG_MAIN
#include <sys/mount.h>
#include <unistd.h>
#include <warden/host.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "audit/audit_reader.h"
#include "support/process.h"

using namespace warden;
namespace fs = std::filesystem;

namespace {

const char* kLow = "print('Hello, World!')\n";
const char* kMedium =
    "import subprocess\nsubprocess.run(['true'])\nsubprocess.run(['true'])\nprint('medium')\n";
const char* kHigh =
    "import ctypes\nimport pickle\ntry:\n    print(open('/etc/shadow').read())\nexcept OSError:\n"
    "    print('no shadow')\nprint(pickle.loads(pickle.dumps(1)))\n";
const char* kBlocked = "import os\nos.system('rm -rf /tmp/nothing-here')\nprint('ran anyway')\n";

struct Fixture {
  test::TempDir dir;
  fs::path config;
  explicit Fixture(const std::string& extra = "", const fs::path& audit_dir = {}) {
    fs::path audit = audit_dir.empty() ? dir.path() / "audit" : audit_dir;
    config = dir.write("warden.yaml",
                       "log_level: warn\n"
                       "plugins: {directories: [" +
                           std::string(WARDEN_PLUGIN_DIR) +
                           "]}\n"
                           "assessors: {enabled: [heuristics]}\n"
                           "backends: {enabled: [native]}\n"
                           "policies: {directory: " +
                           std::string(WARDEN_SOURCE_DIR) +
                           "/policies/default}\n"
                           "audit:\n  directory: " +
                           audit.string() + "\n  signing_key: " +
                           (dir.path() / "keys/audit.key").string() + "\n" + extra);
  }
  std::unique_ptr<Host> host() const { return Host::open(config.string()); }
  audit::Scan log() const { return audit::scan_log(dir.path() / "audit", "warden.local/audit"); }
};

ExecutionRequest request(const std::string& code) {
  ExecutionRequest r;
  r.code = code;
  r.user = "mai";
  return r;
}

std::set<std::string> kinds_of(const audit::Scan& scan, const std::vector<std::string>& ids) {
  std::set<std::string> kinds;
  for (const auto& rec : scan.records)
    if (std::find(ids.begin(), ids.end(), rec.id) != ids.end()) kinds.insert(rec.kind);
  return kinds;
}

}  // namespace

TEST_CASE("LOW code runs and its output comes back") {
  Fixture f;
  auto r = f.host()->assess_and_execute(request(kLow));
  CHECK(r.decision == Outcome::kRan);
  CHECK(r.level == RiskLevel::kLow);
  CHECK(r.trust == TrustLevel::kTrusted);
  REQUIRE(r.run);
  CHECK(r.run->stdout_data == "Hello, World!\n");
  CHECK(r.run->exit_code == 0);
  CHECK(r.backend == "native");
  CHECK_FALSE(r.override_used);
  // The sandbox run is timed inside the whole request, and python takes a while.
  CHECK(r.sandbox_ms >= r.run->wall_time_ms);
  CHECK(r.total_ms > r.sandbox_ms);
  CHECK(r.to_json()["timings"]["host_ms"].get<double>() == r.total_ms - r.sandbox_ms);
}

TEST_CASE("MEDIUM code runs, standard trust, with warnings") {
  Fixture f;
  auto r = f.host()->assess_and_execute(request(kMedium));
  CHECK(r.level == RiskLevel::kMedium);
  CHECK(r.decision == Outcome::kRan);
  CHECK(r.trust == TrustLevel::kStandard);
  CHECK_FALSE(r.warnings.empty());
  REQUIRE(r.run);
  CHECK(r.run->stdout_data == "medium\n");
}

TEST_CASE("HIGH code is not run without confirmation, and runs with it") {
  Fixture f;
  auto host = f.host();
  auto unconfirmed = host->assess_and_execute(request(kHigh));
  CHECK(unconfirmed.level == RiskLevel::kHigh);
  CHECK(unconfirmed.decision == Outcome::kNeedsConfirmation);
  CHECK_FALSE(unconfirmed.run);
  auto req = request(kHigh);
  req.confirmed = true;
  auto confirmed = host->assess_and_execute(req);
  CHECK(confirmed.decision == Outcome::kRan);
  CHECK(confirmed.trust == TrustLevel::kUntrusted);
  REQUIRE(confirmed.run);
  CHECK(confirmed.run->stdout_data == "no shadow\n1\n");
  CHECK(kinds_of(f.log(), confirmed.audit_ids).count("confirmation"));
}

TEST_CASE("BLOCKED code is refused without an override") {
  Fixture f;
  auto r = f.host()->assess_and_execute(request(kBlocked));
  CHECK(r.level == RiskLevel::kBlocked);
  CHECK(r.decision == Outcome::kBlocked);
  CHECK(r.sandbox_ms == 0);
  CHECK_THAT(r.reason, Catch::Contains("blocked by security assessment"));
  CHECK_FALSE(r.run);
  CHECK_FALSE(r.override_used);
}

TEST_CASE("BLOCKED code with an explained override runs untrusted, and the override is audited") {
  Fixture f;
  auto req = request(kBlocked);
  req.override_blocked = true;
  req.override_explanation = "I wrote this cleanup myself";
  ExecutionResult r;
  {
    auto host = f.host();
    r = host->assess_and_execute(req);
  }
  CHECK(r.decision == Outcome::kRan);
  CHECK(r.override_used);
  CHECK(r.trust == TrustLevel::kUntrusted);
  REQUIRE(r.run);
  CHECK(r.run->stdout_data == "ran anyway\n");
  bool found = false;
  for (const auto& rec : f.log().records)
    if (rec.kind == "override" && rec.data["explanation"] == "I wrote this cleanup myself" &&
        rec.data["allowed"] == true)
      found = true;
  CHECK(found);
}

TEST_CASE("limits grow with complexity, and the sandbox sees the limits decided") {
  Fixture f;
  auto host = f.host();
  std::string probe =
      "import resource\nprint(resource.getrlimit(resource.RLIMIT_NOFILE)[1], "
      "resource.getrlimit(resource.RLIMIT_FSIZE)[1])\n";
  std::string complex = probe;
  for (int i = 0; i < 40; ++i)
    complex += "def f" + std::to_string(i) +
               "(x):\n    for y in x:\n        if y:\n            return y\n";
  auto simple_run = host->assess_and_execute(request(probe));
  auto complex_run = host->assess_and_execute(request(complex));
  REQUIRE(simple_run.run);
  REQUIRE(complex_run.run);
  CHECK(complex_run.limits.memory_bytes > simple_run.limits.memory_bytes);
  CHECK(complex_run.limits.wall_time_ms > simple_run.limits.wall_time_ms);
  CHECK(simple_run.run->stdout_data == std::to_string(simple_run.limits.open_files) + " " +
                                           std::to_string(simple_run.limits.file_size_bytes) +
                                           "\n");
  CHECK(simple_run.run->peak_memory_bytes <= simple_run.limits.memory_bytes);
}

TEST_CASE("every operation leaves its audit records") {
  Fixture f;
  ExecutionResult ran, blocked;
  {
    auto host = f.host();
    ran = host->assess_and_execute(request(kLow));
    blocked = host->assess_and_execute(request(kBlocked));
  }
  auto scan = f.log();
  CHECK(kinds_of(scan, ran.audit_ids) ==
        std::set<std::string>{"assessment", "decision", "run_start", "run_result"});
  CHECK(kinds_of(scan, blocked.audit_ids) == std::set<std::string>{"assessment", "decision"});
  std::set<std::string> all;
  for (const auto& rec : scan.records) all.insert(rec.kind);
  CHECK(all.count("system_start"));
  CHECK(all.count("system_stop"));
  CHECK(all.count("policy_load"));
  // Each decision names the policy version that made it: the hash its
  // policy_load record gives, over each policy file's SHA-256.
  std::string loaded;
  int decisions = 0;
  for (const auto& rec : scan.records) {
    if (rec.kind == "policy_load") loaded = rec.data.at("sha256");
    if (rec.kind != "decision") continue;
    ++decisions;
    CHECK(rec.data.at("policy_sha256") == loaded);
  }
  CHECK(decisions == 2);
  CHECK(loaded.size() == 64);
}

TEST_CASE("a tampered audit log shows up in the security status") {
  Fixture f;
  auto host = f.host();
  host->assess_and_execute(request(kLow));
  CHECK(host->get_security_status()["audit_integrity"]["valid"] == true);
  CHECK(host->get_security_status()["system_status"] == "operational");
  fs::path segment = f.dir.path() / "audit/seg-00000001.wal";
  std::string bytes = test::read_file(segment);
  bytes[bytes.size() / 2] ^= 0x20;
  std::ofstream(segment, std::ios::binary | std::ios::trunc) << bytes;
  auto status = host->get_security_status();
  CHECK(status["audit_integrity"]["valid"] == false);
  CHECK(status["system_status"] == "degraded");
}

TEST_CASE("bad input is refused with a clear message") {
  Fixture f;
  auto host = f.host();
  const std::size_t records_before = f.log().records.size();
  auto expect_invalid = [&](ExecutionRequest r, const std::string& message) {
    try {
      host->assess_and_execute(r);
      FAIL("expected bad input: " << message);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kInvalidInput);
      CHECK_THAT(e.what(), Catch::Contains(message));
    }
  };
  expect_invalid(request("   \n"), "Code cannot be empty");
  expect_invalid(request(std::string(100 * 1024 + 1, '#')), "Code too large (max 100KB)");
  auto no_reason = request(kBlocked);
  no_reason.override_blocked = true;
  expect_invalid(no_reason, "User override requires explanation");
  auto long_reason = request(kBlocked);
  long_reason.override_blocked = true;
  long_reason.override_explanation = std::string(501, 'x');
  expect_invalid(long_reason, "Override explanation too long (max 500 characters)");
  auto backend = request(kLow);
  backend.backend = "kubernetes";
  expect_invalid(backend, "Unknown backend 'kubernetes' (loaded: native)");
  auto limits = request(kLow);
  limits.limits["memory"] = "64GiB";
  expect_invalid(limits, "limit 'memory' = '64GiB': above the ceiling of 2 GiB");
  limits.limits = {{"pids", "lots"}};
  expect_invalid(limits, "limit 'pids' = 'lots': expected a positive whole number");
  limits.limits = {{"swap", "1GiB"}};
  expect_invalid(limits, "limit 'swap'");
  auto input = request(kLow);
  input.stdin_data = std::string(100 * 1024 + 1, 'x');
  expect_invalid(input, "stdin too large (max 100KB");
  auto args = request(kLow);
  args.args = std::vector<std::string>(257, "a");
  expect_invalid(args, "Too many program arguments: 257 (max 256)");
  args.args = {"ok", std::string(65 * 1024, 'a')};
  expect_invalid(args, "Program arguments too long");
  args.args = {"ok", "bad\xff"};
  expect_invalid(args, "Program argument 2 is not UTF-8");
  args.args = {std::string("nul\0byte", 8)};
  expect_invalid(args, "Program argument 1 is not UTF-8 text without NUL bytes");
  auto files = request(kLow);
  files.files = {{"../escape", "x", ""}};
  expect_invalid(files, "Input file '../escape': the path has a \".\" or \"..\" in it");
  files.files = {{"/etc/passwd", "x", ""}};
  expect_invalid(files, "Input file '/etc/passwd': the path is absolute");
  files.files = {{"a", "x", ""}, {"a-b", "y", ""}, {"a/b", "z", ""}};
  expect_invalid(files, "Input file 'a' is also a folder of 'a/b'");
  files.files = {{"same", "x", ""}, {"same", "y", ""}};
  expect_invalid(files, "Input file 'same' is given twice");
  files.files = std::vector<RunFile>(65);
  for (std::size_t i = 0; i < files.files.size(); ++i) files.files[i].path = std::to_string(i);
  expect_invalid(files, "Too many input files: 65 (max 64)");
  files.files = {{"big", std::string((16u << 20) + 1, 'x'), ""}};
  expect_invalid(files, "Input files too large: 16777217 bytes (max 16777216");
  // Refused before any work: nothing was assessed, so nothing was recorded.
  CHECK(f.log().records.size() == records_before);
  CHECK_THROWS_AS(host->get_execution_history(0), Error);
  CHECK_THROWS_AS(host->get_audit_report(-1), Error);
}

TEST_CASE("program arguments and stdin reach the program, and the log records them") {
  Fixture f;
  auto host = f.host();
  auto r = request("import sys\nprint(sys.argv[1:], sys.stdin.read())\n");
  r.args = {"-n", "3", "two words"};
  r.stdin_data = "input";
  auto result = host->assess_and_execute(r);
  REQUIRE(result.run);
  CHECK(result.run->stdout_data == "['-n', '3', 'two words'] input\n");
  bool recorded = false;
  for (const auto& rec : f.log().records)
    if (rec.kind == "assessment" && rec.data["args"] == nlohmann::json(r.args)) {
      recorded = true;
      CHECK(rec.data["stdin_sha256"] ==
            "c96c6d5be8d08a12e7b5cdc1b207fa6b2430974c86803d8891675e76fd992c20");
      CHECK(rec.data["stdin_bytes"] == 5);
    }
  CHECK(recorded);
}

TEST_CASE("input files are read-only in the sandbox, the files it leaves come back, all hashed") {
  Fixture f;
  auto host = f.host();
  auto r = request(
      "import os\n"
      "print(open('data/in.csv').read(), end='')\n"
      "for attempt in (lambda: open('data/in.csv', 'w'), lambda: os.remove('data/in.csv'),\n"
      "                lambda: os.rename('data/in.csv', 'moved'), lambda: os.chmod('data/in.csv', "
      "0o666),\n"
      "                lambda: open('data/new', 'w')):\n"
      "    try:\n"
      "        attempt()\n"
      "        print('changed')\n"
      "    except OSError as e:\n"
      "        print(type(e).__name__)\n"
      "os.makedirs('out/deep', exist_ok=True)\n"
      "open('out/deep/plot.png', 'wb').write(bytes(range(256)))\n"
      "open('notes.txt', 'w').write('done')\n");
  r.files = {{"data/in.csv", "a,b\n1,2\n", ""}};
  auto result = host->assess_and_execute(r);
  REQUIRE(result.run);
  CHECK(result.run->stdout_data ==
        "a,b\n1,2\nPermissionError\nPermissionError\nPermissionError\nPermissionError\n"
        "PermissionError\n");
  REQUIRE(result.run->files.size() == 2);
  CHECK(result.run->files[0].path == "notes.txt");
  CHECK(result.run->files[0].content == "done");
  CHECK(result.run->files[1].path == "out/deep/plot.png");
  CHECK(result.run->files[1].content.size() == 256);
  CHECK(result.run->files[1].sha256 ==
        "40aff2e9d2d8922e47afd4648e6967497158785fbd1da870e7110266bf944880");
  CHECK(result.run->files_skipped.empty());
  nlohmann::json j = result.to_json();
  CHECK(j["files"][0]["content_base64"] == "ZG9uZQ==");
  bool inputs_recorded = false, outputs_recorded = false;
  for (const auto& rec : f.log().records) {
    if (rec.kind == "assessment" && rec.data["input_files"].size() == 1) {
      inputs_recorded = true;
      CHECK(rec.data["input_files"][0] ==
            nlohmann::json(
                {{"path", "data/in.csv"},
                 {"size", 8},
                 {"sha256", "492d5ea496056f1a6a6592241032fab764c321596317930b4fa0e1e8bc3b7470"}}));
    }
    if (rec.kind == "run_result" && rec.data["files"].size() == 2) {
      outputs_recorded = true;
      CHECK(rec.data["files"][1]["sha256"] == result.run->files[1].sha256);
      CHECK_FALSE(rec.data["files"][1].contains("content"));
    }
  }
  CHECK(inputs_recorded);
  CHECK(outputs_recorded);
}

TEST_CASE("execution history and the audit report come from the log") {
  Fixture f;
  auto host = f.host();
  for (int i = 0; i < 3; ++i) host->assess_and_execute(request(kLow));
  host->assess_and_execute(request(kBlocked));
  auto history = host->get_execution_history(2);
  CHECK(history["recent_executions"].size() == 2);
  CHECK(history["security_assessments"].size() == 2);
  auto report = host->get_audit_report(24);
  CHECK(report["summary"]["runs"] == 3);
  CHECK(report["summary"]["blocked_attempts"] == 1);
  CHECK(report["integrity_check"]["intact"] == true);
}

TEST_CASE("configure_policies changes the next decision, and is audited") {
  Fixture f;
  auto host = f.host();
  CHECK(host->assess_and_execute(request(kLow)).decision == Outcome::kRan);
  PolicyUpdate update;
  std::string strict =
      test::read_file(std::string(WARDEN_SOURCE_DIR) + "/policies/default/risk.lua");
  strict.replace(strict.find("MEDIUM = 4, HIGH = 7, BLOCKED = 10"), 34,
                 "MEDIUM = 0, HIGH = 0, BLOCKED = 10");
  for (const char* name : {"trust.lua", "limits.lua", "override.lua"})
    update.files.emplace_back(
        name, test::read_file(std::string(WARDEN_SOURCE_DIR) + "/policies/default/" + name));
  update.files.emplace_back("risk.lua", strict);
  host->configure_policies(update);
  CHECK(host->assess_and_execute(request(kLow)).decision == Outcome::kNeedsConfirmation);
  PolicyUpdate broken;
  broken.files.emplace_back("risk.lua", "function classify(a) return {");
  CHECK_THROWS_AS(host->configure_policies(broken), Error);
  CHECK(host->assess_and_execute(request(kLow)).decision ==
        Outcome::kNeedsConfirmation);  // old one stays
  bool reload = false;
  for (const auto& rec : f.log().records) reload = reload || rec.kind == "policy_reload";
  CHECK(reload);
}

TEST_CASE("no code runs while the audit log cannot be written") {
  if (geteuid() != 0) {
    if (test::under_ci()) FAIL("this test mounts a small tmpfs and needs root");
    WARN("skipped: mounting a small tmpfs needs root");
    return;
  }
  test::TempDir small;
  REQUIRE(mount("tmpfs", small.path().c_str(), "tmpfs", 0, "size=256k") == 0);
  struct Unmount {
    fs::path p;
    ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
  } unmount{small.path()};
  Fixture f("", small.path() / "audit");
  auto host = f.host();
  CHECK(host->assess_and_execute(request(kLow)).decision == Outcome::kRan);
  {
    std::ofstream filler(small.path() / "filler", std::ios::binary);
    std::string block(4096, 'x');
    for (int i = 0; i < 256 && filler; ++i) filler << block;
  }
  // The last page of the segment file may still hold a request's records:
  // such a request is durable and may run. The first whose records do not
  // fit is refused before its code runs, and so is every one after it.
  std::vector<std::string> ran;
  bool refused = false;
  for (int attempt = 0; attempt < 50 && !refused; ++attempt) {
    try {
      ran.push_back(host->assess_and_execute(request("print('fits')\n")).request_id);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kEnvironment);
      CHECK_THAT(e.what(), Catch::Contains("audit log cannot be written"));
      refused = true;
    }
  }
  REQUIRE(refused);
  for (int attempt = 0; attempt < 2; ++attempt)
    CHECK_THROWS_WITH(host->assess_and_execute(request("print('must not run')\n")),
                      Catch::Contains("audit log cannot be written"));
  auto records = audit::scan_log(small.path() / "audit", "warden.local/audit").records;
  for (const auto& id : ran) {
    INFO("request " << id << " ran");
    bool recorded = false;
    for (const auto& rec : records)
      recorded =
          recorded || (rec.kind == "run_result" && rec.data.dump().find(id) != std::string::npos);
    CHECK(recorded);
  }
  CHECK(host->get_security_status()["system_status"] == "degraded");
}

TEST_CASE("warden run: the program's exit code, or 1 for a negative verdict") {
  Fixture f;
  auto low = f.dir.write("low.py", "import sys\nprint('hi')\nsys.exit(7)\n");
  auto blocked = f.dir.write("blocked.py", kBlocked);
  auto r = test::run_process(
      {test::warden_binary(), "--config", f.config.string(), "run", "--json", low.string()});
  CHECK(r.exit_code == 7);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["decision"] == "ran");
  CHECK(j["stdout"] == "hi\n");
  CHECK(j["trust"] == "trusted");
  CHECK(j["resource_usage"]["wall_time_ms"].get<int>() > 0);
  CHECK(j["audit_ids"].size() == 4);
  auto b = test::run_process(
      {test::warden_binary(), "--config", f.config.string(), "run", "--json", blocked.string()});
  CHECK(b.exit_code == 1);
  CHECK(nlohmann::json::parse(b.out)["decision"] == "blocked");
  auto o = test::run_process({test::warden_binary(), "--config", f.config.string(), "run",
                              "--override", "reviewed", blocked.string()});
  CHECK(o.exit_code == 0);
  CHECK_THAT(o.out, Catch::Contains("trust:    untrusted (override)"));
  auto verify =
      test::run_process({test::warden_binary(), "--config", f.config.string(), "audit", "verify"});
  CHECK(verify.exit_code == 0);
  auto assess = test::run_process({test::warden_binary(), "--config", f.config.string(), "assess",
                                   "--sarif", blocked.string()});
  CHECK(assess.exit_code == 1);
  auto sarif = nlohmann::json::parse(assess.out);
  CHECK(sarif["version"] == "2.1.0");
  CHECK(sarif["runs"][0]["results"].size() >= 2);

  // Bytes that are not UTF-8 come back replaced, with the whole result.
  auto binary =
      f.dir.write("binary.py", "import sys\nsys.stdout.buffer.write(b'ok\\xff\\xfe\\x80')\n");
  auto raw = test::run_process(
      {test::warden_binary(), "--config", f.config.string(), "run", "--json", binary.string()});
  CHECK(raw.exit_code == 0);
  auto rj = nlohmann::json::parse(raw.out);
  CHECK(rj["decision"] == "ran");
  CHECK(rj["stdout"] == "ok\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(rj["stdout_replaced"] == true);
  CHECK(rj["stderr_replaced"] == false);
  // Printed for people, in process, the program's own bytes come out as they are.
  auto human = test::run_process(
      {test::warden_binary(), "--config", f.config.string(), "run", binary.string()});
  CHECK(human.exit_code == 0);
  CHECK_THAT(human.out, Catch::Contains("--- stdout ---\nok\xff\xfe\x80\n"));

  // The reading commands read the files alone: they append no record.
  std::uint64_t before = f.log().size();
  auto history = test::run_process(
      {test::warden_binary(), "--config", f.config.string(), "history", "--limit", "2"});
  CHECK(history.exit_code == 0);
  auto h = nlohmann::json::parse(history.out);
  CHECK(h["recent_executions"].size() == 2);
  CHECK(h["recent_decisions"][0]["data"]["outcome"].is_string());
  auto report = test::run_process({test::warden_binary(), "--config", f.config.string(), "report"});
  CHECK(report.exit_code == 0);
  auto summary = nlohmann::json::parse(report.out);
  CHECK(summary["integrity_check"]["intact"] == true);
  CHECK(summary["summary"]["by_kind"]["run_result"].get<int>() >= 2);
  CHECK(f.log().size() == before);
}

TEST_CASE("warden run shows progress on a terminal, and never in --json or through a pipe") {
  Fixture f;
  // Sleeps past the second after which a step is worth showing.
  auto slow = f.dir.write("slow.py", "import time\ntime.sleep(2.5)\nprint('done')\n");
  const std::vector<std::string> run = {test::warden_binary(), "--config", f.config.string(),
                                        "run"};
  auto argv = [&](std::vector<std::string> extra) {
    auto all = run;
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  };

  auto on_terminal = test::run_process_on_terminal(argv({slow.string()}));
  INFO(on_terminal.err);
  CHECK(on_terminal.exit_code == 0);
  CHECK_THAT(on_terminal.err, Catch::Contains("assessing and running " + slow.string() + " ("));
  // The line is erased before the result is printed.
  auto last_shown = on_terminal.err.rfind("assessing and running");
  CHECK(on_terminal.err.find("\r\x1b[2K", last_shown) != std::string::npos);
  CHECK_THAT(on_terminal.out, Catch::Contains("done"));

  auto json_on_terminal = test::run_process_on_terminal(argv({"--json", slow.string()}));
  CHECK(json_on_terminal.exit_code == 0);
  CHECK(json_on_terminal.err.find("assessing") == std::string::npos);
  CHECK(nlohmann::json::parse(json_on_terminal.out)["stdout"] == "done\n");

  auto piped = test::run_process(argv({slow.string()}));
  CHECK(piped.exit_code == 0);
  CHECK(piped.err.find("assessing") == std::string::npos);
  CHECK(piped.err.find("\x1b[2K") == std::string::npos);
}

TEST_CASE("explain is a dry run of the same steps: it agrees with the run and records nothing") {
  Fixture f;
  auto host = f.host();
  std::size_t records_before = f.log().records.size();

  // A BLOCKED request without an override: blocked, and what an override would bring.
  nlohmann::json blocked = host->explain(request(kBlocked));
  CHECK(blocked["outcome"] == "blocked");
  CHECK(blocked["classify"]["level"] == "BLOCKED");
  CHECK_FALSE(blocked.contains("trust"));
  REQUIRE(blocked.contains("if_overridden"));
  CHECK(blocked["if_overridden"]["may_override"]["allowed"] == true);
  CHECK(blocked["if_overridden"]["trust"]["trust"] == "untrusted");  // forced, as the host does
  CHECK(blocked["if_overridden"]["trust"].contains("forced"));
  CHECK(f.log().records.size() == records_before);  // a dry run records nothing

  // The same request overridden: explain's plan is the run's.
  auto overridden = request(kBlocked);
  overridden.override_blocked = true;
  overridden.override_explanation = "cleanup I wrote";
  nlohmann::json plan = host->explain(overridden);
  ExecutionResult ran = host->assess_and_execute(overridden);
  CHECK(plan["outcome"] == to_string(ran.decision));
  CHECK(plan["trust"]["trust"] == to_string(ran.trust));
  CHECK(plan["limits"]["backend"] == ran.backend);
  CHECK(plan["limits"]["limits"] == nlohmann::json(ran.limits));

  // HIGH without confirmation: needs it, and what confirming would bring.
  nlohmann::json high = host->explain(request(kHigh));
  CHECK(high["outcome"] == "needs_confirmation");
  REQUIRE(high.contains("if_confirmed"));
  CHECK(high["if_confirmed"]["outcome"] == "ran");
  CHECK(high["if_confirmed"]["trust"].contains("notes"));
}

TEST_CASE("assess_code_only records the assessment in the shape a run does, under its file name") {
  Fixture f;
  {
    auto host = f.host();
    nlohmann::json assessed = host->assess_code_only(kMedium, "python", "tool.py");
    CHECK(assessed["assessment"]["file"] == "tool.py");
    auto req = request(kMedium);
    req.file_name = "tool.py";
    host->assess_and_execute(req);
  }
  std::vector<nlohmann::json> assessments;
  for (const auto& rec : f.log().records)
    if (rec.kind == "assessment") assessments.push_back(rec.data);
  REQUIRE(assessments.size() == 2);
  nlohmann::json only = assessments[0], run = assessments[1];
  CHECK(only["assess_only"] == true);
  CHECK(only["file"] == "tool.py");
  only.erase("assess_only");
  run.erase("request_id");
  std::set<std::string> only_keys, run_keys;
  for (const auto& [key, value] : only.items()) only_keys.insert(key);
  for (const auto& [key, value] : run.items()) run_keys.insert(key);
  CHECK(only_keys == run_keys);
  CHECK(only["level"] == run["level"]);
  CHECK(only["summary"] == run["summary"]);
}
