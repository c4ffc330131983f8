#include "lang/python/tokenizer.h"

#include <algorithm>
#include <cctype>

namespace warden::python {
namespace {

// Byte classes by table: the <cctype> functions consult the locale per call.
struct ByteClasses {
  bool name_start[256] = {};
  bool name_char[256] = {};
  bool string_start[256] = {};   // a quote or a string prefix letter
  bool string_prefix[256] = {};  // a string prefix letter
  constexpr ByteClasses() {
    for (int c = 0; c < 256; ++c) {
      bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      name_start[c] = alpha || c == '_' || c >= 0x80;
      name_char[c] = name_start[c] || (c >= '0' && c <= '9');
    }
    for (char c : std::string_view("rRbBuUfF")) string_prefix[static_cast<unsigned char>(c)] = true;
    for (int c = 0; c < 256; ++c) string_start[c] = string_prefix[c] || c == '\'' || c == '"';
  }
};
constexpr ByteClasses kBytes;

bool name_start(unsigned char c) {
  return kBytes.name_start[c];
}
bool name_char(unsigned char c) {
  return kBytes.name_char[c];
}

// The length of the operator or delimiter starting at `s` (the longest
// match), or 0 when `s` starts with none.
std::size_t operator_length(std::string_view s) {
  char c = s[0], d = s.size() > 1 ? s[1] : '\0', e = s.size() > 2 ? s[2] : '\0';
  switch (c) {
    case '*':
    case '/':
    case '<':
    case '>':  // ** **= // //= << <<= >> >>= and the one-byte forms with =
      if (d == c) return e == '=' ? 3 : 2;
      return d == '=' ? 2 : 1;
    case '.': return d == '.' && e == '.' ? 3 : 1;
    case '-': return d == '>' || d == '=' ? 2 : 1;
    case ':':
    case '=':
    case '!':
    case '+':
    case '%':
    case '&':
    case '|':
    case '^':
    case '@': return d == '=' ? 2 : 1;
    case ',':
    case ';':
    case '(':
    case ')':
    case '[':
    case ']':
    case '{':
    case '}':
    case '~': return 1;
    default: return 0;
  }
}

// Python's backslash escapes in a non-raw string body.
std::string decode_escapes(std::string_view body) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out.push_back(c);
      continue;
    }
    char e = body[++i];
    switch (e) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'r': out.push_back('\r'); break;
      case '0': out.push_back('\0'); break;
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case '\n': break;
      case 'x':
        if (i + 2 < body.size() + 0 && std::isxdigit(static_cast<unsigned char>(body[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(body[i + 2]))) {
          out.push_back(
              static_cast<char>(std::stoi(std::string(body.substr(i + 1, 2)), nullptr, 16)));
          i += 2;
        } else {
          out += "\\x";
        }
        break;
      default: out.push_back('\\'); out.push_back(e);
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view src, int line = 1, int column = 1, bool in_fstring = false)
      : src_(src), line_(line), column_(column), in_fstring_(in_fstring) {}

  std::vector<Token> run() {
    indents_.push_back(0);
    // Python has about one token per three bytes; reserving more costs only
    // address space (untouched pages are never faulted in), while growing
    // copies every token.
    tokens_.reserve(src_.size() / 2 + 8);
    while (pos_ < src_.size()) {
      if (at_line_start_ && depth_ == 0 && !in_fstring_) {
        if (handle_indentation()) continue;
      }
      char c = src_[pos_];
      if (c == '\n' || c == '\r') {
        std::size_t len = (c == '\r' && peek(1) == '\n') ? 2 : 1;
        bool logical = depth_ == 0 && !blank_line_;
        tokens_.push_back({src_.substr(pos_, len), line_, column_,
                           logical ? TokenKind::kNewline : TokenKind::kNl, in_fstring_});
        pos_ += len;
        newline();
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\f') {
        std::size_t end = pos_ + 1;
        while (end < src_.size() && (src_[end] == ' ' || src_[end] == '\t' || src_[end] == '\f'))
          ++end;
        advance(end - pos_);
        continue;
      }
      if (c == '\\' && (peek(1) == '\n' || peek(1) == '\r')) {  // explicit line joining
        advance(1);
        std::size_t len = (peek(0) == '\r' && peek(1) == '\n') ? 2 : 1;
        pos_ += len;
        ++line_;
        column_ = 1;
        continue;
      }
      if (c == '#') {
        std::size_t end = src_.find_first_of("\r\n", pos_);
        emit(TokenKind::kComment, (end == std::string_view::npos ? src_.size() : end) - pos_);
        continue;
      }
      blank_line_ = false;
      if (kBytes.string_start[static_cast<unsigned char>(c)] && string_start()) continue;
      if (name_start(static_cast<unsigned char>(c))) {
        std::size_t end = pos_;
        while (end < src_.size() && name_char(static_cast<unsigned char>(src_[end]))) ++end;
        emit(TokenKind::kName, end - pos_);
        continue;
      }
      if (std::isdigit(static_cast<unsigned char>(c)) ||
          (c == '.' && std::isdigit(static_cast<unsigned char>(peek(1))))) {
        std::size_t end = pos_ + 1;
        while (end < src_.size()) {
          char d = src_[end];
          if (std::isalnum(static_cast<unsigned char>(d)) || d == '_' || d == '.') {
            ++end;
          } else if ((d == '+' || d == '-') && (src_[end - 1] == 'e' || src_[end - 1] == 'E') &&
                     !(src_.substr(pos_, 2) == "0x" || src_.substr(pos_, 2) == "0X")) {
            ++end;
          } else {
            break;
          }
        }
        emit(TokenKind::kNumber, end - pos_);
        continue;
      }
      std::size_t length = operator_length(src_.substr(pos_));
      if (length == 0) {
        emit(TokenKind::kError, 1);
        continue;
      }
      if (length == 1 && (c == '(' || c == '[' || c == '{')) ++depth_;
      if (length == 1 && (c == ')' || c == ']' || c == '}') && depth_ > 0) --depth_;
      emit(TokenKind::kOp, length);
    }
    if (!in_fstring_) {
      if (!tokens_.empty() && tokens_.back().kind != TokenKind::kNewline &&
          tokens_.back().kind != TokenKind::kNl)
        tokens_.push_back({src_.substr(src_.size()), line_, column_, TokenKind::kNewline, false});
      while (indents_.size() > 1) {
        indents_.pop_back();
        tokens_.push_back({{}, line_, column_, TokenKind::kDedent, false});
      }
    }
    return std::move(tokens_);
  }

 private:
  char peek(std::size_t ahead) const {
    return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0';
  }

  void advance(std::size_t n) {
    pos_ += n;
    column_ += static_cast<int>(n);
  }

  void newline() {
    ++line_;
    column_ = 1;
    at_line_start_ = true;
    blank_line_ = true;
  }

  Token& emit(TokenKind kind, std::size_t len) {
    tokens_.push_back({src_.substr(pos_, len), line_, column_, kind, in_fstring_});
    if (kind != TokenKind::kComment && kind != TokenKind::kNewline && kind != TokenKind::kNl)
      blank_line_ = false;
    if (kind == TokenKind::kString || kind == TokenKind::kError) {
      // Only strings span lines (triple quotes, escaped line ends).
      for (std::size_t i = pos_; i < pos_ + len; ++i) {
        if (src_[i] == '\n') {
          ++line_;
          column_ = 0;
        }
        ++column_;
      }
    } else {
      column_ += static_cast<int>(len);
    }
    pos_ += len;
    return tokens_.back();
  }

  // Measures the indentation of a new line; emits INDENT/DEDENT for lines
  // that hold code. Returns true when it consumed something.
  bool handle_indentation() {
    at_line_start_ = false;
    std::size_t p = pos_;
    int width = 0;
    while (p < src_.size() && (src_[p] == ' ' || src_[p] == '\t' || src_[p] == '\f')) {
      width = src_[p] == '\t' ? (width / 8 + 1) * 8 : width + 1;
      ++p;
    }
    if (p >= src_.size() || src_[p] == '\n' || src_[p] == '\r' || src_[p] == '#') return false;
    if (width > indents_.back()) {
      indents_.push_back(width);
      tokens_.push_back({src_.substr(pos_, p - pos_), line_, column_, TokenKind::kIndent, false});
    } else {
      while (width < indents_.back() && indents_.size() > 1) {
        indents_.pop_back();
        tokens_.push_back({{}, line_, column_, TokenKind::kDedent, false});
      }
    }
    return false;
  }

  // Recognizes [prefix]quote...quote. Returns false when not at a string.
  bool string_start() {
    std::size_t p = pos_;
    std::string prefix;
    while (p < src_.size() && prefix.size() < 3 &&
           kBytes.string_prefix[static_cast<unsigned char>(src_[p])])
      prefix.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(src_[p++]))));
    if (p >= src_.size() || (src_[p] != '\'' && src_[p] != '"')) return false;
    if (!prefix.empty()) {
      static const char* kValid[] = {"r", "u", "b", "f", "br", "rb", "fr", "rf"};
      bool valid = false;
      for (const char* v : kValid) valid = valid || prefix == v;
      if (!valid) return false;
    }
    char quote = src_[p];
    bool triple = p + 2 < src_.size() && src_[p + 1] == quote && src_[p + 2] == quote;
    std::size_t body_start = p + (triple ? 3 : 1);
    std::size_t q = body_start;
    bool closed = false;
    while (q < src_.size()) {
      char c = src_[q];
      if (c == '\\') {
        q += 2;
        continue;
      }
      if (!triple && (c == '\n' || c == '\r')) break;
      if (c == quote &&
          (!triple || (q + 2 < src_.size() && src_[q + 1] == quote && src_[q + 2] == quote))) {
        closed = true;
        break;
      }
      ++q;
    }
    std::size_t body_end = std::min(q, src_.size());
    std::size_t end = closed ? body_end + (triple ? 3 : 1) : body_end;
    int start_line = line_, start_column = column_;
    std::string_view body = src_.substr(body_start, body_end - body_start);
    emit(closed ? TokenKind::kString : TokenKind::kError, end - pos_);
    if (prefix.find('f') != std::string::npos) fstring_fields(body, start_line, start_column);
    return true;
  }

  // Emits the tokens of each {expression} of an f-string body.
  void fstring_fields(std::string_view body, int line, int column) {
    for (std::size_t i = 0; i < body.size(); ++i) {
      if (body[i] != '{') continue;
      if (i + 1 < body.size() && body[i + 1] == '{') {
        ++i;
        continue;
      }
      int depth = 1;
      std::size_t j = i + 1;
      while (j < body.size() && depth > 0) {
        if (body[j] == '{') ++depth;
        if (body[j] == '}') --depth;
        if (depth > 0) ++j;
      }
      std::string_view expression = body.substr(i + 1, j - i - 1);
      // A conversion (!r) or format spec (:>10) ends the expression, but only
      // outside brackets: f"{xs[1:]}" slices.
      int nesting = 0;
      for (std::size_t k = 0; k < expression.size(); ++k) {
        char c = expression[k];
        if (c == '(' || c == '[' || c == '{') ++nesting;
        if (c == ')' || c == ']' || c == '}') --nesting;
        if (nesting == 0 && ((c == '!' && expression.substr(k, 2) != "!=") ||
                             (c == ':' && expression.substr(k, 2) != ":="))) {
          expression = expression.substr(0, k);
          break;
        }
      }
      if (fstring_depth_ < 8) {
        Lexer inner(expression, line, column, true);
        inner.fstring_depth_ = fstring_depth_ + 1;
        for (auto& token : inner.run()) tokens_.push_back(std::move(token));
      }
      i = j;
    }
  }

  std::string_view src_;
  std::size_t pos_ = 0;
  int line_;
  int column_;
  bool in_fstring_;
  int fstring_depth_ = 0;
  int depth_ = 0;
  bool at_line_start_ = true;
  bool blank_line_ = true;
  std::vector<int> indents_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) {
  return Lexer(source).run();
}

std::string string_value(const Token& token) {
  std::string_view text = token.text;
  std::size_t quote = text.find_first_of("'\"");
  if (quote == std::string_view::npos) return "";
  std::string_view prefix = text.substr(0, quote);
  bool triple = text.size() >= quote + 6 && text.substr(quote, 3) == std::string(3, text[quote]);
  std::size_t delimiter = triple ? 3 : 1;
  if (text.size() < quote + 2 * delimiter) return "";
  std::string_view body = text.substr(quote + delimiter, text.size() - quote - 2 * delimiter);
  bool raw = prefix.find_first_of("rR") != std::string_view::npos;
  return raw ? std::string(body) : decode_escapes(body);
}

}  // namespace warden::python
