// The assessment cache on disk, between real warden processes: a second
// `warden assess` of a program gets every assessor's result from disk, a
// damaged entry is never trusted, and processes writing one folder at once
// never read a damaged entry.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "support/process.h"

using namespace warden;
namespace fs = std::filesystem;

namespace {

// The default configuration with a HOME of its own, as a person runs warden.
std::map<std::string, std::string> own_home(const test::TempDir& home) {
  return {{"HOME", home.path().string()},
          {"XDG_STATE_HOME", (home.path() / "state").string()},
          {"XDG_CONFIG_HOME", (home.path() / "config").string()},
          {"XDG_CACHE_HOME", (home.path() / "cache").string()},
          {"WARDEN_CONFIG", ""}};
}

std::vector<fs::path> entries_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code none_yet;
  for (const auto& e : fs::directory_iterator(dir, none_yet))
    if (e.path().extension() == ".entry") out.push_back(e.path());
  return out;
}

nlohmann::json assess(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env, std::string* err = nullptr) {
  std::vector<std::string> argv{test::warden_binary(), "assess", "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  test::ProcessResult r = test::run_process(argv, env);
  INFO(r.err);
  REQUIRE((r.exit_code == 0 || r.exit_code == 1));
  if (err) *err = r.err;
  return nlohmann::json::parse(r.out);
}

}  // namespace

TEST_CASE("a second warden process gets every assessor's result from the cache on disk") {
  test::TempDir home;
  auto env = own_home(home);
  auto program =
      home.write("fetch.py", "import subprocess\nsubprocess.run(['ls', '-l'])\nprint('done')\n");
  nlohmann::json first = assess({program.string()}, env)["files"][0];
  bool all_ok = true;
  for (const auto& a : first["assessors"]) {
    INFO(a.dump());
    if (a["status"] != "ok") all_ok = false;
    CHECK(a["cached"] == false);
  }
  if (!all_ok) {
    if (test::under_ci()) FAIL("an assessor is not available: " << first["assessors"].dump());
    WARN("skipped: an assessor is not available");
    return;
  }
  REQUIRE(first["assessors"].size() == 3);  // heuristics, bandit, semgrep
  fs::path folder = home.path() / "cache" / "warden" / "assessments";
  CHECK(entries_in(folder).size() == 3);

  nlohmann::json second = assess({program.string()}, env)["files"][0];
  for (const auto& a : second["assessors"]) {
    INFO(a.dump());
    CHECK(a["status"] == "ok");
    CHECK(a["cached"] == true);
  }
  CHECK(second["findings"] == first["findings"]);
  CHECK(second["level"] == first["level"]);

  SECTION("a damaged entry is removed and the result computed again") {
    for (const auto& entry : entries_in(folder)) {
      std::string bytes = test::read_file(entry);
      std::ofstream(entry, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 7);
    }
    std::string err;
    nlohmann::json third = assess({program.string()}, env, &err)["files"][0];
    CHECK_THAT(err, Catch::Contains("damaged entry"));
    for (const auto& a : third["assessors"]) {
      INFO(a.dump());
      CHECK(a["status"] == "ok");
      CHECK(a["cached"] == false);
    }
    CHECK(third["findings"] == first["findings"]);
    nlohmann::json fourth = assess({program.string()}, env)["files"][0];
    for (const auto& a : fourth["assessors"]) CHECK(a["cached"] == true);
  }
}

TEST_CASE("warden processes sharing one cache folder at once never read a damaged entry") {
  test::TempDir home;
  auto env = own_home(home);
  // Heuristics only, no cache in memory and a folder that holds a few
  // entries: every assessment reads the disk, and entries are written,
  // replaced and evicted all the time by both processes.
  auto config = home.write("warden.yaml",
                           "assessors:\n  enabled: [heuristics]\n  cache:\n    max_entries: 0\n"
                           "    max_bytes: 6KiB\n    directory: " +
                               (home.path() / "shared").string() + "\n");
  env["WARDEN_CONFIG"] = config.string();
  std::vector<std::string> files;
  for (int i = 0; i < 24; ++i)
    files.push_back(home.write("p" + std::to_string(i) + ".py",
                               "import os\nx = " + std::to_string(i) + "\nos.system('echo " +
                                   std::to_string(i) + "')\n")
                        .string());
  // What each program gets assessed alone, without any cache.
  std::map<std::string, nlohmann::json> expected;
  {
    auto alone = home.write("alone.yaml",
                            "assessors:\n  enabled: [heuristics]\n  cache: "
                            "{enabled: false}\n");
    auto alone_env = env;
    alone_env["WARDEN_CONFIG"] = alone.string();
    nlohmann::json alone_results = assess(files, alone_env);
    for (const auto& f : alone_results["files"])
      expected[f["file"].get<std::string>()] = f["findings"];
    REQUIRE(expected.size() == files.size());
  }
  std::vector<std::string> many;
  for (int round = 0; round < 8; ++round) many.insert(many.end(), files.begin(), files.end());

  constexpr int kProcesses = 3;
  std::vector<std::future<test::ProcessResult>> runs;
  for (int i = 0; i < kProcesses; ++i)
    runs.push_back(std::async(std::launch::async, [&] {
      std::vector<std::string> argv{test::warden_binary(), "assess", "--json"};
      argv.insert(argv.end(), many.begin(), many.end());
      return test::run_process(argv, env);
    }));
  int cached = 0;
  for (auto& run : runs) {
    test::ProcessResult r = run.get();
    INFO(r.err);
    REQUIRE((r.exit_code == 0 || r.exit_code == 1));
    CHECK(r.err.find("damaged") == std::string::npos);
    auto results = nlohmann::json::parse(r.out)["files"];
    REQUIRE(results.size() == many.size());
    for (const auto& f : results) {
      CHECK(f["assessors"][0]["status"] == "ok");
      CHECK(f["findings"] == expected[f["file"].get<std::string>()]);
      if (f["assessors"][0]["cached"] == true) ++cached;
    }
  }
  CHECK(cached > 0);  // the processes did use the disk
  std::uint64_t bytes = 0;
  for (const auto& e : entries_in(home.path() / "shared")) bytes += fs::file_size(e);
  CHECK(bytes <= 6 * 1024);
}
