// The labelled corpus (tests/corpus: programs typical of what an assistant
// writes, and dangerous ones, obfuscated ones included) through the real
// pipeline: the shipped assessors (heuristics, Bandit, Semgrep), the default
// policy, assess_code_only. No dangerous program may come out LOW and no
// benign program BLOCKED. Every assessor must have answered: under CI a
// missing tool fails the test; locally it is reported (the default policy
// then raises the levels, which this test still bounds).
#include <warden/host.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "config/config.h"
#include "support/process.h"

using namespace warden;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> corpus(const char* label) {
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

TEST_CASE("no benign corpus program is BLOCKED") {
  test::TempDir dir;
  auto host = corpus_host(dir);
  auto files = corpus("benign");
  REQUIRE(files.size() >= 40);
  std::string blocked;
  std::set<std::string> missing;
  int not_low = 0;
  for (const auto& file : files) {
    nlohmann::json a = host->assess_code_only(test::read_file(file));
    note_missing(a, missing);
    if (a["level"] == "BLOCKED") blocked += describe(file, a);
    if (a["level"] != "LOW") ++not_low;
  }
  check_all_answered(missing);
  INFO("benign programs judged BLOCKED:\n" << blocked);
  CHECK(blocked.empty());
  WARN(not_low << " of " << files.size() << " benign programs are above LOW");
}
