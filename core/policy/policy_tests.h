// `warden policy test`: runs the test_* functions of every *_test.lua file
// beside a folder's policies, with helpers for fake inputs (docs/policies.md).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "policy/lua_sandbox.h"

namespace warden::policy {

struct PolicyTestResult {
  std::string file;
  std::string test;
  bool passed = false;
  int line = 0;         // where it failed, when known
  std::string message;  // why it failed
};

// Runs the tests of `directory` and of every folder below it that holds
// policies. Throws Error(kConfig) when a policy or test file does not load.
std::vector<PolicyTestResult> run_policy_tests(const std::filesystem::path& directory,
                                               const Budget& budget);

}  // namespace warden::policy
