// Human-friendly sizes and durations, as written in warden.yaml and returned
// by policies: "256MiB", "1G", "4096" (bytes); "500ms", "10s", "2m", "1h".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace warden {

// Bytes from "123", "64k"/"64KiB"/"64KB" (all binary: 1024), "M", "G", "T".
// Returns nullopt when the text is not a size or overflows.
std::optional<std::uint64_t> parse_size(std::string_view text);

// Milliseconds from "250ms", "10s", "2m", "1h", or a bare number of seconds
// ("1.5"). Returns nullopt when the text is not a duration.
std::optional<std::uint64_t> parse_duration_ms(std::string_view text);

// "256 MiB", "1.5 GiB", "512 B".
std::string format_size(std::uint64_t bytes);

}  // namespace warden
