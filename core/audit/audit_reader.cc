#include "audit/audit_reader.h"

#include <warden/error.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include "audit/log_format.h"
#include "audit/note_signer.h"
#include "common/text.h"

namespace warden::audit {
namespace fs = std::filesystem;
namespace {

std::vector<std::pair<std::uint64_t, fs::path>> segments_in(const fs::path& dir) {
  std::vector<std::pair<std::uint64_t, fs::path>> out;
  std::error_code ec;
  static const std::regex kName(R"(seg-(\d{8})\.wal)");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    std::string name = entry.path().filename();
    if (std::regex_match(name, m, kName)) out.emplace_back(std::stoull(m[1]), entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

const std::string kZeroHash(64, '0');

}  // namespace

Scan scan_log(const fs::path& dir, const std::string& origin) {
  Scan scan;
  auto segments = segments_in(dir);
  std::uint64_t expected_seq = segments.empty() ? 1 : segments.front().first;
  std::string prev_hash = kZeroHash;
  for (std::size_t s = 0; s < segments.size(); ++s) {
    const auto& [seq, path] = segments[s];
    std::string name = path.filename();
    std::string bytes = read_whole_file(path).value_or("");
    scan.last_segment = name;
    scan.last_segment_seq = seq;
    auto problem = [&](std::uint64_t offset, const std::string& reason, bool torn = false) {
      scan.problem = ScanProblem{scan.records.size(), name, offset, reason, torn};
    };
    std::string header = encode_segment_header(seq, scan.records.size(), origin);
    if (seq != expected_seq) {
      problem(0, "segment " + std::to_string(seq) + " where " + std::to_string(expected_seq) +
                     " was expected: a segment is missing or was swapped");
      return scan;
    }
    if (bytes.size() < header.size() || bytes.compare(0, header.size(), header) != 0) {
      std::string why = "segment header does not match";
      if (bytes.size() >= 28 && get_u64(bytes.data() + 20) != scan.records.size())
        why = "segment starts at record " + std::to_string(get_u64(bytes.data() + 20)) + " but " +
              std::to_string(scan.records.size()) +
              " records precede it: segments missing, swapped or reordered";
      else if (bytes.size() < header.size() && s + 1 == segments.size() &&
               header.compare(0, bytes.size(), bytes) == 0)
        return problem(0, "incomplete segment header (crash residue)", true), scan;
      problem(0, why);
      return scan;
    }
    ++expected_seq;
    std::uint64_t offset = header.size();
    scan.last_good_offset = offset;
    while (offset < bytes.size()) {
      bool last_segment = s + 1 == segments.size();
      if (bytes.size() - offset < kFrameHeaderSize) {
        problem(offset, "incomplete record header at the end of the segment", last_segment);
        return scan;
      }
      std::uint32_t length = get_u32(bytes.data() + offset);
      std::uint32_t crc = get_u32(bytes.data() + offset + 4);
      if (length == 0 || length > kMaxRecordSize) {
        problem(offset, "impossible record length " + std::to_string(length));
        return scan;
      }
      if (bytes.size() - offset - kFrameHeaderSize < length) {
        problem(offset, "incomplete record at the end of the segment (truncated)", last_segment);
        return scan;
      }
      std::string_view payload(bytes.data() + offset + kFrameHeaderSize, length);
      if (crc32c(payload) != crc) {
        problem(offset, "record checksum mismatch (bytes changed)");
        return scan;
      }
      StoredRecord r;
      r.segment = name;
      r.offset = offset;
      try {
        auto j = nlohmann::json::parse(payload);
        r.index = j.at("index").get<std::uint64_t>();
        r.id = j.at("id").get<std::string>();
        r.time = j.at("time").get<std::string>();
        r.kind = j.at("kind").get<std::string>();
        r.data = j.at("data");
        std::string prev = j.at("prev").get<std::string>();
        if (j.dump() != payload) {
          problem(offset, "record is not in canonical form");
          return scan;
        }
        std::uint64_t position = scan.records.size();
        if (prev != prev_hash || r.index != position) {
          // Tell an inserted record (this one links past its predecessor), a
          // missing or reordered one (wrong index), and a changed one (the link
          // to it no longer matches its hash) apart, and name that record.
          bool links_past_previous = position >= 2 && prev == to_hex(scan.leaves[position - 2]);
          if (links_past_previous && r.index == position - 1) {
            scan.problem =
                ScanProblem{position - 1, scan.records.back().segment, scan.records.back().offset,
                            "record at position " + std::to_string(position - 1) +
                                " was inserted: its successor links past it",
                            false};
          } else if (r.index != position) {
            problem(offset, "record with index " + std::to_string(r.index) + " found at position " +
                                std::to_string(position) +
                                ": records deleted, inserted or reordered");
          } else if (position == 0) {
            problem(offset, "the first record does not start the hash chain");
          } else {
            scan.problem =
                ScanProblem{position - 1, scan.records.back().segment, scan.records.back().offset,
                            "record " + std::to_string(position - 1) +
                                " was changed after it was written (its hash no longer matches the "
                                "link stored in record " +
                                std::to_string(position) + ")",
                            false};
          }
          return scan;
        }
      } catch (const std::exception& e) {
        problem(offset, std::string("record is not a valid log record: ") + e.what());
        return scan;
      }
      Hash leaf = leaf_hash(payload);
      prev_hash = to_hex(leaf);
      scan.leaves.push_back(leaf);
      scan.records.push_back(std::move(r));
      offset += kFrameHeaderSize + length;
      scan.last_good_offset = offset;
    }
  }
  return scan;
}

Checkpoint read_checkpoint(const std::string& note, const std::string& verifier_key) {
  std::string text = verify_note(note, verifier_key);
  std::istringstream lines(text);
  Checkpoint c;
  std::string size, root;
  if (!std::getline(lines, c.origin) || !std::getline(lines, size) || !std::getline(lines, root))
    throw Error(ErrorKind::kRefused, "checkpoint: malformed body");
  std::string raw;
  if (size.empty() || size.find_first_not_of("0123456789") != std::string::npos ||
      (size.size() > 1 && size[0] == '0') || !from_base64(root, raw) || raw.size() != 32)
    throw Error(ErrorKind::kRefused, "checkpoint: malformed size or root");
  c.size = std::stoull(size);
  std::copy(raw.begin(), raw.end(), c.root.begin());
  return c;
}

nlohmann::json VerifyReport::to_json() const {
  nlohmann::json j = {{"intact", intact},
                      {"reason", reason},
                      {"records", records},
                      {"checkpoint_size", checkpoint_size},
                      {"uncovered_records", uncovered},
                      {"bytes", bytes}};
  if (bad_index) {
    j["bad_record"] = {{"index", *bad_index}, {"segment", segment}, {"offset", offset}};
  }
  return j;
}

VerifyReport verify_log(const fs::path& dir, const std::string& origin,
                        const std::string& verifier_key,
                        const std::optional<std::string>& trusted_checkpoint) {
  VerifyReport report;
  for (const auto& [seq, path] : segments_in(dir)) report.bytes += fs::file_size(path);
  Scan scan = scan_log(dir, origin);
  report.records = scan.records.size();
  auto bad = [&](std::uint64_t index, const std::string& segment, std::uint64_t offset,
                 const std::string& why) {
    report.intact = false;
    report.bad_index = index;
    report.segment = segment;
    report.offset = offset;
    report.reason = why;
    return report;
  };
  if (scan.problem)
    return bad(scan.problem->position, scan.problem->segment, scan.problem->offset,
               scan.problem->reason);

  fs::path checkpoint_path = dir / kCheckpointFile;
  if (!fs::exists(checkpoint_path)) {
    if (scan.records.empty()) {
      report.intact = true;
      return report;
    }
    report.reason = "no signed checkpoint: nothing proves these records were not rewritten";
    return report;
  }
  Checkpoint checkpoint;
  try {
    checkpoint = read_checkpoint(read_whole_file(checkpoint_path).value_or(""), verifier_key);
  } catch (const Error& e) {
    report.reason = e.what();
    return report;
  }
  report.checkpoint_size = checkpoint.size;
  if (checkpoint.origin != origin) {
    report.reason = "checkpoint belongs to log '" + checkpoint.origin + "', not '" + origin + "'";
    return report;
  }
  if (scan.records.size() < checkpoint.size)
    return bad(scan.records.size(), scan.last_segment, scan.last_good_offset,
               "log truncated: the signed checkpoint covers " + std::to_string(checkpoint.size) +
                   " records but only " + std::to_string(scan.records.size()) + " remain");
  if (tree_root(scan.leaves, checkpoint.size) != checkpoint.root) {
    std::uint64_t last = checkpoint.size - 1;
    return bad(
        last, scan.records[last].segment, scan.records[last].offset,
        "the records do not match the signed checkpoint: the log was rewritten or its last covered "
        "record changed");
  }
  report.uncovered = scan.records.size() - checkpoint.size;
  if (trusted_checkpoint) {
    Checkpoint trusted;
    try {
      trusted = read_checkpoint(*trusted_checkpoint, verifier_key);
    } catch (const Error& e) {
      report.reason = std::string("trusted ") + e.what();
      return report;
    }
    if (trusted.size > scan.records.size())
      return bad(scan.records.size(), scan.last_segment, scan.last_good_offset,
                 "rolled back: the trusted checkpoint covers " + std::to_string(trusted.size) +
                     " records but the log has " + std::to_string(scan.records.size()));
    if (tree_root(scan.leaves, trusted.size) != trusted.root) {
      std::uint64_t last = trusted.size == 0 ? 0 : trusted.size - 1;
      return bad(
          last, scan.records.empty() ? "" : scan.records[last].segment,
          scan.records.empty() ? 0 : scan.records[last].offset,
          "the log is not an extension of the trusted checkpoint (rewritten or forked history)");
    }
  }
  report.intact = true;
  return report;
}

}  // namespace warden::audit
