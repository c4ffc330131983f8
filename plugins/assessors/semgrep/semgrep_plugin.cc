// semgrep: Semgrep's engine (semgrep-core, from the PyPI package pinned in
// scripts/python-tools.txt) with warden's own rules (data/rules/*.yaml) as a
// warden assessor.
//
// The engine is run directly, as `semgrep scan` runs it after its own start-up
// (a Python program of about two seconds per call): the rules go to the engine
// as one YAML file, the program as its one target. That makes a new program
// cost about a tenth of a `semgrep scan`, with the same findings
// (tests/tools checks every rule's cases against the `semgrep scan` command),
// and it runs offline by construction: the engine has no metrics, registry or
// version check. Two differences from `semgrep scan`, both on purpose: a
// `# nosemgrep` comment in the program does not hide a finding (the program
// is untrusted; an attacker would write one), and rule ids are kept as written.
// The source line is read from the program itself.
//
// Most of a call's ~85 ms is the engine's own start-up (one rule costs what
// seventeen do), so from its first request on the plugin keeps `spares`
// engines started ahead: each has loaded the rules and waits, blocked opening
// its targets file, a FIFO. A request writes its program beside it, puts the
// targets in a regular file over the FIFO's name (the engine opens the file
// twice) and writes them into the FIFO; the engine scans, prints its report
// and exits. The report is read as its line ends, and a keeper thread reaps
// the engine and, a moment later, starts the next spare. A request that
// finds none ready runs the engine itself. docs/performance.md has the
// figures.
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <warden/plugin.h>

#include <yaml-cpp/yaml.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "process/tool_process.h"
#include "shared/plugin_files.h"
#include "shared/tool_findings.h"

namespace warden::semgrep {
namespace fs = std::filesystem;
using tools::line_of;
using tools::ToolFailure;
using tools::ToolProcess;

namespace {

Severity severity_of(const std::string& s) {
  if (s == "ERROR" || s == "HIGH") return Severity::kHigh;
  if (s == "CRITICAL") return Severity::kCritical;
  if (s == "WARNING" || s == "MEDIUM") return Severity::kMedium;
  if (s == "INFO" || s == "LOW") return Severity::kLow;
  return Severity::kInfo;
}

Confidence confidence_of(const std::string& s) {
  if (s == "high" || s == "HIGH") return Confidence::kHigh;
  if (s == "low" || s == "LOW") return Confidence::kLow;
  return Confidence::kMedium;
}

std::string sha256_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

// A private folder for one request, removed with everything in it.
class ScratchDir {
 public:
  explicit ScratchDir(const fs::path& parent) {
    std::string pattern = (parent / "run-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw PluginError(WARDEN_ERR_INTERNAL, "semgrep: cannot make a scratch folder in " +
                                                 parent.string() + ": " + std::strerror(errno));
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The engine inside the tools virtualenv's semgrep package.
fs::path default_engine() {
  std::error_code ec;
  for (const auto& lib : fs::directory_iterator(tools::tools_virtualenv() / "lib", ec)) {
    fs::path engine = lib.path() / "site-packages/semgrep/bin/semgrep-core";
    if (fs::exists(engine, ec)) return engine;
  }
  return tools::tools_virtualenv() / "lib/python3/site-packages/semgrep/bin/semgrep-core";
}

}  // namespace

class SemgrepAssessor {
 public:
  explicit SemgrepAssessor(const nlohmann::json& settings) {
    SettingsReader read(settings, "semgrep");
    engine_ =
        read.absolute_path("semgrep_core", fs::path(default_engine()).string(), "semgrep-core");
    rules_dir_ = read.absolute_path(
        "rules", (tools::plugin_data_directory("semgrep") / "rules").string(), "a rules folder");
    spares_wanted_ = static_cast<std::size_t>(read.whole_number("spares", 1, 0, 8));
    read.finish();
    std::string scratch = (fs::temp_directory_path() / "warden-semgrep-XXXXXX").string();
    if (::mkdtemp(scratch.data()) == nullptr)
      throw PluginError(WARDEN_ERR_INTERNAL, std::string("semgrep: cannot make its home folder: ") +
                                                 std::strerror(errno));
    home_ = scratch;
    // The spares' parent: PR_SET_PDEATHSIG ties each to the thread that
    // started it, so one thread of the plugin's own lifetime starts them all.
    if (spares_wanted_ > 0) keeper_ = std::thread([this] { keep_spares(); });
  }
  ~SemgrepAssessor() {
    if (keeper_.joinable()) {
      {
        std::lock_guard lock(spares_mutex_);
        stopping_ = true;
      }
      spares_changed_.notify_all();
      keeper_.join();  // its spares die with it
    }
    spares_.clear();
    std::error_code ec;
    fs::remove_all(home_, ec);
  }
  SemgrepAssessor(const SemgrepAssessor&) = delete;
  SemgrepAssessor& operator=(const SemgrepAssessor&) = delete;

  Availability probe() {
    Availability a;
    a.tool_version = "semgrep";
    std::error_code ec;
    if (!fs::exists(engine_, ec)) {
      a.reason = "semgrep-core not found at " + engine_.string() +
                 " (run scripts/install-python-tools.sh, or set "
                 "assessors.settings.semgrep.semgrep_core)";
      return a;
    }
    try {
      Rules rules = current_rules();
      a.tool_version = "semgrep " + engine_version();
      a.cache_key = a.tool_version + " rules=" + rules.sha256;
    } catch (const std::runtime_error& e) {
      a.reason = e.what();
      return a;
    }
    a.available = true;
    return a;
  }

  std::vector<Finding> assess(const AssessRequest& request) {
    if (request.language != "python")
      throw PluginError(WARDEN_ERR_UNSUPPORTED, "warden's Semgrep rules are for Python, not " +
                                                    std::string(request.language));
    Rules rules;
    try {
      rules = current_rules();
    } catch (const std::runtime_error& e) {
      throw PluginError(WARDEN_ERR_FAILED, e.what());
    }
    std::string name = fs::path(std::string(request.file_name)).filename().string();
    if (name.empty() || !name.ends_with(".py")) name = "main.py";
    std::optional<Spare> spare;
    struct Retirement {  // the engine goes to the keeper however the request ends
      SemgrepAssessor& plugin;
      std::optional<Spare>& engine;
      ~Retirement() {
        if (engine) plugin.retire(std::move(*engine));
      }
    } retirement{*this, spare};
    nlohmann::json report;
    try {
      spare = take_spare(rules.file);
      if (!spare || !hand_over(*spare, name, request.code, request.deadline)) {
        spare = start_engine(rules.file);  // none ready, or it died: this request's own
        if (!hand_over(*spare, name, request.code, request.deadline) && spare->process->running())
          throw PluginError(WARDEN_ERR_TIMEOUT,
                            "semgrep: the engine did not take the program before the deadline");
      }
      // An engine that exited without reading the program says why.
      report = read_report(*spare->process, request.deadline);
    } catch (const ToolFailure& e) {
      throw PluginError(
          e.kind() == ToolFailure::Kind::kTimeout ? WARDEN_ERR_TIMEOUT : WARDEN_ERR_FAILED,
          std::string("semgrep: ") + e.what());
    }
    std::vector<Finding> findings;
    for (const auto& error : report.value("errors", nlohmann::json::array())) {
      // A program Python cannot parse is a finding on its line (it cannot
      // run); any other error means Semgrep did not check it.
      if (const nlohmann::json* start = syntax_error_start(error)) {
        const nlohmann::json& span = *start;
        findings.push_back(tools::syntax_error_finding(
            span.value("line", 1), span.value("col", 1),
            error.value("message", "invalid syntax").substr(0, 200), request.code));
        continue;
      }
      throw PluginError(WARDEN_ERR_FAILED,
                        "semgrep could not check the program: " +
                            error.value("message", error.value("type", error.dump())));
    }
    for (const auto& r : report["results"]) {
      const nlohmann::json& extra = r.value("extra", nlohmann::json::object());
      const nlohmann::json& meta = extra.value("metadata", nlohmann::json::object());
      Finding f;
      f.rule_id = r.value("check_id", "");
      f.severity = severity_of(extra.value("severity", ""));
      f.confidence = confidence_of(meta.value("confidence", "medium"));
      f.category = meta.value("category", "other");
      f.cwe = meta.value("cwe", 0);
      f.line = r["start"].value("line", 0);
      f.column = r["start"].value("col", 0);
      f.message = extra.value("message", "");
      f.source_line = line_of(request.code, f.line);
      findings.push_back(std::move(f));
    }
    return findings;
  }

 private:
  struct Rules {
    fs::path file;  // every rule of the folder, in one file for the engine
    std::string sha256;
  };

  // An engine started for one scan, in a folder of its own whose targets
  // file is a FIFO it waits on.
  struct Spare {
    std::unique_ptr<ScratchDir> dir;
    std::unique_ptr<ToolProcess> process;
    fs::path rules;  // the rules file it loaded
    fs::path targets() const { return dir->path() / "targets.json"; }
  };

  // The engine's report. It prints a '.' line per target, then the report on
  // one line, then exits; that exit (freeing the ~100 MB it holds) takes
  // about as long as the scan, so the report is taken as soon as its line
  // ends. Throws PluginError with what the engine printed instead, or
  // ToolFailure at the deadline.
  static nlohmann::json read_report(ToolProcess& engine, tools::Deadline deadline) {
    std::string printed;  // the first lines that were not the report
    try {
      for (;;) {
        std::string line = engine.read_line(deadline);
        if (line.starts_with("{")) {
          nlohmann::json report = nlohmann::json::parse(line, nullptr, false);
          if (report.is_object() && report.contains("results")) return report;
        }
        if (line != "." && printed.size() < 200) printed += line.substr(0, 200) + "\n";
      }
    } catch (const ToolFailure& e) {
      if (e.kind() != ToolFailure::Kind::kExited) throw;
      throw PluginError(WARDEN_ERR_FAILED, std::string("semgrep: ") + e.what() +
                                               " and printed no JSON report: " +
                                               (printed.empty() ? engine.stderr_tail() : printed));
    }
  }

  // How long after a scan the keeper waits before it starts a spare: the
  // request's sandbox run comes after its assessment, and an engine's start
  // (~90 ms of CPU, on every core it gets) beside that run slowed a 10 ms
  // `print` by a third on a 2-core machine.
  static constexpr auto kRefillPause = std::chrono::milliseconds(100);

  // Hands an engine that has answered (or failed) to the keeper thread,
  // which reaps it and, kRefillPause later, starts the next spare, so that
  // neither the engine's exit nor a new engine's start runs beside the scan
  // or the run after it. Without a keeper it is reaped here.
  void retire(Spare engine) {
    if (!keeper_.joinable()) return;  // `engine` is reaped as it goes
    {
      std::lock_guard lock(spares_mutex_);
      retired_.push_back(std::move(engine));
      refill_at_ = std::chrono::steady_clock::now() + kRefillPause;
    }
    spares_changed_.notify_all();
  }

  // Starts the engine on `rules`, waiting for its targets. Throws ToolFailure
  // or PluginError.
  Spare start_engine(const fs::path& rules) {
    Spare spare{std::make_unique<ScratchDir>(home_), nullptr, rules};
    if (::mkfifo(spare.targets().c_str(), 0600) != 0)
      throw PluginError(WARDEN_ERR_INTERNAL,
                        "semgrep: cannot make a FIFO in " + spare.dir->path().string());
    spare.process = std::make_unique<ToolProcess>(
        std::vector<std::string>{engine_.string(), "-json", "-rules", rules.string(), "-targets",
                                 spare.targets().string(), "-timeout", "0", "-timeout_threshold",
                                 "3", "-max_memory", "0", "-fast", "-j", "1"},
        environment(), spare.dir->path().string());
    spare.process->close_stdin();
    return spare;
  }

  // Gives `spare` the program to scan: writes it beside the engine, then the
  // targets (as `semgrep scan` writes them) into the FIFO it waits on, once
  // the engine is there (it is still starting, or loading the rules, when the
  // spare is young). False when the engine does not come to read them
  // before `deadline` (it died): the spare is useless.
  bool hand_over(Spare& spare, const std::string& name, std::string_view code,
                 tools::Deadline deadline) {
    fs::path file = spare.dir->path() / name;
    std::ofstream(file, std::ios::binary) << code;
    nlohmann::json target =
        nlohmann::json::array({"CodeTarget",
                               {{"path", {{"fpath", file.string()}, {"ppath", "/" + name}}},
                                {"analyzer", "python"},
                                {"products", nlohmann::json::array({"sast"})}}});
    std::string targets =
        nlohmann::json::array({"Targets", nlohmann::json::array({target})}).dump();
    // The engine reads the targets file twice: the second time it finds
    // this regular file, put over the FIFO's name before the first read ends.
    fs::path again = spare.dir->path() / "targets.again";
    std::ofstream(again, std::ios::binary) << targets;
    int fd = -1;
    while ((fd = ::open(spare.targets().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
      if (errno != ENXIO || std::chrono::steady_clock::now() > deadline ||
          !spare.process->running())
        return false;
      ::usleep(500);  // not at its open() yet
    }
    std::error_code ec;
    fs::rename(again, spare.targets(), ec);
    bool written =
        !ec && ::write(fd, targets.data(), targets.size()) == static_cast<ssize_t>(targets.size());
    ::close(fd);
    return written;
  }

  // A spare that loaded `rules` and is alive, if one is ready. The keeper
  // starts the next once the scan is done (retire()), or at once when there
  // was none: requests come faster than it starts them, and the next request
  // gains more from an early start than this one loses to it.
  std::optional<Spare> take_spare(const fs::path& rules) {
    std::unique_lock lock(spares_mutex_);
    std::optional<Spare> taken;
    while (!spares_.empty() && !taken) {
      Spare& front = spares_.front();
      if (front.rules == rules && front.process->running()) taken = std::move(front);
      spares_.pop_front();  // one that died or loaded other rules is no use any more
    }
    if (taken || !scanned()) return taken;
    refill_at_ = std::chrono::steady_clock::now();
    lock.unlock();
    spares_changed_.notify_all();
    return taken;
  }

  // Whether a scan has been done (spares_mutex_ held).
  bool scanned() const { return refill_at_ != std::chrono::steady_clock::time_point(); }

  // The keeper thread: reaps retired engines and, from the first scan on
  // (a one-shot `warden run` starts no engine it would not use), keeps
  // `spares_wanted_` engines waiting.
  void keep_spares() {
    std::unique_lock lock(spares_mutex_);
    while (!stopping_) {
      if (!retired_.empty()) {
        std::deque<Spare> done = std::move(retired_);
        retired_.clear();
        lock.unlock();
        done.clear();  // waits for their exits
        lock.lock();
        continue;
      }
      if (!scanned() || spares_.size() >= spares_wanted_ || spare_failed_) {
        spares_changed_.wait(lock);
        spare_failed_ = false;  // a request came: try again
        continue;
      }
      if (std::chrono::steady_clock::now() < refill_at_) {
        spares_changed_.wait_until(lock, refill_at_);
        continue;
      }
      lock.unlock();
      std::optional<Spare> spare;
      try {
        spare = start_engine(current_rules().file);
      } catch (const std::exception&) {
        // No spare now (rules or engine broken): requests run the engine
        // themselves and say why.
      }
      lock.lock();
      if (spare)
        spares_.push_back(std::move(*spare));
      else
        spare_failed_ = true;
    }
    spares_.clear();  // on this thread, whose end would kill them anyway
    retired_.clear();
  }

  // The rules folder's files as one YAML file in our home, written again only
  // when their text changes (each version under a name of its own, so a
  // request still reading the last one is never disturbed). Throws
  // std::runtime_error naming the file when there is none or one is not a
  // rules file.
  Rules current_rules() {
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(rules_dir_, ec))
      if (e.path().extension() == ".yaml" || e.path().extension() == ".yml")
        files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty())
      throw std::runtime_error("no Semgrep rules (*.yaml) in " + rules_dir_.string());
    std::string text;
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      text +=
          f.filename().string() + "\n" + std::string(std::istreambuf_iterator<char>(in), {}) + "\n";
    }
    std::string digest = sha256_hex(text);
    std::lock_guard lock(rules_mutex_);
    if (digest == combined_.sha256) return combined_;
    YAML::Node all(YAML::NodeType::Sequence);
    for (const auto& f : files) {
      try {
        YAML::Node rules = YAML::LoadFile(f.string())["rules"];
        if (!rules || !rules.IsSequence()) throw std::runtime_error("no 'rules' list");
        for (const auto& rule : rules) all.push_back(rule);
      } catch (const std::exception& e) {
        throw std::runtime_error(f.string() + ": not a Semgrep rules file: " + e.what());
      }
    }
    YAML::Emitter emitter;
    emitter << YAML::BeginMap << YAML::Key << "rules" << YAML::Value << all << YAML::EndMap;
    fs::path file = home_ / ("rules-" + digest.substr(0, 16) + ".yaml");
    std::ofstream(file, std::ios::binary) << emitter.c_str() << "\n";
    combined_ = {file, digest};
    return combined_;
  }

  // `semgrep-core -version`, asked again only when the engine file changes.
  // Throws std::runtime_error with the reason when it does not answer.
  std::string engine_version() {
    std::error_code ec;
    auto stamp = fs::last_write_time(engine_, ec);
    std::lock_guard lock(version_mutex_);
    if (!ec && !version_.empty() && stamp == version_stamp_) return version_;
    try {
      ToolProcess process({engine_.string(), "-version"}, environment(), home_.string());
      std::string out;
      int status =
          process.read_to_exit(std::chrono::steady_clock::now() + std::chrono::seconds(60), out);
      // "semgrep-core version: 1.181.0 (0f6e09374a)"
      std::string_view prefix = "semgrep-core version: ";
      std::size_t at = out.find(prefix);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || at == std::string::npos)
        throw std::runtime_error(
            "semgrep-core -version failed (" + tools::describe_status(status) +
            "): " + (out.empty() ? process.stderr_tail() : out.substr(0, 200)));
      std::string version = out.substr(at + prefix.size());
      version = version.substr(0, version.find_first_of(" \n"));
      version_ = version;
      version_stamp_ = stamp;
      return version_;
    } catch (const ToolFailure& e) {
      throw std::runtime_error(std::string("semgrep-core does not start: ") + e.what());
    }
  }

  // Where Semgrep's error about the program's syntax ("Syntax error",
  // "Lexical error", "PartialParsing": it read the rest) starts, or nullptr
  // for any other error. The engine says `error_type` and `location`;
  // `semgrep scan` said `type` and `spans`.
  static const nlohmann::json* syntax_error_start(const nlohmann::json& error) {
    std::string type = error.value("error_type", error.value("type", nlohmann::json())).dump();
    if (type.find("Syntax error") == std::string::npos &&
        type.find("Lexical error") == std::string::npos &&
        type.find("PartialParsing") == std::string::npos)
      return nullptr;
    if (error.contains("location") && error["location"].is_object() &&
        error["location"].contains("start"))
      return &error["location"]["start"];
    if (error.contains("spans") && error["spans"].is_array() && !error["spans"].empty() &&
        error["spans"][0].contains("start"))
      return &error["spans"][0]["start"];
    return nullptr;
  }

  // Offline and private: settings and logs under our own HOME.
  std::map<std::string, std::string> environment() const {
    return {{"PATH", "/usr/bin:/bin"},
            {"HOME", home_.string()},
            {"XDG_CONFIG_HOME", (home_ / ".config").string()},
            {"XDG_CACHE_HOME", (home_ / ".cache").string()},
            {"LANG", "C.UTF-8"},
            {"LC_ALL", "C.UTF-8"}};
  }

  fs::path engine_;
  fs::path rules_dir_;
  fs::path home_;
  std::mutex rules_mutex_;
  Rules combined_;  // the last current_rules()
  std::mutex version_mutex_;
  std::string version_;  // cached answer of `semgrep-core -version`
  fs::file_time_type version_stamp_;
  std::size_t spares_wanted_ = 1;
  std::mutex spares_mutex_;
  std::condition_variable spares_changed_;
  std::deque<Spare> spares_;
  std::deque<Spare> retired_;                        // engines done with, for the keeper to reap
  std::chrono::steady_clock::time_point refill_at_;  // none before the first scan
  bool stopping_ = false;
  bool spare_failed_ = false;
  std::thread keeper_;  // last: it starts after every member it uses
};

}  // namespace warden::semgrep

WARDEN_ASSESSOR_PLUGIN(warden::semgrep::SemgrepAssessor, "semgrep", "0.1.0",
                       "Semgrep (PyPI), offline, with warden's own rules for dangerous Python")
