// Decoders for payloads hidden in constants: what base64, binascii, codecs,
// bytes.fromhex and zlib/gzip would turn a constant into at run time, so that
// `exec(base64.b64decode("..."))` is analysed as the code it runs
// (docs/heuristics.md). Each follows the lenient reading of its Python
// counterpart closely enough for payloads; bytes it cannot decode give
// nullopt, never an exception. Pure and thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace warden::python {

// The most a decoder produces: a bigger payload (a zip bomb) is not decoded.
inline constexpr std::size_t kMaxDecodedPayload = 1 << 20;

// base64.b64decode (characters outside the alphabet are skipped, as
// validate=False does); `url_safe` reads '-' and '_' for '+' and '/'.
std::optional<std::string> base64_decode(std::string_view text, bool url_safe);
// base64.b32decode.
std::optional<std::string> base32_decode(std::string_view text);
// bytes.fromhex / binascii.unhexlify / base64.b16decode (whitespace skipped).
std::optional<std::string> hex_decode(std::string_view text);
// codecs.decode(text, "rot13").
std::string rot13(std::string_view text);
// zlib.decompress and gzip.decompress (the header tells which).
std::optional<std::string> inflate(std::string_view data);

}  // namespace warden::python
