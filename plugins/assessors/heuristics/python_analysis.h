// The heuristics assessor's analysis of Python source: import aliases,
// constant strings, resolved call names, and the rules (docs/heuristics.md).
#pragma once

#include <warden/types.h>

#include <string_view>
#include <vector>

namespace warden::heuristics {

struct Rule {
  const char* id;
  Severity severity;
  Confidence confidence;
  const char* category;
  int cwe;
  const char* message;
};

// Every rule this assessor can report.
const std::vector<Rule>& rules();

// Findings for one program. Pure and thread-safe.
std::vector<Finding> analyze(std::string_view code);

}  // namespace warden::heuristics
