// Code metrics of a Python program, computed from its tokens. Policies use
// them to size limits to the code (docs/policies.md lists every field).
//
// compute_metrics() is pure and thread-safe. It never fails: text that is not
// valid Python still gets metrics from whatever tokens it has.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

namespace warden::python {

struct CodeMetrics {
  std::uint64_t bytes = 0;
  std::uint64_t lines = 0;       // physical lines
  std::uint64_t code_lines = 0;  // lines with at least one token that is not a comment
  std::uint64_t tokens = 0;
  std::uint64_t control_flow = 0;  // if/elif/for/while/try/except/with/match statements
  std::uint64_t loops = 0;         // for/while
  std::uint64_t functions = 0;     // def + lambda
  std::uint64_t classes = 0;
  std::uint64_t imports = 0;  // import and from-import statements
  std::uint64_t calls = 0;    // NAME or ')' or ']' followed by '('
  std::uint64_t string_literals = 0;
  std::uint64_t string_operations = 0;  // f-strings, .format(), % formatting, str methods
  std::uint64_t max_nesting = 0;        // deepest indentation level of a statement
  double complexity = 0;                // 0..1 summary used by the default limits policy
};

CodeMetrics compute_metrics(std::string_view code);

void to_json(nlohmann::json& j, const CodeMetrics& m);

}  // namespace warden::python
