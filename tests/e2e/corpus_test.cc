// The labelled corpus (tests/corpus: programs typical of what an assistant
// writes, and dangerous ones, obfuscated ones included) through the real
// pipeline: the assessors, the shipped default policy, assess_code_only. No
// dangerous program may come out LOW and no benign program BLOCKED.
#include <warden/host.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>

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

std::unique_ptr<Host> corpus_host(const test::TempDir& dir) {
  fs::path config =
      dir.write("warden.yaml",
                "log_level: warn\nplugins: {directories: [" + std::string(WARDEN_PLUGIN_DIR) +
                    "]}\nassessors: {enabled: [heuristics]}\nbackends: {enabled: [native]}\n"
                    "policies: {directory: " +
                    std::string(WARDEN_SOURCE_DIR) +
                    "/policies/default}\naudit:\n  directory: " + (dir.path() / "audit").string() +
                    "\n  signing_key: " + (dir.path() / "keys/audit.key").string() + "\n");
  return Host::open(config.string());
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
  for (const auto& file : files) {
    nlohmann::json a = host->assess_code_only(test::read_file(file));
    if (a["level"] == "LOW") low += describe(file, a);
  }
  INFO("dangerous programs judged LOW:\n" << low);
  CHECK(low.empty());
}

TEST_CASE("no benign corpus program is BLOCKED") {
  test::TempDir dir;
  auto host = corpus_host(dir);
  auto files = corpus("benign");
  REQUIRE(files.size() >= 40);
  std::string blocked;
  int not_low = 0;
  for (const auto& file : files) {
    nlohmann::json a = host->assess_code_only(test::read_file(file));
    if (a["level"] == "BLOCKED") blocked += describe(file, a);
    if (a["level"] != "LOW") ++not_low;
  }
  INFO("benign programs judged BLOCKED:\n" << blocked);
  CHECK(blocked.empty());
  WARN(not_low << " of " << files.size() << " benign programs are above LOW");
}
