// The labelled corpus (tests/corpus: programs typical of what an assistant
// writes, and dangerous ones, obfuscated ones included) through the real
// pipeline: the shipped assessors (heuristics, Bandit, Semgrep), the default
// policy, assess_code_only. No dangerous program may come out LOW and no
// benign program HIGH or BLOCKED. Every disguised form in tests/corpus/pairs
// scores and ranks at least as high as the plain form beside it. Every
// assessor must have answered: under CI a missing tool fails the test;
// locally it is reported (the default policy then raises the levels, which
// this test still bounds).
#include <warden/host.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>

#include "common/text.h"
#include "config/config.h"
#include "support/process.h"

using namespace warden;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> corpus(const fs::path& label) {
  std::vector<fs::path> files;
  for (const auto& entry :
       fs::directory_iterator(fs::path(WARDEN_SOURCE_DIR) / "tests/corpus" / label))
    if (entry.path().extension() == ".py") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// The shipped assessors (config/warden.yaml) and default policy, with the
// audit log in `dir`.
std::unique_ptr<Host> corpus_host(const test::TempDir& dir) {
  std::string assessors;
  for (const auto& name :
       load_config(std::string(WARDEN_SOURCE_DIR) + "/config/warden.yaml").assessors.enabled)
    assessors += (assessors.empty() ? "" : ", ") + name;
  fs::path config =
      dir.write("warden.yaml",
                "log_level: warn\nplugins: {directories: [" + std::string(WARDEN_PLUGIN_DIR) +
                    "]}\nassessors: {enabled: [" + assessors +
                    "]}\nbackends: {enabled: [native]}\npolicies: {directory: " +
                    std::string(WARDEN_SOURCE_DIR) +
                    "/policies/default}\naudit:\n  directory: " + (dir.path() / "audit").string() +
                    "\n  signing_key: " + (dir.path() / "keys/audit.key").string() + "\n");
  return Host::open(config.string());
}

// Assessors that did not answer, by name and reason.
void note_missing(const nlohmann::json& a, std::set<std::string>& missing) {
  for (const auto& s : a["assessors"])
    if (s["status"] != "ok")
      missing.insert(s["name"].get<std::string>() + " " + s["status"].get<std::string>() + ": " +
                     s["reason"].get<std::string>());
}

void check_all_answered(const std::set<std::string>& missing) {
  if (missing.empty()) return;
  std::string list;
  for (const auto& m : missing) list += "  " + m + "\n";
  if (test::under_ci()) FAIL("assessors did not answer:\n" << list);
  WARN("assessors did not answer (levels raised by the policy):\n" << list);
}

std::string describe(const fs::path& file, const nlohmann::json& a) {
  std::string text = file.filename().string() + ": " + a["level"].get<std::string>() + " (score " +
                     a["score"].dump() + ")";
  for (const auto& f : a["findings"])
    text += " [" + f["rule_id"].get<std::string>() + " line " + f["line"].dump() + "]";
  return text + "\n";
}

// LOW 0, MEDIUM 1, HIGH 2, BLOCKED 3.
int level_rank(const nlohmann::json& a) {
  int rank = 0;
  for (const char* level : {"LOW", "MEDIUM", "HIGH", "BLOCKED"}) {
    if (a["level"] == level) return rank;
    ++rank;
  }
  return rank;
}

}  // namespace

TEST_CASE("no dangerous corpus program is LOW") {
  test::TempDir dir;
  auto host = corpus_host(dir);
  auto files = corpus("dangerous");
  REQUIRE(files.size() >= 40);
  std::string low;
  std::set<std::string> missing;
  for (const auto& file : files) {
    nlohmann::json a = host->assess_code_only(test::read_file(file));
    note_missing(a, missing);
    if (a["level"] == "LOW") low += describe(file, a);
  }
  check_all_answered(missing);
  INFO("dangerous programs judged LOW:\n" << low);
  CHECK(low.empty());
}

TEST_CASE("every disguised form scores at least as high as its plain form") {
  test::TempDir dir;
  auto host = corpus_host(dir);
  std::vector<fs::path> classes;
  for (const auto& entry :
       fs::directory_iterator(fs::path(WARDEN_SOURCE_DIR) / "tests/corpus/pairs"))
    if (entry.is_directory()) classes.push_back(entry.path());
  std::sort(classes.begin(), classes.end());
  REQUIRE(classes.size() >= 6);
  std::string lower;
  std::set<std::string> missing;
  int disguised = 0;
  for (const auto& folder : classes) {
    REQUIRE(fs::exists(folder / "plain.py"));
    nlohmann::json plain = host->assess_code_only(test::read_file(folder / "plain.py"));
    note_missing(plain, missing);
    INFO(describe(folder / "plain.py", plain));
    CHECK(plain["level"] != "LOW");
    for (const auto& file : corpus(fs::path("pairs") / folder.filename())) {
      if (file.filename() == "plain.py") continue;
      ++disguised;
      nlohmann::json a = host->assess_code_only(test::read_file(file));
      note_missing(a, missing);
      if (level_rank(a) < level_rank(plain) ||
          a["score"].get<double>() < plain["score"].get<double>())
        lower += folder.filename().string() + "/" + describe(file, a) + "  against plain " +
                 describe(folder / "plain.py", plain);
    }
  }
  check_all_answered(missing);
  INFO("disguised forms below their plain form:\n" << lower);
  CHECK(lower.empty());
  CHECK(disguised >= 40);
}

TEST_CASE("no benign corpus program is HIGH or BLOCKED") {
  test::TempDir dir;
  auto host = corpus_host(dir);
  auto files = corpus("benign");
  REQUIRE(files.size() >= 40);
  std::string high;
  std::set<std::string> missing;
  int not_low = 0;
  for (const auto& file : files) {
    nlohmann::json a = host->assess_code_only(test::read_file(file));
    note_missing(a, missing);
    if (a["level"] == "HIGH" || a["level"] == "BLOCKED") high += describe(file, a);
    if (a["level"] != "LOW") ++not_low;
  }
  check_all_answered(missing);
  INFO("benign programs judged HIGH or BLOCKED:\n" << high);
  CHECK(high.empty());
  WARN(not_low << " of " << files.size() << " benign programs are above LOW");
}

TEST_CASE("a program Python cannot parse is a syntax-error finding on its line") {
  test::TempDir dir;
  auto host = corpus_host(dir);
  nlohmann::json a = host->assess_code_only("import os\nprint('ready')\ndef broken(:\n    pass\n");
  std::set<std::string> missing;
  note_missing(a, missing);
  check_all_answered(missing);
  INFO(a.dump(2));
  bool bandit_saw_it = false;
  for (const auto& f : a["findings"]) {
    if (f["rule_id"] != "syntax-error") continue;
    CHECK(f["line"] == 3);
    CHECK_THAT(f["message"].get<std::string>(), Catch::Contains("cannot parse"));
    bandit_saw_it = bandit_saw_it || f["assessor"] == "bandit" ||
                    f.value("also_reported_by", nlohmann::json::array()).dump().find("bandit") !=
                        std::string::npos;
  }
  if (missing.empty()) CHECK(bandit_saw_it);
  CHECK(a["level"] != "BLOCKED");
}

TEST_CASE("the assessment lists the imported modules and the resolved calls") {
  test::TempDir dir;
  auto host = corpus_host(dir);
  nlohmann::json a = host->assess_code_only(
      "import os\nfrom subprocess import run as r\nsock = __import__('soc' + 'ket')\n"
      "os.system.__call__('id')\nr(['ls'])\neval('__import__(\"pickle\").loads(b\"\")')\n");
  const nlohmann::json& assessment = a["assessment"];
  INFO(assessment.dump(2));
  auto has = [](const nlohmann::json& list, const char* key, const char* value, int line) {
    for (const auto& item : list)
      if (item[key] == value && item["line"] == line) return true;
    return false;
  };
  CHECK(has(assessment["imports"], "module", "os", 1));
  CHECK(has(assessment["imports"], "module", "subprocess", 2));
  CHECK(has(assessment["imports"], "module", "socket", 3));
  CHECK(has(assessment["imports"], "module", "pickle", 6));  // in the code eval runs
  CHECK(has(assessment["calls"], "name", "os.system", 4));
  CHECK(has(assessment["calls"], "name", "subprocess.run", 5));
  CHECK(has(assessment["calls"], "name", "eval", 6));
  CHECK(has(assessment["calls"], "name", "pickle.loads", 6));
  CHECK_FALSE(has(assessment["calls"], "name", "print", 1));
}

namespace {

// semgrep-rules at a pinned commit, from the project's own source archive,
// and the SHA-256 of its python/lang files ("<path> <sha256 of content>\n"
// for each, in byte order of the paths): an archive that differs is an
// error, never measured.
constexpr const char* kSemgrepRulesCommit = "157ae4706d7f54aa33647332f234dd68f30da195";
constexpr const char* kSemgrepRulesPythonSha256 =
    "9fc5d95e50fc9759b563ec6bd0ba1aaa8793b03c543ac9e54f472cc56a473a36";

std::string python_rules_sha256(const fs::path& top) {
  std::vector<std::string> paths;
  for (const auto& e : fs::recursive_directory_iterator(top / "python/lang"))
    if (e.is_regular_file()) paths.push_back(fs::relative(e.path(), top).generic_string());
  std::sort(paths.begin(), paths.end());
  std::string listing;
  for (const auto& path : paths)
    listing += path + " " + sha256_hex(test::read_file(top / path)) + "\n";
  return sha256_hex(listing);
}

// Downloads and unpacks the pinned archive's python/lang into `into`;
// returns why not when it cannot be downloaded (no network).
std::string fetch_semgrep_rules(const fs::path& into) {
  std::string url = std::string("https://codeload.github.com/semgrep/semgrep-rules/tar.gz/") +
                    kSemgrepRulesCommit;
  fs::path archive = into / "semgrep-rules.tar.gz";
  test::ProcessResult got = test::run_process(
      {"/usr/bin/curl", "-fsSL", "--max-time", "120", "-o", archive.string(), url});
  if (got.exit_code != 0) return "cannot download " + url + ": " + got.err;
  test::ProcessResult unpacked = test::run_process(
      {"/usr/bin/tar", "-xzf", archive.string(), "-C", into.string(), "--strip-components=1",
       std::string("semgrep-rules-") + kSemgrepRulesCommit + "/python/lang"});
  REQUIRE(unpacked.exit_code == 0);
  return "";
}

}  // namespace

// semgrep-rules' own annotated tests (`# ruleid: <id>` marks the line after
// it): for the code-execution, shell, subprocess, deserialization and
// reverse-shell families at least 95% of those lines get a warden finding,
// and no file of the best-practice and correctness families is BLOCKED. The
// files are under the Semgrep Rules License, so they are never committed:
// the test downloads the pinned commit's source archive, or reads a local
// copy named by WARDEN_SEMGREP_RULES (the repository's top folder), and
// measures either only when its files hash as pinned. Without network and without a copy it is
// skipped, saying so: the internet is not a component this suite provides.
TEST_CASE("semgrep-rules' annotated Python tests are caught, its ordinary code is not BLOCKED") {
  test::TempDir download;
  fs::path rules;
  if (const char* local = std::getenv("WARDEN_SEMGREP_RULES"); local && *local) {
    rules = local;
  } else if (std::string why = fetch_semgrep_rules(download.path()); why.empty()) {
    rules = download.path();
  } else {
    WARN("skipped: semgrep-rules' annotated tests: " << why
                                                     << "; set WARDEN_SEMGREP_RULES to a copy");
    return;
  }
  INFO("semgrep-rules in " << rules << " must be commit " << kSemgrepRulesCommit);
  REQUIRE(python_rules_sha256(rules) == kSemgrepRulesPythonSha256);
  fs::path python = fs::path(rules) / "python/lang";
  REQUIRE(fs::is_directory(python / "security"));
  const std::regex family(
      "exec|eval|code-run|subinterpreters|testcapi|system-call|shell|os-exec|spawn-process|"
      "subprocess|asyncio-(create-exec|exec|shell)|deserialization/|marshal|reverse-shell");
  const std::regex ruleid(R"(^\s*#\s*ruleid\s*:)");
  test::TempDir dir;
  auto host = corpus_host(dir);
  std::set<std::string> missing;
  int marked = 0, caught = 0;
  std::string missed;
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(python / "security"))
    if (e.path().extension() == ".py" && !e.path().string().ends_with(".fixed.py") &&
        std::regex_search(e.path().string(), family))
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::string code = test::read_file(file);
    std::vector<std::string> lines;
    for (std::size_t at = 0; at <= code.size();) {
      std::size_t end = code.find('\n', at);
      if (end == std::string::npos) end = code.size();
      lines.push_back(code.substr(at, end - at));
      at = end + 1;
    }
    std::vector<int> targets;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (!std::regex_search(lines[i], ruleid)) continue;
      std::size_t j = i + 1;  // the next line that is code
      while (j < lines.size() && (lines[j].find_first_not_of(" \t") == std::string::npos ||
                                  lines[j][lines[j].find_first_not_of(" \t")] == '#'))
        ++j;
      targets.push_back(static_cast<int>(j + 1));
    }
    if (targets.empty()) continue;
    nlohmann::json a = host->assess_code_only(code);
    note_missing(a, missing);
    std::set<int> found;
    for (const auto& f : a["findings"]) found.insert(f["line"].get<int>());
    for (int line : targets) {
      ++marked;
      if (found.count(line))
        ++caught;
      else
        missed += fs::relative(file, rules).string() + ":" + std::to_string(line) + "\n";
    }
  }
  std::string blocked;
  int ordinary = 0;
  for (const char* family_folder : {"best-practice", "correctness"})
    for (const auto& e : fs::recursive_directory_iterator(python / family_folder)) {
      if (e.path().extension() != ".py") continue;
      ++ordinary;
      nlohmann::json a = host->assess_code_only(test::read_file(e.path()));
      note_missing(a, missing);
      if (a["level"] == "BLOCKED") blocked += describe(e.path(), a);
    }
  check_all_answered(missing);
  INFO("ruleid lines without a finding:\n" << missed);
  INFO(caught << " of " << marked << " ruleid lines caught");
  REQUIRE(marked >= 100);
  CHECK(caught * 100 >= marked * 95);
  INFO("best-practice and correctness files BLOCKED:\n" << blocked);
  CHECK(ordinary >= 20);
  CHECK(blocked.empty());
}
