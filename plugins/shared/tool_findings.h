// Findings built by the assessor plugins that wrap a tool (Bandit, Semgrep)
// from what the tool said about the program.
#pragma once

#include <warden/types.h>

#include <string>
#include <string_view>

namespace warden::tools {

// Line `number` (1-based) of `code` without its indentation, at most 200
// bytes, as valid UTF-8 (other bytes become U+FFFD); "" when there is no
// such line.
std::string line_of(std::string_view code, int number);

// The finding for a program Python cannot parse (rule `syntax-error`): it
// says where, and it is not an assessor that failed. Such a program cannot
// run, so it is of medium severity, in the category "other".
Finding syntax_error_finding(int line, int column, const std::string& message,
                             std::string_view code);

}  // namespace warden::tools
