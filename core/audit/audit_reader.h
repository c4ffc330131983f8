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

struct Scan {
  std::vector<StoredRecord> records;
  std::vector<Hash> leaves;
  std::optional<ScanProblem> problem;
  std::string last_segment;  // file name of the newest segment
  std::uint64_t last_segment_seq = 0;
  std::uint64_t last_good_offset = 0;  // end of the last whole frame in it
};

// Reads every segment of `dir` in order, checking headers, framing, CRCs,
// record indexes and the hash chain; stops at the first problem.
Scan scan_log(const std::filesystem::path& dir, const std::string& origin);

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
  std::uint64_t records = 0;
  std::uint64_t checkpoint_size = 0;
  std::uint64_t bytes = 0;
  std::uint64_t uncovered = 0;  // records after the latest checkpoint

  nlohmann::json to_json() const;
};

// Verifies the log in `dir` against its signed checkpoint and, when given, a
// checkpoint the verifier kept elsewhere (catches rollback to an older copy).
VerifyReport verify_log(const std::filesystem::path& dir, const std::string& origin,
                        const std::string& verifier_key,
                        const std::optional<std::string>& trusted_checkpoint);

}  // namespace warden::audit
