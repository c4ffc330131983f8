#include "lang/python/payload.h"

#include <zlib.h>

#include <array>
#include <cctype>
#include <cstdint>

namespace warden::python {
namespace {

// Reads `text` as groups of `bits`-bit digits (`digit` gives a digit's value
// or -1 for a character to skip) and packs them into bytes.
template <typename Digit>
std::optional<std::string> unpack(std::string_view text, int bits, Digit digit) {
  std::string out;
  std::uint32_t buffer = 0;
  int held = 0;
  for (char c : text) {
    if (c == '=') break;  // padding ends the data
    int value = digit(static_cast<unsigned char>(c));
    if (value < 0) continue;
    buffer = (buffer << bits) | static_cast<std::uint32_t>(value);
    held += bits;
    if (held >= 8) {
      held -= 8;
      out.push_back(static_cast<char>((buffer >> held) & 0xff));
      if (out.size() > kMaxDecodedPayload) return std::nullopt;
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view text, bool url_safe) {
  return unpack(text, 6, [url_safe](unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == (url_safe ? '-' : '+')) return 62;
    if (c == (url_safe ? '_' : '/')) return 63;
    return -1;
  });
}

std::optional<std::string> base32_decode(std::string_view text) {
  return unpack(text, 5, [](unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= '2' && c <= '7') return c - '2' + 26;
    return -1;
  });
}

std::optional<std::string> hex_decode(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    digits.push_back(c);
  }
  if (digits.size() % 2 != 0) return std::nullopt;
  return unpack(digits, 4, [](unsigned char c) {
    return std::isdigit(c) ? c - '0' : std::tolower(c) - 'a' + 10;
  });
}

std::string rot13(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>('a' + (c - 'a' + 13) % 26);
    if (c >= 'A' && c <= 'Z') c = static_cast<char>('A' + (c - 'A' + 13) % 26);
  }
  return out;
}

std::optional<std::string> inflate(std::string_view data) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 32) != Z_OK) return std::nullopt;  // +32: zlib or gzip header
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::string out;
  std::array<char, 16384> chunk;
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk.data());
    stream.avail_out = chunk.size();
    status = ::inflate(&stream, Z_NO_FLUSH);
    out.append(chunk.data(), chunk.size() - stream.avail_out);
    if (out.size() > kMaxDecodedPayload) status = Z_MEM_ERROR;
  }
  inflateEnd(&stream);
  if (status != Z_STREAM_END) return std::nullopt;
  return out;
}

}  // namespace warden::python
