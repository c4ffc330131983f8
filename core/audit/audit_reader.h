// Reading and verifying the audit log from its files alone: no private key,
// only the public verifier key. Used by `warden audit verify/show/report/prove`
// and by the writer when it opens a log.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "audit/merkle.h"
#include "audit/retention.h"

namespace warden::audit {

struct StoredRecord {
  std::uint64_t index = 0;
  std::string id;
  std::string time;  // UTC, RFC 3339
  std::string kind;
  nlohmann::json data;
  std::string segment;       // file name
  std::uint64_t offset = 0;  // of the frame in the segment
};

// Where scanning stopped early, and why.
struct ScanProblem {
  std::uint64_t position = 0;  // records read before the problem = index of the bad record
  std::string segment;
  std::uint64_t offset = 0;
  std::string reason;
  bool torn_tail = false;  // an incomplete last frame, as a crash leaves it
};

// A segment that was read, in order.
struct ScannedSegment {
  std::uint64_t seq = 0;
  std::string name;
  std::uint64_t first_index = 0;
  std::uint64_t bytes = 0;  // up to the end of its last whole record
};

struct Scan {
  std::vector<StoredRecord> records;  // the records present (after any retention cut)
  PrunedLeaves tree;                  // their leaves, and the frontier of the deleted ones
  // The retention anchor the scan started from, parsed but its signature NOT
  // checked (verify_log and the writer check it), and the note it came from.
  std::optional<RetentionAnchor> anchor;
  std::string anchor_note;
  // Segments older than the anchor's cut that an interrupted retention left.
  std::vector<std::filesystem::path> stale_segments;
  std::vector<ScannedSegment> segments;
  std::optional<ScanProblem> problem;
  std::string last_segment;  // file name of the newest segment
  std::uint64_t last_segment_seq = 0;
  std::uint64_t last_good_offset = 0;  // end of the last whole frame in it

  // Records ever written up to the first problem, deleted ones included.
  std::uint64_t size() const { return tree.size(); }
};

// Whether a reader takes the folder's shared lock (folder_lock.h) or its
// caller holds the folder's lock already.
enum class Locking { kTake, kHeldByCaller };

struct ScanOptions {
  // Parse each record's data (show, report); verification needs only the
  // metadata.
  bool with_data = true;
  // Records from this index on are re-serialised to prove they are canonical.
  // Records a signed checkpoint covers are exactly what the writer wrote, so
  // verify_log starts this at the checkpoint's size.
  std::uint64_t canonical_from = 0;
  Locking locking = Locking::kTake;
};

// One record's payload read: its metadata, its data when `with_data`, and the
// leaf hash it links to. Payloads whose index is below `canonical_from` have
// their metadata read from the canonical form's fixed tail; the others are
// parsed whole and must re-serialise to the same bytes.
struct ReadRecord {
  StoredRecord record;       // segment and offset are left to the caller
  std::optional<Hash> prev;  // empty when the link is not 64 lower-case hex digits
  std::string error;         // why it is not a valid record; empty when it is
};
ReadRecord read_record(std::string_view payload, std::uint64_t canonical_from, bool with_data);

// Reads every segment of `dir` in order — from the retention anchor's cut when
// there is one — checking headers, framing, CRCs, record indexes and the hash
// chain; stops at the first problem.
Scan scan_log(const std::filesystem::path& dir, const std::string& origin,
              const ScanOptions& options = {});

struct Checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  Hash root{};
};

// Parses a signed checkpoint after checking its signature. Throws Error(kRefused).
Checkpoint read_checkpoint(const std::string& note, const std::string& verifier_key);

struct VerifyReport {
  bool intact = false;
  std::string reason;                      // why not, when not intact
  std::optional<std::uint64_t> bad_index;  // the first bad record
  std::string segment;
  std::uint64_t offset = 0;
  std::uint64_t records = 0;  // ever written, deleted ones included
  std::uint64_t deleted = 0;  // removed under the signed retention anchor
  std::uint64_t checkpoint_size = 0;
  std::uint64_t bytes = 0;
  std::uint64_t uncovered = 0;  // records after the latest checkpoint

  nlohmann::json to_json() const;
};

// Verifies the log in `dir` against its signed checkpoint and, when given, a
// checkpoint the verifier kept elsewhere (catches rollback to an older copy).
VerifyReport verify_log(const std::filesystem::path& dir, const std::string& origin,
                        const std::string& verifier_key,
                        const std::optional<std::string>& trusted_checkpoint,
                        Locking locking = Locking::kTake);

}  // namespace warden::audit
