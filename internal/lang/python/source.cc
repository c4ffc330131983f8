#include "lang/python/source.h"

#include <iconv.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <optional>
#include <vector>

#include "lang/python/tokenizer.h"

namespace warden::python {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// PEP 263: `coding[:=]name` in a comment on line 1, or on line 2 when line
// 1 is blank or a comment (CPython's `^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)`).
// Returns the name, lower case, and its line (0 when none).
std::pair<std::string, int> declared_encoding(std::string_view text) {
  std::size_t start = 0;
  for (int line = 1; line <= 2 && start <= text.size(); ++line) {
    std::size_t end = text.find_first_of("\r\n", start);
    std::string_view physical =
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    std::size_t first = physical.find_first_not_of(" \t\f");
    if (first != std::string_view::npos && physical[first] != '#') break;  // code, not a comment
    for (std::size_t at = physical.find("coding", first);
         first != std::string_view::npos && at != std::string_view::npos;
         at = physical.find("coding", at + 1)) {
      std::size_t p = at + 6;
      if (p >= physical.size() || (physical[p] != ':' && physical[p] != '=')) continue;
      p = physical.find_first_not_of(" \t", p + 1);
      std::string name;
      while (p < physical.size() &&
             (std::isalnum(static_cast<unsigned char>(physical[p])) || physical[p] == '-' ||
              physical[p] == '_' || physical[p] == '.'))
        name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(physical[p++]))));
      if (!name.empty()) return {name, line};
    }
    if (end == std::string_view::npos) break;
    start = end + (text.compare(end, 2, "\r\n") == 0 ? 2 : 1);
  }
  return {"", 0};
}

// CPython's own short cut (`_get_normal_name`): these need no decoding of
// UTF-8 text.
bool is_utf8_name(const std::string& name) {
  std::string n = name;
  std::replace(n.begin(), n.end(), '_', '-');
  return n == "utf-8" || n == "utf8" || n.rfind("utf-8-", 0) == 0;
}

// Decodes `bytes` from `encoding` into UTF-8 with iconv, trying the spellings
// Python accepts (utf_7, latin-1, cp1252, euc_jp...). Empty optional: iconv
// does not know the encoding; `error` set: the bytes are not in it.
std::optional<std::string> iconv_decode(std::string_view bytes, const std::string& encoding,
                                        std::string& error) {
  std::string upper = encoding;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  std::string dashed = upper;
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  std::string bare;
  std::copy_if(upper.begin(), upper.end(), std::back_inserter(bare),
               [](char c) { return c != '-' && c != '_'; });
  iconv_t cd = reinterpret_cast<iconv_t>(-1);
  for (const std::string& name : {dashed, upper, bare}) {
    cd = iconv_open("UTF-8", name.c_str());
    if (cd != reinterpret_cast<iconv_t>(-1)) break;
  }
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out(bytes.size() * 4 + 16, '\0');
  char* in = const_cast<char*>(bytes.data());
  std::size_t in_left = bytes.size();
  char* to = out.data();
  std::size_t to_left = out.size();
  std::size_t rc = iconv(cd, &in, &in_left, &to, &to_left);
  if (rc != static_cast<std::size_t>(-1)) rc = iconv(cd, nullptr, nullptr, &to, &to_left);
  int saved = errno;
  iconv_close(cd);
  if (rc == static_cast<std::size_t>(-1) || in_left != 0) {
    error = "the program is not valid " + encoding + " (byte " +
            std::to_string(bytes.size() - in_left) + (saved == E2BIG ? ": too long)" : ")");
    return out.substr(0, 0);
  }
  out.resize(out.size() - to_left);
  return out;
}

// CRLF and a lone CR become "\n", as CPython's universal newlines read them.
std::string normalise_newlines(std::string_view text) {
  if (text.find('\r') == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\r') {
      out.push_back(text[i]);
      continue;
    }
    out.push_back('\n');
    if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
  }
  return out;
}

// Every identifier in its NFKC form; the rest of the text is kept byte for
// byte (line numbers do not move: NFKC never makes a line break).
std::string normalise_identifiers(const std::string& text) {
  std::vector<std::string_view> names;
  for (const Token& t : tokenize(text))
    if (t.kind == TokenKind::kName &&
        std::any_of(t.text.begin(), t.text.end(), [](char c) { return c & 0x80; }))
      names.push_back(t.text);
  if (names.empty()) return text;
  std::sort(names.begin(), names.end(),
            [](std::string_view a, std::string_view b) { return a.data() < b.data(); });
  std::string out;
  std::size_t copied = 0;
  for (std::string_view name : names) {
    std::size_t at = static_cast<std::size_t>(name.data() - text.data());
    if (at < copied) continue;
    out.append(text, copied, at - copied);
    out += nfkc_identifier(name);
    copied = at + name.size();
  }
  out.append(text, copied);
  return out;
}

}  // namespace

std::string nfkc_identifier(std::string_view name) {
  if (std::none_of(name.begin(), name.end(), [](char c) { return c & 0x80; }))
    return std::string(name);
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc = icu::Normalizer2::getNFKCInstance(status);
  if (U_FAILURE(status)) return std::string(name);
  icu::UnicodeString normal = nfkc->normalize(
      icu::UnicodeString::fromUTF8(icu::StringPiece(name.data(), name.size())), status);
  if (U_FAILURE(status)) return std::string(name);
  std::string out;
  normal.toUTF8String(out);
  return out;
}

SourceText read_source(std::string_view raw, bool declared) {
  SourceText source;
  std::string_view bytes = raw;
  bool bom = bytes.substr(0, kUtf8Bom.size()) == kUtf8Bom;
  if (bom) bytes.remove_prefix(kUtf8Bom.size());
  std::string decoded;
  bool is_decoded = false;
  if (declared) {
    auto [encoding, line] = declared_encoding(bytes);
    source.encoding = encoding;
    if (!encoding.empty() && !is_utf8_name(encoding)) {
      source.error_line = line;
      if (bom) {
        source.error = "a UTF-8 byte-order mark with the declared encoding '" + encoding + "'";
      } else if (auto text = iconv_decode(bytes, encoding, source.error)) {
        if (source.error.empty()) {
          decoded = std::move(*text);
          is_decoded = true;
        }
      } else {
        source.error =
            "the declared source encoding '" + encoding + "' is one warden cannot decode";
      }
      if (source.error.empty()) source.error_line = 0;
    }
  }
  source.text = normalise_newlines(is_decoded ? std::string_view(decoded) : bytes);
  if (std::any_of(source.text.begin(), source.text.end(), [](char c) { return c & 0x80; }))
    source.text = normalise_identifiers(source.text);
  return source;
}

}  // namespace warden::python
