#include "audit/retention.h"

#include <warden/error.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <ctime>

namespace warden::audit {
namespace {

constexpr std::string_view kRetentionLine = "retention ";
constexpr std::string_view kFrontierLine = "frontier ";

std::string base64_of(const Hash& h) {
  return to_base64(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

Hash hash_from_base64(std::string_view text, const std::string& what) {
  std::string raw;
  if (!from_base64(text, raw) || raw.size() != 32)
    throw Error(ErrorKind::kRefused, "retention anchor: " + what + " is not a base64 SHA-256 hash");
  Hash h;
  std::copy(raw.begin(), raw.end(), h.begin());
  return h;
}

Hash hash_from_hex(std::string_view text, const std::string& what) {
  Hash h;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (text.size() != 64)
    throw Error(ErrorKind::kRefused, "retention anchor: " + what + " is not 64 hex digits");
  for (std::size_t i = 0; i < 32; ++i) {
    int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      throw Error(ErrorKind::kRefused, "retention anchor: " + what + " is not lower-case hex");
    h[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return h;
}

std::uint64_t decimal(std::string_view text, const std::string& what) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != text.npos ||
      (text.size() > 1 && text[0] == '0'))
    throw Error(ErrorKind::kRefused, "retention anchor: " + what + " is not a canonical number");
  return std::stoull(std::string(text));
}

}  // namespace

std::string retention_anchor_text(const RetentionAnchor& a) {
  std::string text = a.origin + "\n" + std::to_string(a.size) + "\n" + base64_of(a.root) + "\n";
  text += std::string(kRetentionLine) + std::to_string(a.first_segment) + " " +
          to_hex(a.last_leaf) + "\n";
  for (const Hash& h : a.frontier) text += std::string(kFrontierLine) + base64_of(h) + "\n";
  return text;
}

RetentionAnchor parse_retention_anchor(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::size_t p = 0; p < text.size();) {
    std::size_t nl = text.find('\n', p);
    if (nl == text.npos)
      throw Error(ErrorKind::kRefused, "retention anchor: the last line has no newline");
    lines.push_back(text.substr(p, nl - p));
    p = nl + 1;
  }
  if (lines.size() < 5)
    throw Error(ErrorKind::kRefused, "retention anchor: " + std::to_string(lines.size()) +
                                         " lines where at least 5 are needed");
  RetentionAnchor a;
  a.origin = lines[0];
  a.size = decimal(lines[1], "line 2 (tree size)");
  a.root = hash_from_base64(lines[2], "line 3 (root)");
  std::string_view retention = lines[3];
  if (!retention.starts_with(kRetentionLine))
    throw Error(ErrorKind::kRefused, "retention anchor: line 4 does not start with 'retention '");
  retention.remove_prefix(kRetentionLine.size());
  std::size_t space = retention.find(' ');
  if (space == retention.npos)
    throw Error(ErrorKind::kRefused,
                "retention anchor: line 4 needs '<first segment> <hex last leaf>'");
  a.first_segment = decimal(retention.substr(0, space), "line 4 (first kept segment)");
  a.last_leaf = hash_from_hex(retention.substr(space + 1), "line 4 (last leaf)");
  if (a.size == 0 || a.first_segment < 2)
    throw Error(ErrorKind::kRefused,
                "retention anchor: a cut must delete at least one segment and one record");
  if (lines.size() - 4 != static_cast<std::size_t>(std::popcount(a.size)))
    throw Error(ErrorKind::kRefused, "retention anchor: a tree of " + std::to_string(a.size) +
                                         " records has " + std::to_string(std::popcount(a.size)) +
                                         " frontier lines, not " +
                                         std::to_string(lines.size() - 4));
  for (std::size_t i = 4; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    std::string what = "line " + std::to_string(i + 1) + " (frontier)";
    if (!line.starts_with(kFrontierLine))
      throw Error(ErrorKind::kRefused, "retention anchor: " + what + " does not start 'frontier '");
    a.frontier.push_back(hash_from_base64(line.substr(kFrontierLine.size()), what));
  }
  if (CompactTree::from_frontier(a.size, a.frontier).root() != a.root)
    throw Error(ErrorKind::kRefused, "retention anchor: the frontier does not hash to the root");
  // With an odd size the last frontier subtree is the last leaf itself.
  if ((a.size & 1) && a.frontier.back() != a.last_leaf)
    throw Error(ErrorKind::kRefused, "retention anchor: the last leaf does not match the frontier");
  return a;
}

std::string note_text_unverified(std::string_view note) {
  std::size_t blank = note.find("\n\n");
  return std::string(note.substr(0, blank == note.npos ? note.size() : blank + 1));
}

std::uint64_t first_kept_segment(const std::vector<SegmentSummary>& segments,
                                 const RetentionRule& rule, const std::string& cutoff_time) {
  if (segments.empty()) return 0;
  std::size_t cut = 0;  // segments [0, cut) go; the last one (being written) always stays
  std::size_t deletable = segments.size() - 1;
  if (rule.before_segment)
    while (cut < deletable && segments[cut].seq < *rule.before_segment) ++cut;
  if (rule.max_age_ms) {
    std::size_t old = 0;
    while (old < deletable && segments[old].newest_time < cutoff_time) ++old;
    cut = std::max(cut, old);
  }
  if (rule.max_bytes) {
    std::uint64_t total = 0;
    for (const auto& s : segments) total += s.bytes;
    std::size_t big = 0;
    while (big < deletable && total > *rule.max_bytes) total -= segments[big++].bytes;
    cut = std::max(cut, big);
  }
  return segments[cut].seq;
}

std::string utc_timestamp_at(std::chrono::system_clock::time_point t) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", date, static_cast<int>(ms));
  return out;
}

}  // namespace warden::audit
