#include "tool_findings.h"

namespace warden::tools {

std::string line_of(std::string_view code, int number) {
  std::size_t start = 0;
  for (int n = 1; n < number && start != std::string_view::npos; ++n) {
    start = code.find('\n', start);
    if (start != std::string_view::npos) ++start;
  }
  if (number < 1 || start == std::string_view::npos || start > code.size()) return "";
  std::size_t end = code.find('\n', start);
  std::string_view line = code.substr(start, end == std::string_view::npos ? end : end - start);
  std::size_t first = line.find_first_not_of(" \t");
  return first == std::string_view::npos ? "" : std::string(line.substr(first, 200));
}

Finding syntax_error_finding(int line, int column, const std::string& message,
                             std::string_view code) {
  Finding f;
  f.rule_id = "syntax-error";
  f.severity = Severity::kMedium;
  f.confidence = Confidence::kHigh;
  f.category = "other";
  f.line = line < 1 ? 1 : line;
  f.column = column < 1 ? 1 : column;
  f.message = "Python cannot parse the program: " + message;
  f.source_line = line_of(code, f.line);
  return f;
}

}  // namespace warden::tools
