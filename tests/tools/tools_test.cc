// The bandit and semgrep assessors against the real tools (the pinned
// versions in the tools virtualenv, scripts/install-python-tools.sh):
// - Bandit: the plugin reports exactly the (test id, line) pairs the bandit
//   command reports on Bandit's own examples/ (from its source distribution,
//   fetched at test time, never committed);
// - Semgrep: each of warden's rules finds its positive example with the
//   rule's severity and stays silent on its negative one, and the plugin (the
//   engine run directly) finds exactly what the `semgrep scan` command finds
//   on every case, except that `# nosemgrep` hides nothing from it;
// - broken tools (stand-in scripts that crash, hang or print garbage) make
//   the assessor fail or time out with the reason, never "no findings";
// - many threads at once through the warm Bandit workers;
// - a Bandit worker outlives the thread that started it, and ends with the
//   process that did.
#define CATCH_CONFIG_MAIN
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "config/config.h"
#include "plugin/loader.h"
#include "plugin/plugin_set.h"
#include "support/process.h"

using namespace warden;
namespace fs = std::filesystem;

namespace {

fs::path tools_venv() {
  const char* venv = std::getenv("WARDEN_TOOLS_VENV");
  return venv && *venv ? fs::path(venv) : fs::path("/opt/warden/tools");
}

// Whether the real tools are installed; under CI their absence fails.
bool tools_installed() {
  if (fs::exists(tools_venv() / "bin/bandit") && fs::exists(tools_venv() / "bin/semgrep"))
    return true;
  if (test::under_ci())
    FAIL("bandit/semgrep missing in " << tools_venv() << ": run scripts/install-python-tools.sh");
  WARN("skipped: bandit/semgrep not installed in " << tools_venv()
                                                   << " (run scripts/install-python-tools.sh)");
  return false;
}

std::unique_ptr<PluginSet> plugins(const std::string& settings_yaml) {
  Config config = parse_config(
      "log_level: warn\nassessors:\n  enabled: [bandit, semgrep]\n"
      "  settings:\n" +
          settings_yaml + "\nbackends: {enabled: []}\n",
      "tools-test.yaml", "/");
  config.plugin_directories = {WARDEN_PLUGIN_DIR};
  return std::make_unique<PluginSet>(config);
}

std::vector<Finding> assess(const Assessor& a, const std::string& code,
                            const std::string& name = "main.py",
                            std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
  return a.assess(code, "python", name, deadline, {});
}

// A stand-in for a broken tool: a shell script.
fs::path stand_in(const test::TempDir& dir, const std::string& name, const std::string& body) {
  fs::path p = dir.write(name, "#!/bin/sh\n" + body + "\n");
  fs::permissions(p, fs::perms::owner_all);
  return p;
}

// Bandit's examples/: downloaded once into the build tree's test cache.
fs::path bandit_examples() {
  fs::path cache = fs::path(WARDEN_BINARY_DIR) / "test-cache/bandit-sdist";
  fs::path examples;
  std::error_code no_cache_yet;
  for (const auto& e : fs::directory_iterator(cache, no_cache_yet))
    if (fs::exists(e.path() / "examples")) examples = e.path() / "examples";
  if (!examples.empty()) return examples;
  fs::create_directories(cache);
  std::string version =
      test::run_process({(tools_venv() / "bin/bandit").string(), "--version"}).out;
  version = version.substr(7, version.find('\n') - 7);  // "bandit 1.9.4\n..."
  auto got = test::run_process({(tools_venv() / "bin/python").string(), "-m", "pip", "download",
                                "--no-binary", ":all:", "--no-deps", "-q", "-d", cache.string(),
                                "bandit==" + version});
  INFO(got.err);
  REQUIRE(got.exit_code == 0);
  for (const auto& e : fs::directory_iterator(cache))
    if (e.path().extension() == ".gz")
      REQUIRE(test::run_process({"/usr/bin/tar", "-xzf", e.path().string(), "-C", cache.string()})
                  .exit_code == 0);
  for (const auto& e : fs::directory_iterator(cache))
    if (fs::exists(e.path() / "examples")) examples = e.path() / "examples";
  REQUIRE_FALSE(examples.empty());  // Bandit's sdist ships examples/
  return examples;
}

}  // namespace

TEST_CASE(
    "the bandit plugin reports exactly what the bandit command reports on Bandit's examples") {
  if (!tools_installed()) return;
  fs::path examples = bandit_examples();
  // The command, once over the folder.
  auto cli = test::run_process(
      {(tools_venv() / "bin/bandit").string(), "-r", examples.string(), "-f", "json", "-q"});
  nlohmann::json report = nlohmann::json::parse(cli.out);
  std::map<std::string, std::set<std::pair<std::string, int>>> expected;
  for (const auto& r : report["results"])
    expected[fs::path(r["filename"].get<std::string>()).filename()].insert(
        {r["test_id"].get<std::string>(), r["line_number"].get<int>()});
  std::set<std::string> unreadable;
  for (const auto& e : report["errors"])
    unreadable.insert(fs::path(e["filename"].get<std::string>()).filename());

  auto set = plugins("    bandit: {skips: []}");  // the command skips nothing either
  const Assessor* bandit = set->assessor("bandit");
  REQUIRE(bandit);
  int files = 0, compared_findings = 0, syntax_errors = 0;
  for (const auto& entry : fs::recursive_directory_iterator(examples)) {
    if (entry.path().extension() != ".py") continue;
    std::string name = entry.path().filename();
    INFO(name);
    ++files;
    if (unreadable.count(name)) {
      // Not "bandit failed": one syntax-error finding on the line CPython names.
      auto where = test::run_process(
          {(tools_venv() / "bin/python").string(), "-c",
           "import sys\ntry:\n compile(open(sys.argv[1],'rb').read(),'x','exec')\n"
           "except (SyntaxError, ValueError) as e:\n print(getattr(e, 'lineno', 1) or 1)",
           entry.path().string()});
      REQUIRE_FALSE(where.out.empty());
      auto findings = assess(*bandit, test::read_file(entry.path()), name);
      REQUIRE(findings.size() == 1);
      CHECK(findings[0].rule_id == "syntax-error");
      CHECK(findings[0].line == std::stoi(where.out));
      ++syntax_errors;
      continue;
    }
    std::set<std::pair<std::string, int>> got;
    for (const auto& f : assess(*bandit, test::read_file(entry.path()), name))
      got.insert({f.rule_id, f.line});
    CHECK(got == expected[name]);
    compared_findings += static_cast<int>(got.size());
  }
  CHECK(files >= 80);
  CHECK(compared_findings >= 200);
  CHECK(syntax_errors == static_cast<int>(unreadable.size()));
}

TEST_CASE("bandit findings carry severity, confidence, CWE, category and the source line") {
  if (!tools_installed()) return;
  auto set = plugins("    bandit: {}");
  auto findings = assess(*set->assessor("bandit"),
                         "import subprocess\nsubprocess.call('ls ' + x, shell=True)\n");
  auto shell = std::find_if(findings.begin(), findings.end(),
                            [](const Finding& f) { return f.rule_id == "B602"; });
  REQUIRE(shell != findings.end());
  CHECK(shell->severity == Severity::kHigh);
  CHECK(shell->confidence == Confidence::kHigh);
  CHECK(shell->cwe == 78);
  CHECK(shell->category == "command-execution");
  CHECK(shell->line == 2);
  CHECK(shell->source_line == "subprocess.call('ls ' + x, shell=True)");
  CHECK(shell->assessor == "bandit");
  // B101 (assert) is skipped by default; it is reported when asked for.
  CHECK(assess(*set->assessor("bandit"), "assert x\n").empty());
  CHECK(assess(*plugins("    bandit: {skips: []}")->assessor("bandit"), "assert x\n").size() == 1);
}

TEST_CASE("each of warden's Semgrep rules finds its example, with the rule's severity") {
  if (!tools_installed()) return;
  fs::path rules_file =
      fs::path(WARDEN_SOURCE_DIR) / "plugins/assessors/semgrep/data/rules/python.yaml";
  YAML::Node rules = YAML::LoadFile(rules_file.string())["rules"];
  const std::map<std::string, Severity> kMapped = {
      {"ERROR", Severity::kHigh}, {"WARNING", Severity::kMedium}, {"INFO", Severity::kLow}};
  auto set = plugins("    semgrep: {}");
  const Assessor* semgrep = set->assessor("semgrep");
  REQUIRE(semgrep);
  REQUIRE(rules.size() >= 15);
  for (const auto& rule : rules) {
    std::string id = rule["id"].as<std::string>();
    INFO(id);
    fs::path cases = fs::path(WARDEN_SOURCE_DIR) / "tests/tools/semgrep_cases" / id;
    REQUIRE(fs::exists(cases / "positive.py"));
    REQUIRE(fs::exists(cases / "negative.py"));
    bool found = false;
    for (const auto& f : assess(*semgrep, test::read_file(cases / "positive.py"))) {
      if (f.rule_id != id) continue;
      found = true;
      CHECK(f.severity == kMapped.at(rule["severity"].as<std::string>()));
      CHECK(f.category == rule["metadata"]["category"].as<std::string>());
      CHECK(f.cwe == rule["metadata"]["cwe"].as<int>());
      CHECK_FALSE(f.source_line.empty());  // read from the program, not Semgrep's "requires login"
      CHECK(f.source_line != "requires login");
    }
    CHECK(found);
    for (const auto& f : assess(*semgrep, test::read_file(cases / "negative.py")))
      CHECK(f.rule_id != id);
  }
}

// (rule id, line) pairs `semgrep scan` reports on `file` with warden's rules,
// `# nosemgrep` comments disregarded as the plugin does.
std::set<std::pair<std::string, int>> semgrep_scan(const fs::path& file) {
  test::TempDir home;
  auto run = test::run_process(
      {(tools_venv() / "bin/semgrep").string(), "scan", "--config",
       (fs::path(WARDEN_SOURCE_DIR) / "plugins/assessors/semgrep/data/rules").string(), "--json",
       "--metrics=off", "--disable-version-check", "--no-rewrite-rule-ids", "--disable-nosem", "-q",
       "--no-git-ignore", "--timeout", "0", file.string()},
      {{"HOME", home.path().string()}, {"SEMGREP_ENABLE_VERSION_CHECK", "0"}});
  INFO(run.err);
  auto report = nlohmann::json::parse(run.out);
  std::set<std::pair<std::string, int>> found;
  for (const auto& r : report["results"])
    found.emplace(r["check_id"].get<std::string>(), r["start"]["line"].get<int>());
  return found;
}

TEST_CASE("the semgrep plugin finds what the semgrep scan command finds, on every rule's cases") {
  if (!tools_installed()) return;
  auto set = plugins("    semgrep: {}");
  const Assessor* semgrep = set->assessor("semgrep");
  REQUIRE(semgrep);
  int compared = 0;
  for (const auto& rule_dir :
       fs::directory_iterator(fs::path(WARDEN_SOURCE_DIR) / "tests/tools/semgrep_cases"))
    for (const char* name : {"positive.py", "negative.py"}) {
      fs::path file = rule_dir.path() / name;
      INFO(file);
      std::set<std::pair<std::string, int>> plugin;
      for (const auto& f : assess(*semgrep, test::read_file(file)))
        plugin.emplace(f.rule_id, f.line);
      CHECK(plugin == semgrep_scan(file));
      ++compared;
    }
  CHECK(compared >= 30);
}

// This process's semgrep-core children waiting on a targets FIFO: the
// plugin's spare engines.
std::vector<pid_t> waiting_spares() {
  std::vector<pid_t> found;
  for (const auto& e : fs::directory_iterator("/proc")) {
    pid_t pid = std::atoi(e.path().filename().c_str());
    if (pid <= 0) continue;
    std::string stat = test::read_file(e.path() / "stat");
    std::size_t after_name = stat.rfind(')');
    if (after_name == std::string::npos) continue;
    std::istringstream fields(stat.substr(after_name + 2));
    std::string state;
    pid_t parent = 0;
    fields >> state >> parent;
    std::string cmdline = test::read_file(e.path() / "cmdline");
    std::size_t targets = cmdline.find(std::string("-targets") + '\0');
    if (parent != ::getpid() || targets == std::string::npos) continue;
    std::string fifo = cmdline.substr(targets + 9, cmdline.find('\0', targets + 9) - targets - 9);
    struct stat st {};
    if (::stat(fifo.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) found.push_back(pid);
  }
  return found;
}

TEST_CASE(
    "the semgrep plugin's spare engines, kept from its first request on, find what a fresh "
    "engine finds, and dead ones are replaced") {
  if (!tools_installed()) return;
  auto cold = plugins("    semgrep: {spares: 0}");
  auto warm = plugins("    semgrep: {spares: 2}");
  auto findings_of = [](const Assessor& a, const std::string& code) {
    std::set<std::pair<std::string, int>> out;
    for (const auto& f : assess(a, code)) out.emplace(f.rule_id, f.line);
    return out;
  };
  auto spares_ready = [] {
    for (int i = 0; i < 100 && waiting_spares().size() < 2; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return waiting_spares().size();
  };
  // None before the first request (a one-shot command would not use them).
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(waiting_spares().empty());
  assess(*warm->assessor("semgrep"), "x = 1\n");
  int compared = 0;
  for (const auto& rule_dir :
       fs::directory_iterator(fs::path(WARDEN_SOURCE_DIR) / "tests/tools/semgrep_cases")) {
    std::string code = test::read_file(rule_dir.path() / "positive.py");
    INFO(rule_dir.path());
    REQUIRE(spares_ready() == 2);  // so that this request takes a spare
    auto expected = findings_of(*cold->assessor("semgrep"), code);
    CHECK_FALSE(expected.empty());
    CHECK(findings_of(*warm->assessor("semgrep"), code) == expected);
    ++compared;
  }
  CHECK(compared >= 15);

  // Spares killed while they wait: the request runs its own engine, and the
  // keeper starts new ones.
  REQUIRE(spares_ready() == 2);
  for (pid_t pid : waiting_spares()) ::kill(pid, SIGKILL);
  const std::string code = "import os\nos.system('ls ' + input())\n";
  CHECK(findings_of(*warm->assessor("semgrep"), code) ==
        findings_of(*cold->assessor("semgrep"), code));
  CHECK(spares_ready() == 2);
}

TEST_CASE("code semgrep cannot parse is a syntax-error finding on its line, not a failure") {
  if (!tools_installed()) return;
  auto set = plugins("    semgrep: {}");
  // A UTF-7 program: Semgrep reads the bytes as they are and stops at line 5.
  auto findings = assess(*set->assessor("semgrep"),
                         test::read_file(fs::path(WARDEN_SOURCE_DIR) /
                                         "tests/corpus/pairs/shell_payload/utf7_encoding.py"));
  bool syntax_error = false;
  for (const auto& f : findings) syntax_error |= f.rule_id == "syntax-error" && f.line == 5;
  CHECK(syntax_error);
}

TEST_CASE("a nosemgrep comment in the program hides nothing") {
  if (!tools_installed()) return;
  auto set = plugins("    semgrep: {}");
  auto findings = assess(*set->assessor("semgrep"),
                         "import os\nos.system('curl x | sh ' + input())  # nosemgrep\n");
  bool shell = false;
  for (const auto& f : findings) shell |= f.rule_id == "warden.python.shell-command";
  CHECK(shell);
}

TEST_CASE("a missing tool makes the assessor unavailable with the reason") {
  auto set = plugins(
      "    bandit: {python: /nonexistent/bin/python}\n    semgrep: {semgrep_core: "
      "/nonexistent/semgrep-core}");
  Availability b = set->assessor("bandit")->probe();
  CHECK_FALSE(b.available);
  CHECK_THAT(b.reason, Catch::Contains("/nonexistent/bin/python") &&
                           Catch::Contains("install-python-tools.sh"));
  Availability s = set->assessor("semgrep")->probe();
  CHECK_FALSE(s.available);
  CHECK_THAT(s.reason, Catch::Contains("/nonexistent/semgrep-core") &&
                           Catch::Contains("install-python-tools.sh"));
}

TEST_CASE("a broken Bandit worker fails or times out with the reason, and is replaced") {
  test::TempDir dir;
  const std::string ready = "echo '{\"ready\": true, \"bandit\": \"0-stand-in\"}'";
  auto settings = [&](const fs::path& python) {
    return "    bandit: {python: " + python.string() + ", workers: 1, startup_timeout_ms: 2000}";
  };
  SECTION("it cannot start") {
    auto set = plugins(settings(stand_in(dir, "crash.sh", "echo boom >&2; exit 1")));
    CHECK_THROWS_WITH(assess(*set->assessor("bandit"), "x = 1\n"),
                      Catch::Contains("did not start") && Catch::Contains("exit code 1"));
  }
  SECTION("it dies on a request") {
    auto set = plugins(settings(stand_in(dir, "die.sh", ready + "; read line; kill -SEGV $$")));
    CHECK_THROWS_WITH(assess(*set->assessor("bandit"), "x = 1\n"),
                      Catch::Contains("exited") && Catch::Contains("signal 11"));
    // The next request gets a new worker, which dies the same way: never "no findings".
    CHECK_THROWS_WITH(assess(*set->assessor("bandit"), "x = 1\n"), Catch::Contains("exited"));
  }
  SECTION("it prints garbage") {
    auto set = plugins(settings(
        stand_in(dir, "garbage.sh", ready + "; read line; echo 'Traceback (most'; sleep 5")));
    CHECK_THROWS_WITH(assess(*set->assessor("bandit"), "x = 1\n"), Catch::Contains("garbage"));
  }
  SECTION("it hangs past the deadline, and is gone afterwards") {
    fs::path pid_file = dir.path() / "pid";
    auto set = plugins(settings(stand_in(
        dir, "hang.sh", ready + "; echo $$ > " + pid_file.string() + "; read line; sleep 600")));
    auto start = std::chrono::steady_clock::now();
    try {
      assess(*set->assessor("bandit"), "x = 1\n", "main.py", std::chrono::milliseconds(500));
      FAIL("a hung tool must not answer");
    } catch (const PluginCallError& e) {
      CHECK(e.status() == WARDEN_ERR_TIMEOUT);
    }
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    pid_t pid = std::stoi(test::read_file(pid_file));
    CHECK(::kill(pid, 0) != 0);  // killed and reaped
  }
}

TEST_CASE("a broken semgrep fails or times out with the reason") {
  test::TempDir dir;
  auto semgrep_with = [&](const std::string& name, const std::string& body) {
    // -version must work for the probe; the scan is what breaks.
    return plugins("    semgrep: {semgrep_core: " +
                   stand_in(dir, name,
                            "if [ \"$1\" = -version ]; then echo 'semgrep-core version: 1.0.0 "
                            "(x)'; exit 0; fi\n" +
                                body)
                       .string() +
                   "}");
  };
  SECTION("it crashes") {
    auto set = semgrep_with("crash.sh", "echo 'fatal: out of luck' >&2; kill -SEGV $$");
    CHECK_THROWS_WITH(assess(*set->assessor("semgrep"), "x = 1\n"),
                      Catch::Contains("signal 11") && Catch::Contains("no JSON report"));
  }
  SECTION("it prints garbage") {
    auto set = semgrep_with("garbage.sh", "echo '<html>rate limited</html>'");
    CHECK_THROWS_WITH(assess(*set->assessor("semgrep"), "x = 1\n"),
                      Catch::Contains("rate limited"));
  }
  SECTION("it reports an error about the program") {
    auto set = semgrep_with(
        "error.sh",
        "echo '{\"results\": [], \"errors\": [{\"message\": \"Syntax error at line 1\"}]}'");
    CHECK_THROWS_WITH(assess(*set->assessor("semgrep"), "x = 1\n"),
                      Catch::Contains("Syntax error"));
  }
  SECTION("its report is taken as its line ends, not when the engine has exited") {
    auto set = semgrep_with("linger.sh",
                            "while [ \"$1\" != -targets ]; do shift; done\n"
                            "cat \"$2\" >/dev/null\n"
                            "echo '{\"results\": [], \"errors\": []}'\n"
                            "exec sleep 60");
    auto begin = std::chrono::steady_clock::now();
    CHECK(assess(*set->assessor("semgrep"), "x = 1\n").empty());
    CHECK(std::chrono::steady_clock::now() - begin < std::chrono::seconds(20));
  }
  SECTION("it hangs past the deadline") {
    auto set = semgrep_with("hang.sh", "sleep 600");
    try {
      assess(*set->assessor("semgrep"), "x = 1\n", "main.py", std::chrono::milliseconds(500));
      FAIL("a hung tool must not answer");
    } catch (const PluginCallError& e) {
      CHECK(e.status() == WARDEN_ERR_TIMEOUT);
    }
  }
}

TEST_CASE("many threads assess at once through the warm Bandit workers") {
  if (!tools_installed()) return;
  auto set = plugins("    bandit: {workers: 3}");
  const Assessor* bandit = set->assessor("bandit");
  const std::string code = "import pickle\npickle.loads(data)\n";
  auto reference = assess(*bandit, code);
  REQUIRE_FALSE(reference.empty());
  std::atomic<int> same{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i)
        if (assess(*bandit, code) == reference) ++same;
    });
  for (auto& t : threads) t.join();
  CHECK(same == 40);
}

TEST_CASE("a Bandit worker started on a thread that has ended still answers") {
  // PR_SET_PDEATHSIG kills a child when the *thread* that forked it ends: the
  // stage calls each assessor on a thread of its own, so a worker started
  // there used to die with that thread and fail the next request.
  if (!tools_installed()) return;
  auto set = plugins("    bandit: {workers: 1}");
  const Assessor* bandit = set->assessor("bandit");
  const std::string code = "import pickle\npickle.loads(data)\n";
  std::vector<Finding> first;
  std::thread([&] { first = assess(*bandit, code); }).join();  // starts the worker
  REQUIRE_FALSE(first.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(assess(*bandit, code) == first);  // the same worker, alive
}

namespace {

// Processes whose parent is `parent` and whose command line contains `word`.
std::vector<pid_t> children_running(pid_t parent, const std::string& word) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    std::size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != parent || state == 'Z') continue;
    std::ifstream cmd(e.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (cmdline.find(word) != std::string::npos) out.push_back(std::stoi(name));
  }
  return out;
}

}  // namespace

TEST_CASE("Bandit's workers end when the process that started them is killed") {
  if (!tools_installed()) return;
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t host = ::fork();
  REQUIRE(host >= 0);
  if (host == 0) {  // a stand-in for warden: starts a worker, then waits to be killed
    ::close(ready[0]);
    auto set = plugins("    bandit: {workers: 1}");
    std::thread([&] { assess(*set->assessor("bandit"), "x = 1\n"); }).join();
    if (::write(ready[1], "1", 1) != 1) ::_exit(3);
    ::sleep(60);  // killed long before, unless the test failed on the way
    ::_exit(0);
  }
  struct KillOnExit {
    pid_t pid;
    ~KillOnExit() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } guard{host};
  ::close(ready[1]);
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  ::close(ready[0]);
  std::vector<pid_t> workers = children_running(host, "bandit_worker.py");
  REQUIRE(workers.size() == 1);
  ::kill(host, SIGKILL);
  // Its stdin closed with the host: it exits (gone, or a zombie of whatever
  // process it was reparented to).
  auto ended = [&] {
    std::ifstream stat("/proc/" + std::to_string(workers[0]) + "/stat");
    std::string line;
    std::getline(stat, line);
    return line.empty() || line.find(") Z ") != std::string::npos;
  };
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ended() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(ended());
}

TEST_CASE("a plugin's bad setting names the plugin's fields at warden.yaml's line") {
  for (const auto& [plugin, field] : {std::pair{"bandit", "wokers"}, {"semgrep", "rule"}}) {
    Config config = parse_config(
        std::string("assessors:\n  settings:\n    ") + plugin + ":\n      " + field + ": 2\n",
        "/etc/w.yaml", "/");
    PluginCatalog catalog;  // the real plugin, as warden loads it
    catalog.load_file(std::string(WARDEN_PLUGIN_DIR) + "/" + plugin + ".so");
    INFO(plugin);
    try {
      catalog.create_assessor(plugin, config.assessors.settings.at(plugin),
                              std::string("assessors.settings.") + plugin);
      FAIL("the bad setting was accepted");
    } catch (const Error& e) {
      std::string message = e.what();
      CHECK_THAT(message, Catch::Contains(std::string("/etc/w.yaml:4:")));
      CHECK_THAT(message,
                 Catch::Contains(std::string("assessors.settings.") + plugin + "." + field));
      CHECK_THAT(message, Catch::Contains(std::string("unknown setting (") + plugin + " has"));
    }
  }
}
