// warden policy test [DIR], warden policy explain FILE
#include <warden/host.h>

#include <iostream>

#include "cli/cli.h"
#include "pipeline/explain.h"
#include "policy/policy_tests.h"

namespace warden::cli {

void add_policy_commands(CLI::App& app, Context& context) {
  auto* policy = app.add_subcommand("policy", "Tools for policy authors");
  policy->require_subcommand(1);
  static std::string directory;
  auto* test = policy->add_subcommand("test", "Run the test_* functions of the *_test.lua files");
  test->add_option("DIR", directory,
                   "Folder of policies (searched recursively; default: the configured one)");
  set_handler(test, [&context] {
    const Config& config = context.config();
    std::filesystem::path dir =
        directory.empty() ? config.policies.directory : std::filesystem::path(directory);
    policy::Budget budget{config.policies.instruction_budget, config.policies.memory_bytes,
                          config.policies.wall_time_ms * 10};
    auto results = policy::run_policy_tests(dir, budget);
    int failed = 0;
    for (const auto& r : results) {
      if (r.passed) {
        std::cout << "PASS " << r.file << " " << r.test << "\n";
      } else {
        ++failed;
        std::cout << "FAIL " << r.file << ":" << r.line << ": " << r.test << ": " << r.message
                  << "\n";
      }
    }
    std::cout << (results.size() - failed) << " passed, " << failed << " failed\n";
    if (results.empty()) {
      std::cerr << "warden: error: no policy tests (*_test.lua) under " << dir.string() << "\n";
      return 1;
    }
    return failed == 0 ? 0 : 1;
  });

  static std::string file, user, override_reason;
  static bool confirm = false, json = false;
  auto* explain =
      policy->add_subcommand("explain", "Assess a program and show which policy rule decided what");
  explain->add_option("FILE", file, "A Python program")->required();
  explain->add_option("--as", user, "The requesting user");
  explain->add_flag("--confirm", confirm, "As if the user confirmed");
  explain->add_option("--override", override_reason,
                      "As if the request carried this override explanation");
  explain->add_flag("--json", json, "Print JSON");
  set_handler(explain, [&context] {
    ExecutionRequest asked;
    asked.code = read_input_file(file, "program", context.config().requests.max_code_bytes);
    asked.file_name = file;
    asked.user = user;
    asked.confirmed = confirm;
    asked.override_blocked = !override_reason.empty();
    asked.override_explanation = override_reason;
    nlohmann::json e = Host::open(context.config_path())->explain(asked);
    e.erase("assessment");
    if (json)
      print_json(e);
    else
      std::cout << pipeline::render_explanation(e);
    return 0;
  });
}

}  // namespace warden::cli
