// A Python 3 tokenizer: names, numbers, strings (every prefix, triple quotes,
// escapes), operators, comments, NEWLINE/NL, INDENT/DEDENT, with 1-based
// positions. Text in comments and string literals is never code; the
// replacement fields of f-strings are, and are tokenized in place.
//
// Pure and thread-safe; never fails: malformed input yields kError tokens.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace warden::python {

enum class TokenKind {
  kName,
  kNumber,
  kString,
  kOp,
  kComment,
  kNewline,
  kNl,
  kIndent,
  kDedent,
  kError
};

struct Token {
  TokenKind kind;
  std::string_view text;  // the source text of the token
  int line = 0;
  int column = 0;
  std::string value;          // strings: the decoded value (raw strings verbatim)
  bool from_fstring = false;  // inside an f-string replacement field
};

std::vector<Token> tokenize(std::string_view source);

}  // namespace warden::python
