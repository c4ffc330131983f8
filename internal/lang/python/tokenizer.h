// A Python 3 tokenizer: names, numbers, strings (every prefix, triple quotes,
// escapes), operators, comments, NEWLINE/NL, INDENT/DEDENT, with 1-based
// positions. Text in comments and string literals is never code; the
// replacement fields of f-strings are, and are tokenized in place.
//
// Pure and thread-safe; never fails: malformed input yields kError tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace warden::python {

enum class TokenKind : std::uint8_t {
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

// 32 bytes (the kind after the text): a program has a token per 3-5 bytes,
// and they are written once and read many times.
struct Token {
  std::string_view text;  // the source text of the token
  int line = 0;
  int column = 0;
  TokenKind kind;
  bool from_fstring = false;  // inside an f-string replacement field
};
static_assert(sizeof(Token) == 32);

// Tokens point into `source`, which must outlive them.
std::vector<Token> tokenize(std::string_view source);

// The value of a kString token: prefix and quotes removed, escapes decoded
// unless the string is raw. Decoded on demand: most strings are never asked.
std::string string_value(const Token& token);

}  // namespace warden::python
