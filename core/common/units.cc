#include "common/units.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace warden {
namespace {

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

// Splits "12.5MiB" into 12.5 and "mib"; fails on anything else.
bool split_number(std::string_view text, double& number, std::string& suffix) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || !std::isfinite(number) || number < 0) return false;
  std::string_view rest(end, text.data() + text.size() - end);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  suffix = lower(rest);
  return true;
}

std::optional<std::uint64_t> scaled(double number, double factor) {
  double value = number * factor;
  if (value > static_cast<double>(std::numeric_limits<std::uint64_t>::max() / 2))
    return std::nullopt;
  return static_cast<std::uint64_t>(std::llround(value));
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
  double number = 0;
  std::string suffix;
  if (!split_number(text, number, suffix)) return std::nullopt;
  if (suffix.empty() || suffix == "b") return scaled(number, 1);
  static constexpr struct {
    char letter;
    double factor;
  } kUnits[] = {{'k', 1024.0},
                {'m', 1024.0 * 1024},
                {'g', 1024.0 * 1024 * 1024},
                {'t', 1024.0 * 1024 * 1024 * 1024}};
  for (auto unit : kUnits) {
    if (suffix[0] != unit.letter) continue;
    std::string_view tail = std::string_view(suffix).substr(1);
    if (tail.empty() || tail == "b" || tail == "ib") return scaled(number, unit.factor);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_duration_ms(std::string_view text) {
  double number = 0;
  std::string suffix;
  if (!split_number(text, number, suffix)) return std::nullopt;
  if (suffix == "ms") return scaled(number, 1);
  if (suffix.empty() || suffix == "s") return scaled(number, 1000);
  if (suffix == "m" || suffix == "min") return scaled(number, 60'000);
  if (suffix == "h") return scaled(number, 3'600'000);
  return std::nullopt;
}

std::string format_size(std::uint64_t bytes) {
  static constexpr const char* kNames[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buffer[32];
  if (unit == 0 || value == std::floor(value))
    std::snprintf(buffer, sizeof buffer, "%.0f %s", value, kNames[unit]);
  else
    std::snprintf(buffer, sizeof buffer, "%.1f %s", value, kNames[unit]);
  return buffer;
}

}  // namespace warden
