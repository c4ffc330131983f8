// semgrep: Semgrep (from PyPI, pinned in scripts/python-tools.txt) with
// warden's own rules (data/rules/*.yaml) as a warden assessor. Runs offline:
// no metrics, no version check, no registry, a private HOME; rule ids are
// kept as written. Severity comes from extra.severity; the source line is
// read from the program itself, since recent Semgrep answers "requires
// login" in extra.lines.
//
// Semgrep starts slowly (about a second), so each request costs that; the
// host's cache makes a repeated program free.
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <warden/plugin.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>

#include "plugin_files.h"
#include "tool_findings.h"
#include "tool_process.h"

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

}  // namespace

class SemgrepAssessor {
 public:
  explicit SemgrepAssessor(const nlohmann::json& settings) {
    semgrep_ = tools::tools_virtualenv() / "bin" / "semgrep";
    rules_ = tools::plugin_data_directory("semgrep") / "rules";
    for (const auto& [key, value] : settings.items()) {
      bool path = value.is_string() && !value.get<std::string>().empty() &&
                  value.get<std::string>()[0] == '/';
      if (key == "semgrep") {
        if (!path) throw settings_error("/semgrep", "expected the absolute path of semgrep");
        semgrep_ = value.get<std::string>();
      } else if (key == "rules") {
        if (!path) throw settings_error("/rules", "expected the absolute path of a rules folder");
        rules_ = value.get<std::string>();
      } else {
        throw settings_error("/" + key, "unknown setting (semgrep has semgrep, rules)");
      }
    }
    std::string scratch = (fs::temp_directory_path() / "warden-semgrep-XXXXXX").string();
    if (::mkdtemp(scratch.data()) == nullptr)
      throw PluginError(WARDEN_ERR_INTERNAL, std::string("semgrep: cannot make its home folder: ") +
                                                 std::strerror(errno));
    home_ = scratch;
  }
  ~SemgrepAssessor() {
    std::error_code ec;
    fs::remove_all(home_, ec);
  }
  SemgrepAssessor(const SemgrepAssessor&) = delete;
  SemgrepAssessor& operator=(const SemgrepAssessor&) = delete;

  Availability probe() {
    Availability a;
    a.tool_version = "semgrep";
    std::error_code ec;
    if (!fs::exists(semgrep_, ec)) {
      a.reason =
          "semgrep not found at " + semgrep_.string() +
          " (run scripts/install-python-tools.sh, or set assessors.settings.semgrep.semgrep)";
      return a;
    }
    std::string rules_text;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(rules_, ec))
      if (e.path().extension() == ".yaml" || e.path().extension() == ".yml")
        files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      rules_text +=
          f.filename().string() + "\n" + std::string(std::istreambuf_iterator<char>(in), {}) + "\n";
    }
    if (files.empty()) {
      a.reason = "no Semgrep rules (*.yaml) in " + rules_.string();
      return a;
    }
    try {
      a.tool_version = "semgrep " + semgrep_version();
    } catch (const std::runtime_error& e) {
      a.reason = e.what();
      return a;
    }
    a.available = true;
    a.cache_key = a.tool_version + " rules=" + sha256_hex(rules_text);
    return a;
  }

  // `semgrep --version`, asked again only when the program file changes: it
  // costs a second of CPU, and the host probes every few seconds. Throws
  // std::runtime_error with the reason when semgrep does not answer.
  std::string semgrep_version() {
    std::error_code ec;
    auto stamp = fs::last_write_time(semgrep_, ec);
    std::lock_guard lock(version_mutex_);
    if (!ec && !version_.empty() && stamp == version_stamp_) return version_;
    try {
      ToolProcess process({semgrep_.string(), "--version"}, environment(), home_.string());
      std::string out;
      int status =
          process.read_to_exit(std::chrono::steady_clock::now() + std::chrono::seconds(60), out);
      while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out.empty())
        throw std::runtime_error("semgrep --version failed (" + tools::describe_status(status) +
                                 "): " + process.stderr_tail());
      version_ = out;
      version_stamp_ = stamp;
      return out;
    } catch (const ToolFailure& e) {
      throw std::runtime_error(std::string("semgrep does not start: ") + e.what());
    }
  }

  std::vector<Finding> assess(const AssessRequest& request) {
    if (request.language != "python")
      throw PluginError(WARDEN_ERR_UNSUPPORTED, "warden's Semgrep rules are for Python, not " +
                                                    std::string(request.language));
    ScratchDir scratch(home_);
    std::string name = fs::path(std::string(request.file_name)).filename().string();
    if (name.empty() || !name.ends_with(".py")) name = "main.py";
    fs::path file = scratch.path() / name;
    std::ofstream(file, std::ios::binary) << request.code;
    std::string out;
    int status = 0;
    std::string stderr_tail;
    try {
      ToolProcess run({semgrep_.string(), "scan", "--config", rules_.string(), "--json",
                       "--metrics=off", "--disable-version-check", "--no-rewrite-rule-ids", "-q",
                       "--no-git-ignore", "--timeout", "0", file.string()},
                      environment(), scratch.path().string());
      run.close_stdin();
      status = run.read_to_exit(request.deadline, out);
      stderr_tail = run.stderr_tail();
    } catch (const ToolFailure& e) {
      throw PluginError(
          e.kind() == ToolFailure::Kind::kTimeout ? WARDEN_ERR_TIMEOUT : WARDEN_ERR_FAILED,
          std::string("semgrep: ") + e.what());
    }
    nlohmann::json report = nlohmann::json::parse(out, nullptr, false);
    if (report.is_discarded() || !report.is_object() || !report.contains("results"))
      throw PluginError(WARDEN_ERR_FAILED, "semgrep (" + tools::describe_status(status) +
                                               ") printed no JSON report: " +
                                               (out.empty() ? stderr_tail : out.substr(0, 200)));
    std::vector<Finding> findings;
    for (const auto& error : report.value("errors", nlohmann::json::array())) {
      // A program Python cannot parse is a finding on its line (it cannot
      // run); any other error means Semgrep did not check it.
      if (syntax_error(error)) {
        const nlohmann::json& span = error["spans"][0]["start"];
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
  // Semgrep's error about the program's syntax ("Syntax error", "Lexical
  // error", "PartialParsing": it read the rest), with where it is.
  static bool syntax_error(const nlohmann::json& error) {
    std::string type = error.value("type", nlohmann::json()).dump();
    return (type.find("Syntax error") != std::string::npos ||
            type.find("Lexical error") != std::string::npos ||
            type.find("PartialParsing") != std::string::npos) &&
           error.contains("spans") && error["spans"].is_array() && !error["spans"].empty() &&
           error["spans"][0].contains("start");
  }

  // Offline and private: no metrics, no version check, settings and logs
  // under our own HOME.
  std::map<std::string, std::string> environment() const {
    return {{"PATH", (semgrep_.parent_path().string() + ":/usr/bin:/bin")},
            {"HOME", home_.string()},
            {"XDG_CONFIG_HOME", (home_ / ".config").string()},
            {"XDG_CACHE_HOME", (home_ / ".cache").string()},
            {"SEMGREP_SETTINGS_FILE", (home_ / "settings.yml").string()},
            {"SEMGREP_LOG_FILE", (home_ / "semgrep.log").string()},
            {"SEMGREP_VERSION_CACHE_PATH", (home_ / "version").string()},
            {"SEMGREP_ENABLE_VERSION_CHECK", "0"},
            {"SEMGREP_SEND_METRICS", "off"},
            {"LANG", "C.UTF-8"},
            {"LC_ALL", "C.UTF-8"}};
  }

  fs::path semgrep_;
  fs::path rules_;
  fs::path home_;
  std::mutex version_mutex_;
  std::string version_;  // cached answer of `semgrep --version`
  fs::file_time_type version_stamp_;
};

}  // namespace warden::semgrep

WARDEN_ASSESSOR_PLUGIN(warden::semgrep::SemgrepAssessor, "semgrep", "0.1.0",
                       "Semgrep (PyPI), offline, with warden's own rules for dangerous Python")
