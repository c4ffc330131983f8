// Small conversions the core needs in several places: hex, SHA-256, UTC
// timestamps, whole-file reads.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace warden {

// Lower-case hex of the bytes.
std::string to_hex(std::string_view bytes);

// Standard base64 (RFC 4648, padded), and back: from_base64 accepts only the
// canonical encoding and returns false for anything else.
std::string to_base64(std::string_view bytes);
bool from_base64(std::string_view text, std::string& out);

// Hex SHA-256 of the bytes.
std::string sha256_hex(std::string_view data);

// Now (minus `hours_ago`), UTC, "YYYY-MM-DDTHH:MM:SS.mmmZ": the audit log's
// timestamps, which compare correctly as strings.
std::string utc_timestamp(int hours_ago = 0);

// `bytes` as valid UTF-8, each invalid sequence replaced by U+FFFD (the same
// replacement as print_json's). Sets `replaced` to whether any byte was.
std::string valid_utf8(std::string_view bytes, bool& replaced);

// 16 random lower-case hex digits (64 bits of a per-thread generator): record
// and request ids, names of temporary files.
std::string random_hex_id();

// The whole file, or nullopt when it cannot be read.
std::optional<std::string> read_whole_file(const std::filesystem::path& path);

}  // namespace warden
