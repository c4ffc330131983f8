// `warden assess --sarif` against the official SARIF 2.1.0 JSON schema, with
// Python's jsonschema: the report on the dangerous corpus, one run per
// shipped assessor, must validate, and damaged copies must not (the check
// can fail).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/process.h"

using namespace warden;
namespace fs = std::filesystem;

namespace {

// The Python that has jsonschema: the analysis tools' virtualenv (Semgrep
// depends on it), else the system's.
std::string validator_python() {
  const char* venv = std::getenv("WARDEN_TOOLS_VENV");
  fs::path tools = fs::path(venv && *venv ? venv : "/opt/warden/tools") / "bin/python";
  return fs::exists(tools) ? tools.string() : "/usr/bin/python3";
}

// Runs the validator: 0 valid, 1 invalid, 2 it could not check (reported).
test::ProcessResult validate(const fs::path& sarif) {
  return test::run_process({validator_python(),
                            std::string(WARDEN_SOURCE_DIR) + "/tests/sarif/validate_sarif.py",
                            std::string(WARDEN_BINARY_DIR) + "/test-cache/sarif", sarif.string()});
}

bool validator_usable(const test::ProcessResult& r) {
  if (r.exit_code != 2) return true;
  if (test::under_ci()) FAIL("cannot validate SARIF under CI: " << r.err);
  WARN("skipped: cannot validate SARIF (" << r.err << ")");
  return false;
}

}  // namespace

TEST_CASE("warden assess --sarif validates against the official SARIF 2.1.0 schema") {
  test::TempDir dir;
  std::vector<std::string> argv = {test::warden_binary(), "assess", "--sarif"};
  // The dangerous half of the corpus: every program has findings, from each assessor.
  for (const auto& e :
       fs::directory_iterator(fs::path(WARDEN_SOURCE_DIR) / "tests/corpus/dangerous"))
    argv.push_back(e.path().string());
  // HOME in the temp dir: the audit records of this run go there.
  auto assessed = test::run_process(argv, {{"HOME", dir.path().string()}});
  INFO(assessed.err);
  REQUIRE((assessed.exit_code == 0 || assessed.exit_code == 1));  // 1: some are dangerous
  nlohmann::json sarif = nlohmann::json::parse(assessed.out);
  REQUIRE(sarif["runs"].size() >= 1);
  REQUIRE(sarif["runs"][0]["results"].size() >= 52);  // every dangerous program has findings
  fs::path good = dir.write("corpus.sarif", assessed.out);

  auto valid = validate(good);
  if (!validator_usable(valid)) return;
  INFO(valid.out << valid.err);
  CHECK(valid.exit_code == 0);
  CHECK_THAT(valid.out, Catch::Contains("sarif-schema-2.1.0.json: valid"));

  // Damage it the ways a careless writer would: the check must catch each.
  auto damaged = [&](const std::function<void(nlohmann::json&)>& damage) {
    nlohmann::json copy = sarif;
    damage(copy);
    return validate(dir.write("damaged.sarif", copy.dump()));
  };
  auto no_version = damaged([](nlohmann::json& s) { s.erase("version"); });
  CHECK(no_version.exit_code == 1);
  auto bad_level =
      damaged([](nlohmann::json& s) { s["runs"][0]["results"][0]["level"] = "fatal"; });
  CHECK(bad_level.exit_code == 1);
  CHECK_THAT(bad_level.out, Catch::Contains("runs/0/results/0/level"));
  auto bad_line = damaged([](nlohmann::json& s) {
    s["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0;
  });
  CHECK(bad_line.exit_code == 1);
}
