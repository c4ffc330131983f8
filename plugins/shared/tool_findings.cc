#include "shared/tool_findings.h"

namespace warden::tools {
namespace {

// `text` with each byte that is not part of valid UTF-8 replaced by U+FFFD:
// a finding crosses the plugin ABI as JSON, which must be UTF-8.
std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char c = byte(i);
    std::size_t length = c < 0x80           ? 1
                         : (c >> 5) == 0x6  ? 2
                         : (c >> 4) == 0xE  ? 3
                         : (c >> 3) == 0x1E ? 4
                                            : 0;
    bool valid = length > 0 && i + length <= text.size() && !(length == 2 && c < 0xC2);
    for (std::size_t k = 1; valid && k < length; ++k) valid = (byte(i + k) & 0xC0) == 0x80;
    if (valid && length == 3) {
      unsigned char d = byte(i + 1);
      valid = !(c == 0xE0 && d < 0xA0) && !(c == 0xED && d >= 0xA0);  // overlong, surrogates
    }
    if (valid && length == 4) {
      unsigned char d = byte(i + 1);
      valid = c <= 0xF4 && !(c == 0xF0 && d < 0x90) && !(c == 0xF4 && d >= 0x90);
    }
    if (valid) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace

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
  return first == std::string_view::npos ? "" : valid_utf8(line.substr(first, 200));
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
