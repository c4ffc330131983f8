// bandit: Bandit (from PyPI, pinned in scripts/python-tools.txt) as a warden
// assessor. Python's start-up and Bandit's import are paid once per worker,
// not per request: a small pool of warm workers (data/bandit_worker.py) each
// assess one program at a time through Bandit's own manager, the code path of
// the `bandit` command, so the findings are the command's findings.
//
// A worker that crashes, hangs past the deadline or prints garbage is killed
// and replaced; the request reports failed or timeout with the reason, never
// "no findings".
#include <warden/plugin.h>

#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "process/tool_process.h"
#include "shared/plugin_files.h"
#include "shared/tool_findings.h"

namespace warden::bandit {
namespace fs = std::filesystem;
using tools::Deadline;
using tools::line_of;
using tools::ToolFailure;
using tools::ToolProcess;

namespace {

// Bandit's test ids by warden category; an id not listed falls back by its
// group (B5xx: network and TLS, B6xx: injection).
const std::map<std::string, std::string>& categories() {
  static const std::map<std::string, std::string> map = {{"B102", "code-execution"},
                                                         {"B307", "code-execution"},
                                                         {"B201", "code-execution"},
                                                         {"B612", "code-execution"},
                                                         {"B103", "privilege"},
                                                         {"B104", "network"},
                                                         {"B108", "filesystem"},
                                                         {"B202", "filesystem"},
                                                         {"B306", "filesystem"},
                                                         {"B113", "network"},
                                                         {"B310", "network"},
                                                         {"B312", "network"},
                                                         {"B321", "network"},
                                                         {"B323", "network"},
                                                         {"B401", "network"},
                                                         {"B402", "network"},
                                                         {"B411", "network"},
                                                         {"B412", "network"},
                                                         {"B415", "network"},
                                                         {"B301", "deserialization"},
                                                         {"B302", "deserialization"},
                                                         {"B403", "deserialization"},
                                                         {"B506", "deserialization"},
                                                         {"B614", "deserialization"},
                                                         {"B303", "crypto"},
                                                         {"B304", "crypto"},
                                                         {"B305", "crypto"},
                                                         {"B311", "crypto"},
                                                         {"B324", "crypto"},
                                                         {"B413", "crypto"},
                                                         {"B404", "command-execution"},
                                                         {"B601", "command-execution"},
                                                         {"B602", "command-execution"},
                                                         {"B603", "command-execution"},
                                                         {"B604", "command-execution"},
                                                         {"B605", "command-execution"},
                                                         {"B606", "command-execution"},
                                                         {"B607", "command-execution"},
                                                         {"B609", "command-execution"},
                                                         {"B613", "obfuscation"}};
  return map;
}

std::string category_of(const std::string& test_id) {
  auto it = categories().find(test_id);
  if (it != categories().end()) return it->second;
  if (test_id.rfind("B5", 0) == 0) return "network";
  return "other";
}

Severity severity_of(const std::string& s) {
  if (s == "HIGH") return Severity::kHigh;
  if (s == "MEDIUM") return Severity::kMedium;
  if (s == "LOW") return Severity::kLow;
  return Severity::kInfo;  // UNDEFINED
}

Confidence confidence_of(const std::string& s) {
  if (s == "HIGH") return Confidence::kHigh;
  if (s == "MEDIUM") return Confidence::kMedium;
  return Confidence::kLow;
}

struct Settings {
  fs::path python;
  fs::path worker;
  int workers = 2;
  std::vector<std::string> skips = {"B101"};
  std::uint64_t startup_ms = 30'000;

  explicit Settings(const nlohmann::json& s) {
    worker = tools::plugin_data_directory("bandit") / "bandit_worker.py";
    SettingsReader read(s, "bandit");
    python = read.absolute_path("python", (tools::tools_virtualenv() / "bin" / "python").string(),
                                "a Python with Bandit");
    workers = static_cast<int>(read.whole_number("workers", workers, 1, 16));
    if (const nlohmann::json* ids = read.field("skips")) {
      if (!ids->is_array()) throw settings_error("/skips", "expected a list of test ids");
      skips.clear();
      for (const auto& id : *ids) {
        if (!id.is_string() || id.get<std::string>().empty() || id.get<std::string>()[0] != 'B')
          throw settings_error("/skips", "expected Bandit test ids such as B101");
        skips.push_back(id.get<std::string>());
      }
    }
    startup_ms = static_cast<std::uint64_t>(read.whole_number(
        "startup_timeout_ms", static_cast<std::int64_t>(startup_ms), 100, 3'600'000));
    read.finish();
  }
};

// One warm Bandit: a worker process that has said it is ready.
class Worker {
 public:
  explicit Worker(const Settings& s)
      : process_({s.python.string(), "-I", "-B", s.worker.string()},
                 {{"PATH", "/usr/bin:/bin"}, {"LANG", "C.UTF-8"}, {"HOME", "/tmp"}}, "/",
                 // Kept for later requests, whichever thread started it; it
                 // exits when warden's end of its stdin closes.
                 ToolProcess::Lifetime::kUntilStdinCloses) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(s.startup_ms);
    std::string hello = process_.read_line(deadline);
    nlohmann::json j = nlohmann::json::parse(hello, nullptr, false);
    if (!j.is_object() || !j.value("ready", false) || !j.contains("bandit"))
      throw ToolFailure(ToolFailure::Kind::kIo, "unexpected greeting: " + hello.substr(0, 200));
    version_ = j["bandit"].get<std::string>();
  }
  const std::string& version() const { return version_; }
  nlohmann::json exchange(const nlohmann::json& request, Deadline deadline) {
    process_.write(request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    std::string line = process_.read_line(deadline);
    nlohmann::json answer = nlohmann::json::parse(line, nullptr, false);
    if (answer.is_discarded() || !answer.is_object())
      throw ToolFailure(ToolFailure::Kind::kIo,
                        "the Bandit worker printed garbage: " + line.substr(0, 200));
    return answer;
  }
  std::string stderr_tail() const { return process_.stderr_tail(); }

 private:
  ToolProcess process_;
  std::string version_;
};

}  // namespace

class BanditAssessor {
 public:
  explicit BanditAssessor(const nlohmann::json& settings) : settings_(settings) {}

  Availability probe() {
    Availability a;
    a.tool_version = "bandit";
    std::error_code ec;
    if (!fs::exists(settings_.python, ec)) {
      a.reason = "Bandit's Python not found at " + settings_.python.string() +
                 " (run scripts/install-python-tools.sh, or set assessors.settings.bandit.python)";
      return a;
    }
    if (!fs::exists(settings_.worker, ec)) {
      a.reason = "the Bandit worker script is missing: " + settings_.worker.string();
      return a;
    }
    try {
      release(acquire());  // starts one worker: Bandit imports, and its version is known
    } catch (const PluginError& e) {
      a.reason = e.what();
      return a;
    }
    std::lock_guard lock(mutex_);
    a.available = true;
    a.tool_version = "bandit " + version_;
    std::string skips;
    for (const auto& s : settings_.skips) skips += s + ",";
    a.cache_key = "bandit " + version_ + " skips=" + skips + " mapping=1";
    return a;
  }

  std::vector<Finding> assess(const AssessRequest& request) {
    if (request.language != "python")
      throw PluginError(WARDEN_ERR_UNSUPPORTED,
                        "Bandit reads Python only, not " + std::string(request.language));
    std::unique_ptr<Worker> worker = acquire();
    nlohmann::json answer;
    try {
      answer = worker->exchange(
          {{"code", request.code}, {"file_name", request.file_name}, {"skips", settings_.skips}},
          request.deadline);
    } catch (const ToolFailure& e) {
      // The worker is dropped: whatever state it is in goes with it.
      std::string tail = worker->stderr_tail();
      discard(std::move(worker));
      throw PluginError(
          e.kind() == ToolFailure::Kind::kTimeout ? WARDEN_ERR_TIMEOUT : WARDEN_ERR_FAILED,
          std::string("bandit: ") + e.what() +
              (tail.empty() ? "" : "; its last words: " + last_line(tail)));
    }
    release(std::move(worker));
    if (answer.contains("error"))
      throw PluginError(WARDEN_ERR_FAILED, "bandit raised " + answer["error"].dump());
    std::vector<Finding> findings;
    const nlohmann::json syntax = answer.value("syntax_error", nlohmann::json());
    if (syntax.is_object()) {
      // Python cannot parse it, so it cannot run: a finding on its line, not
      // an assessor that failed.
      findings.push_back(
          tools::syntax_error_finding(syntax.value("line", 1), syntax.value("column", 1),
                                      syntax.value("message", "invalid syntax"), request.code));
    } else {
      for (const auto& skipped : answer.value("skipped", nlohmann::json::array()))
        throw PluginError(WARDEN_ERR_FAILED,
                          "bandit could not read the program: " + skipped[1].get<std::string>());
    }
    for (const auto& issue : answer.value("issues", nlohmann::json::array())) {
      Finding f;
      f.rule_id = issue.value("test_id", "");
      f.severity = severity_of(issue.value("issue_severity", ""));
      f.confidence = confidence_of(issue.value("issue_confidence", ""));
      f.category = category_of(f.rule_id);
      f.line = issue.value("line_number", 0);
      f.column = issue.value("col_offset", -1) + 1;
      f.message = issue.value("issue_text", "") + " (" + issue.value("test_name", "") + ")";
      if (issue.contains("issue_cwe") && issue["issue_cwe"].is_object())
        f.cwe = issue["issue_cwe"].value("id", 0);
      f.source_line = line_of(request.code, f.line);
      findings.push_back(std::move(f));
    }
    return findings;
  }

 private:
  static std::string last_line(std::string text) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    std::size_t at = text.rfind('\n');
    return at == std::string::npos ? text : text.substr(at + 1);
  }

  // An idle worker, or a new one while fewer than `workers` exist; else waits.
  std::unique_ptr<Worker> acquire() {
    std::unique_lock lock(mutex_);
    idle_cv_.wait(lock, [&] { return !idle_.empty() || live_ < settings_.workers; });
    if (!idle_.empty()) {
      auto w = std::move(idle_.back());
      idle_.pop_back();
      return w;
    }
    ++live_;
    lock.unlock();
    try {
      auto w = std::make_unique<Worker>(settings_);
      lock.lock();
      version_ = w->version();
      return w;
    } catch (const std::exception& e) {
      lock.lock();
      --live_;
      idle_cv_.notify_one();
      throw PluginError(WARDEN_ERR_UNAVAILABLE,
                        std::string("the Bandit worker did not start: ") + e.what());
    }
  }

  void discard(std::unique_ptr<Worker> worker) {
    worker.reset();  // kills and reaps it
    std::lock_guard lock(mutex_);
    --live_;
    idle_cv_.notify_one();
  }

  void release(std::unique_ptr<Worker> worker) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(worker));
    idle_cv_.notify_one();
  }

  Settings settings_;
  std::mutex mutex_;
  std::condition_variable idle_cv_;
  std::vector<std::unique_ptr<Worker>> idle_;
  int live_ = 0;  // workers in idle_ or in use
  std::string version_;
};

}  // namespace warden::bandit

WARDEN_ASSESSOR_PLUGIN(warden::bandit::BanditAssessor, "bandit", "0.1.0",
                       "Bandit (PyPI) through warm workers: Python security checks with CWE ids")
