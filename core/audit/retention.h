// Retention: the oldest segments may be deleted once a signed retention
// anchor records what they held — the tree size and root at the cut, the
// leaf hash the first kept record links to, and the frontier of perfect
// subtree roots from which every later root is recomputed without them
// (docs/audit-format.md, "Retention").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/merkle.h"

namespace warden::audit {

constexpr const char* kRetentionFile = "retention";

struct RetentionAnchor {
  std::string origin;
  std::uint64_t size = 0;           // records deleted = global index of the first kept record
  Hash root{};                      // root of the tree of those `size` records
  std::uint64_t first_segment = 0;  // number of the first kept segment
  Hash last_leaf{};                 // leaf hash of record size - 1 (the next record's prev)
  std::vector<Hash> frontier;       // perfect subtree roots covering [0, size), largest first
};

// The anchor's note text: a C2SP tlog checkpoint of `size` records (so it is a
// checkpoint in its own right) with the retention facts as extension lines.
std::string retention_anchor_text(const RetentionAnchor& anchor);

// Parses note text (everything up to the blank line before the signatures).
// Strict: exact lines, canonical numbers and base64, and a frontier that hashes
// to the root. Throws Error(kRefused) saying which line is wrong.
RetentionAnchor parse_retention_anchor(std::string_view text);

// The text of a signed note without its signature lines, unchecked: where the
// reader must start scanning before anyone has checked the signature.
std::string note_text_unverified(std::string_view note);

// What to delete. Only whole segments before the one being written are ever
// deleted; each rule that is set selects segments, and the cut is after the
// newest segment any rule selected.
struct RetentionRule {
  std::optional<std::uint64_t> before_segment;  // segments numbered below this
  std::optional<std::uint64_t> max_age_ms;      // segments whose newest record is older
  std::optional<std::uint64_t> max_bytes;       // oldest segments until the rest fit
  bool empty() const { return !before_segment && !max_age_ms && !max_bytes; }
};

struct SegmentSummary {
  std::uint64_t seq = 0;
  std::uint64_t bytes = 0;
  std::string newest_time;  // UTC timestamp of its last record, empty if none
};

// The number of the first segment to keep (segments.front().seq when nothing
// is to be deleted). `segments` is oldest first, its last one being written;
// `cutoff_time` is now minus max_age, in the log's timestamp form.
std::uint64_t first_kept_segment(const std::vector<SegmentSummary>& segments,
                                 const RetentionRule& rule, const std::string& cutoff_time);

// A system_clock time in the log's timestamp form, "YYYY-MM-DDTHH:MM:SS.mmmZ".
std::string utc_timestamp_at(std::chrono::system_clock::time_point t);

}  // namespace warden::audit
