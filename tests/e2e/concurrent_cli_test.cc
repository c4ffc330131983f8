// Several warden commands at once on one machine, as people really run them:
// twenty `warden run` on the default configuration share one audit log.
#include <catch2/catch.hpp>
#include <future>
#include <nlohmann/json.hpp>

#include "support/process.h"

using namespace warden;

TEST_CASE("twenty warden run commands at once on the default configuration keep one intact log") {
  test::TempDir home;
  auto program = home.write("sum.py", "print(sum(range(10)))\n");
  // The default configuration keeps the log under the user's state folder.
  std::map<std::string, std::string> env{{"HOME", home.path().string()},
                                         {"XDG_STATE_HOME", (home.path() / "state").string()},
                                         {"XDG_CONFIG_HOME", (home.path() / "config").string()},
                                         {"WARDEN_CONFIG", ""}};
  auto status = test::run_process({test::warden_binary(), "status", "--json"}, env);
  REQUIRE(status.exit_code == 0);
  INFO(status.out);
  for (const auto& plugin : nlohmann::json::parse(status.out)["plugins"])
    if (plugin["kind"] == "assessor" && !plugin["available"].get<bool>()) {
      std::string why = plugin["name"].get<std::string>() +
                        " is unavailable: " + plugin["reason"].get<std::string>();
      if (test::under_ci()) FAIL(why);
      WARN("skipped: " << why);
      return;
    }

  constexpr int kCommands = 20;
  std::vector<std::future<test::ProcessResult>> runs;
  for (int i = 0; i < kCommands; ++i)
    runs.push_back(std::async(std::launch::async, [&] {
      return test::run_process({test::warden_binary(), "run", "--json", program.string()}, env);
    }));
  for (auto& run : runs) {
    test::ProcessResult r = run.get();
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto result = nlohmann::json::parse(r.out);
    CHECK(result["decision"] == "ran");
    CHECK(result["stdout"] == "45\n");
  }
  auto verify = test::run_process({test::warden_binary(), "audit", "verify", "--json"}, env);
  INFO(verify.out);
  CHECK(verify.exit_code == 0);
  auto report = nlohmann::json::parse(verify.out);
  CHECK(report["intact"] == true);
  CHECK(report["records"].get<int>() >= kCommands * 4);
}
