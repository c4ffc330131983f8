// warden policy test [DIR]
#include <iostream>

#include "cli/cli.h"
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
}

}  // namespace warden::cli
