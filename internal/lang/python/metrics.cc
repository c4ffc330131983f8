#include "lang/python/metrics.h"

#include <algorithm>
#include <set>

#include "lang/python/tokenizer.h"

namespace warden::python {

CodeMetrics compute_metrics(std::string_view code) {
  CodeMetrics m;
  m.bytes = code.size();
  m.lines = static_cast<std::uint64_t>(std::count(code.begin(), code.end(), '\n')) +
            (!code.empty() && code.back() != '\n' ? 1 : 0);
  std::vector<Token> tokens = tokenize(code);
  std::set<int> code_lines;
  std::uint64_t depth = 0;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    switch (t.kind) {
      case TokenKind::kIndent: m.max_nesting = std::max(m.max_nesting, ++depth); continue;
      case TokenKind::kDedent: depth = depth > 0 ? depth - 1 : 0; continue;
      case TokenKind::kNewline:
      case TokenKind::kNl:
      case TokenKind::kComment: continue;
      default: break;
    }
    ++m.tokens;
    code_lines.insert(t.line);
    const Token* next = i + 1 < tokens.size() ? &tokens[i + 1] : nullptr;
    bool call = next && next->kind == TokenKind::kOp && next->text == "(";
    if (t.kind == TokenKind::kName) {
      std::string_view w = t.text;
      if (w == "if" || w == "elif" || w == "try" || w == "except" || w == "with" || w == "match")
        ++m.control_flow;
      if (w == "for" || w == "while") {
        ++m.control_flow;
        ++m.loops;
      }
      if (w == "def" || w == "lambda") ++m.functions;
      if (w == "class") ++m.classes;
      if (w == "import") ++m.imports;
      if (call) ++m.calls;
      if (call && i > 0 && tokens[i - 1].text == "." &&
          (w == "format" || w == "join" || w == "replace" || w == "split" || w == "strip" ||
           w == "encode" || w == "decode" || w == "upper" || w == "lower"))
        ++m.string_operations;
    } else if (t.kind == TokenKind::kString) {
      ++m.string_literals;
      char first = static_cast<char>(std::tolower(static_cast<unsigned char>(t.text[0])));
      char second = t.text.size() > 1
                        ? static_cast<char>(std::tolower(static_cast<unsigned char>(t.text[1])))
                        : 0;
      if (first == 'f' || second == 'f') ++m.string_operations;
      if (next && next->kind == TokenKind::kOp && next->text == "%") ++m.string_operations;
    } else if (t.kind == TokenKind::kOp && (t.text == ")" || t.text == "]") && call) {
      ++m.calls;
    }
  }
  m.code_lines = code_lines.size();
  auto share = [](double value, double full) { return std::min(1.0, value / full); };
  m.complexity = std::min(1.0, 0.30 * share(static_cast<double>(m.code_lines), 150) +
                                   0.30 * share(static_cast<double>(m.control_flow), 30) +
                                   0.15 * share(static_cast<double>(m.functions + m.classes), 15) +
                                   0.15 * share(static_cast<double>(m.max_nesting), 6) +
                                   0.10 * share(static_cast<double>(m.imports), 10));
  return m;
}

void to_json(nlohmann::json& j, const CodeMetrics& m) {
  j = nlohmann::json{{"bytes", m.bytes},
                     {"lines", m.lines},
                     {"code_lines", m.code_lines},
                     {"tokens", m.tokens},
                     {"control_flow", m.control_flow},
                     {"loops", m.loops},
                     {"functions", m.functions},
                     {"classes", m.classes},
                     {"imports", m.imports},
                     {"calls", m.calls},
                     {"string_literals", m.string_literals},
                     {"string_operations", m.string_operations},
                     {"max_nesting", m.max_nesting},
                     {"complexity", m.complexity}};
}

}  // namespace warden::python
