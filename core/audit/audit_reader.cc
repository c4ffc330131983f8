#include "audit/audit_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <warden/error.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <regex>
#include <sstream>

#include "audit/folder_lock.h"
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

// A segment mapped read-only: no copy, and no page zeroing as a fresh buffer
// of its size would need.
class MappedSegment {
 public:
  explicit MappedSegment(const fs::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ,
                       MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (p != MAP_FAILED) {
        data_ = static_cast<const char*>(p);
        size_ = static_cast<std::size_t>(st.st_size);
        ::madvise(p, size_, MADV_SEQUENTIAL);
      }
    }
    ::close(fd);
  }
  ~MappedSegment() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
  }
  MappedSegment(const MappedSegment&) = delete;
  MappedSegment& operator=(const MappedSegment&) = delete;
  std::string_view bytes() const { return {data_ ? data_ : "", size_}; }

 private:
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

constexpr std::array<signed char, 256> kHexDigit = [] {
  std::array<signed char, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<signed char>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<signed char>(c - 'a' + 10);
  return t;
}();

// Lower-case hex only: the form the writer emits.
bool hex_to_hash(std::string_view hex, Hash& out) {
  if (hex.size() != 64) return false;
  int bad = 0;
  for (std::size_t i = 0; i < 32; ++i) {
    int hi = kHexDigit[static_cast<unsigned char>(hex[2 * i])];
    int lo = kHexDigit[static_cast<unsigned char>(hex[2 * i + 1])];
    bad |= hi | lo;
    out[i] = static_cast<unsigned char>((hi & 0xF) << 4 | (lo & 0xF));
  }
  return bad >= 0;
}

// A string value the writer emits without escapes (no quote, backslash,
// control or non-ASCII byte), so it can be taken from the bytes as it is.
bool plain(std::string_view s) {
  for (unsigned char c : s)
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return false;
  return true;
}

struct RecordFields {
  std::string_view data, id, kind, prev, time;
  std::uint64_t index = 0;
};

// Reads the metadata from the fixed tail that the canonical form gives every
// record — {"data":…,"id":"…","index":N,"kind":"…","prev":"<64 hex>","time":"<24>"}
// — without parsing the data. Returns false for anything else (escaped
// strings included), which then takes the full parser.
bool read_fields_fast(std::string_view p, RecordFields& f) {
  constexpr std::string_view kOpen = "{\"data\":", kId = ",\"id\":\"",
                             kIndex = ",\"index\":", kKind = ",\"kind\":\"", kPrev = ",\"prev\":\"",
                             kTime = ",\"time\":\"";
  constexpr std::size_t kTimeLen = 24;
  if (p.size() < kOpen.size() + 150 || !p.starts_with(kOpen) || !p.ends_with("\"}")) return false;
  std::size_t time_at = p.size() - 2 - kTimeLen - kTime.size();
  if (p.substr(time_at, kTime.size()) != kTime) return false;
  f.time = p.substr(time_at + kTime.size(), kTimeLen);
  if (f.time.find_first_not_of("0123456789-:.TZ") != std::string_view::npos) return false;
  std::size_t prev_at = time_at - 1 - 64 - kPrev.size();
  if (p[time_at - 1] != '"' || p.substr(prev_at, kPrev.size()) != kPrev) return false;
  f.prev = p.substr(prev_at + kPrev.size(), 64);
  if (p[prev_at - 1] != '"') return false;
  std::size_t kind_at = p.rfind(kKind, prev_at - 1);
  if (kind_at == std::string_view::npos || kind_at + kKind.size() > prev_at - 1) return false;
  f.kind = p.substr(kind_at + kKind.size(), prev_at - 1 - kind_at - kKind.size());
  std::size_t digits = kind_at;
  while (digits > 0 && p[digits - 1] >= '0' && p[digits - 1] <= '9') --digits;
  std::size_t n = kind_at - digits;
  if (n == 0 || n > 19 || (n > 1 && p[digits] == '0') || digits < kIndex.size() ||
      p.substr(digits - kIndex.size(), kIndex.size()) != kIndex)
    return false;
  f.index = 0;
  for (std::size_t i = digits; i < kind_at; ++i) f.index = f.index * 10 + (p[i] - '0');
  std::size_t id_end = digits - kIndex.size();
  if (id_end == 0 || p[id_end - 1] != '"') return false;
  std::size_t id_at = p.rfind(kId, id_end - 1);
  if (id_at == std::string_view::npos || id_at < kOpen.size() + 1 ||
      id_at + kId.size() > id_end - 1)
    return false;
  f.id = p.substr(id_at + kId.size(), id_end - 1 - id_at - kId.size());
  f.data = p.substr(kOpen.size(), id_at - kOpen.size());
  return plain(f.kind) && plain(f.id);
}

const Hash kZeroHash{};

}  // namespace

ReadRecord read_record(std::string_view payload, std::uint64_t canonical_from, bool with_data) {
  ReadRecord out;
  StoredRecord& r = out.record;
  Hash prev{};
  bool prev_ok = false;
  try {
    RecordFields f;
    if (read_fields_fast(payload, f) && f.index < canonical_from) {
      r.index = f.index;
      r.id = f.id;
      r.time = f.time;
      r.kind = f.kind;
      if (with_data) r.data = nlohmann::json::parse(f.data);
      prev_ok = hex_to_hash(f.prev, prev);
    } else {
      auto j = nlohmann::json::parse(payload);
      r.index = j.at("index").get<std::uint64_t>();
      r.id = j.at("id").get<std::string>();
      r.time = j.at("time").get<std::string>();
      r.kind = j.at("kind").get<std::string>();
      r.data = j.at("data");
      prev_ok = hex_to_hash(j.at("prev").get<std::string>(), prev);
      if (j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) != payload)
        out.error = "record is not in canonical form";
    }
  } catch (const std::exception& e) {
    out.error = std::string("record is not a valid log record: ") + e.what();
  }
  if (prev_ok) out.prev = prev;
  return out;
}

Scan scan_log(const fs::path& dir, const std::string& origin, const ScanOptions& options) {
  Scan scan;
  FolderLock lock = FolderLock::for_reader(dir);
  std::optional<FolderLock::Held> held;
  if (options.locking == Locking::kTake) held.emplace(lock, FolderLock::Range::kAppend, false);
  auto segments = segments_in(dir);
  std::uint64_t expected_seq = 1;
  Hash prev_leaf = kZeroHash;
  std::optional<Hash> prev_prev_leaf;  // the leaf before prev_leaf, when known
  auto position = [&] { return scan.tree.size(); };

  if (auto note = read_whole_file(dir / kRetentionFile)) {
    scan.anchor_note = *note;
    try {
      scan.anchor = parse_retention_anchor(note_text_unverified(*note));
    } catch (const Error& e) {
      scan.problem = ScanProblem{0, kRetentionFile, 0, e.what(), false};
      return scan;
    }
    expected_seq = scan.anchor->first_segment;
    prev_leaf = scan.anchor->last_leaf;
    scan.tree.base = scan.anchor->size;
    scan.tree.frontier = scan.anchor->frontier;
    auto kept = std::find_if(segments.begin(), segments.end(),
                             [&](const auto& s) { return s.first >= expected_seq; });
    for (auto it = segments.begin(); it != kept; ++it) scan.stale_segments.push_back(it->second);
    segments.erase(segments.begin(), kept);
    if (segments.empty() || segments.front().first != expected_seq) {
      scan.problem = ScanProblem{position(), segment_name(expected_seq), 0,
                                 "segment " + std::to_string(expected_seq) +
                                     ", the first kept after the retention cut, is missing",
                                 false};
      return scan;
    }
  }

  for (std::size_t s = 0; s < segments.size(); ++s) {
    const auto& [seq, path] = segments[s];
    std::string name = path.filename();
    MappedSegment mapped(path);
    std::string_view bytes = mapped.bytes();
    scan.last_segment = name;
    scan.last_segment_seq = seq;
    auto problem = [&](std::uint64_t offset, const std::string& reason, bool torn = false) {
      scan.problem = ScanProblem{position(), name, offset, reason, torn};
      return scan;
    };
    std::string header = encode_segment_header(seq, position(), origin);
    if (seq != expected_seq)
      return problem(0, "segment " + std::to_string(seq) + " where " +
                            std::to_string(expected_seq) +
                            " was expected: a segment is missing or was swapped");
    if (bytes.size() < header.size() || bytes.compare(0, header.size(), header) != 0) {
      std::string why = "segment header does not match";
      if (bytes.size() >= 28 && get_u64(bytes.data() + 20) != position())
        why = "segment starts at record " + std::to_string(get_u64(bytes.data() + 20)) + " but " +
              std::to_string(position()) +
              " records precede it: segments missing, swapped or reordered";
      else if (bytes.size() < header.size() && s + 1 == segments.size() &&
               header.compare(0, bytes.size(), bytes) == 0)
        return problem(0, "incomplete segment header (crash residue)", true);
      return problem(0, why);
    }
    ++expected_seq;
    scan.segments.push_back({seq, name, position(), header.size()});
    std::uint64_t offset = header.size();
    scan.last_good_offset = offset;
    bool last_segment = s + 1 == segments.size();
    while (offset < bytes.size()) {
      if (bytes.size() - offset < kFrameHeaderSize)
        return problem(offset, "incomplete record header at the end of the segment", last_segment);
      std::uint32_t length = get_u32(bytes.data() + offset);
      std::uint32_t crc = get_u32(bytes.data() + offset + 4);
      if (length == 0 || length > kMaxRecordSize)
        return problem(offset, "impossible record length " + std::to_string(length));
      if (bytes.size() - offset - kFrameHeaderSize < length)
        return problem(offset, "incomplete record at the end of the segment (truncated)",
                       last_segment);
      std::string_view payload(bytes.data() + offset + kFrameHeaderSize, length);
      if (crc32c(payload) != crc)
        return problem(offset, "record checksum mismatch (bytes changed)");
      ReadRecord read = read_record(payload, options.canonical_from, options.with_data);
      if (!read.error.empty()) return problem(offset, read.error);
      StoredRecord& r = read.record;
      r.segment = name;
      r.offset = offset;
      bool prev_ok = read.prev.has_value();
      Hash prev = read.prev.value_or(Hash{});
      std::uint64_t at = position();
      if (!prev_ok || prev != prev_leaf || r.index != at) {
        // Tell an inserted record (this one links past its predecessor), a
        // missing or reordered one (wrong index), and a changed one (the link
        // to it no longer matches its hash) apart, and name that record.
        bool links_past_previous = prev_ok && prev_prev_leaf && prev == *prev_prev_leaf;
        if (links_past_previous && r.index == at - 1 && !scan.records.empty()) {
          scan.problem =
              ScanProblem{at - 1, scan.records.back().segment, scan.records.back().offset,
                          "record at position " + std::to_string(at - 1) +
                              " was inserted: its successor links past it",
                          false};
          return scan;
        }
        if (r.index != at)
          return problem(offset, "record with index " + std::to_string(r.index) +
                                     " found at position " + std::to_string(at) +
                                     ": records deleted, inserted or reordered");
        if (scan.records.empty())
          return problem(offset, scan.anchor ? "the first kept record does not link to the "
                                               "retention anchor's last leaf"
                                             : "the first record does not start the hash chain");
        scan.problem = ScanProblem{at - 1, scan.records.back().segment, scan.records.back().offset,
                                   "record " + std::to_string(at - 1) +
                                       " was changed after it was written (its hash no longer "
                                       "matches the link stored in record " +
                                       std::to_string(at) + ")",
                                   false};
        return scan;
      }
      Hash leaf = leaf_hash(payload);
      prev_prev_leaf = prev_leaf;
      prev_leaf = leaf;
      scan.tree.leaves.push_back(leaf);
      scan.records.push_back(std::move(r));
      offset += kFrameHeaderSize + length;
      scan.last_good_offset = offset;
      scan.segments.back().bytes = offset;
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
                      {"deleted_by_retention", deleted},
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
                        const std::optional<std::string>& trusted_checkpoint, Locking locking) {
  VerifyReport report;
  // A folder that does not exist or holds no segment is never "intact": a typo
  // in --dir or a wiped log must not pass as a log with nothing to hide.
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    report.reason = "no audit log at " + dir.string() +
                    ": the folder does not exist (check --dir or audit.directory)";
    return report;
  }
  // Held from the checkpoint's read to the end of the scan: no writer is half
  // way through a record, and no retention or quarantine moves files meanwhile.
  FolderLock lock = FolderLock::for_reader(dir);
  std::optional<FolderLock::Held> held;
  if (locking == Locking::kTake) held.emplace(lock, FolderLock::Range::kAppend, false);
  auto segments = segments_in(dir);
  if (segments.empty()) {
    report.reason = "no audit log in " + dir.string() +
                    ": the folder has no segment (seg-NNNNNNNN.wal); a log that was ever opened "
                    "has one, so it was wiped or this is the wrong folder";
    return report;
  }
  for (const auto& [seq, path] : segments) report.bytes += fs::file_size(path, ec);
  auto bad = [&](std::uint64_t index, const std::string& segment, std::uint64_t offset,
                 const std::string& why) {
    report.intact = false;
    report.bad_index = index;
    report.segment = segment;
    report.offset = offset;
    report.reason = why;
    return report;
  };

  // The checkpoint's size, read before its signature is checked (below), only
  // says which records need the full canonical-form check.
  fs::path checkpoint_path = dir / kCheckpointFile;
  std::optional<std::string> checkpoint_note = read_whole_file(checkpoint_path);
  ScanOptions options{.with_data = false, .canonical_from = 0, .locking = Locking::kHeldByCaller};
  if (checkpoint_note) {
    std::istringstream body(note_text_unverified(*checkpoint_note));
    std::string line;
    if (std::getline(body, line) && std::getline(body, line) && !line.empty() && line.size() < 20 &&
        line.find_first_not_of("0123456789") == std::string::npos)
      options.canonical_from = std::stoull(line);
  }
  Scan scan = scan_log(dir, origin, options);
  report.records = scan.size();
  report.deleted = scan.tree.base;

  // The retention anchor is where the scan started: its signature first.
  if (!scan.anchor_note.empty()) {
    try {
      verify_note(scan.anchor_note, verifier_key);
    } catch (const Error& e) {
      return bad(
          scan.tree.base, kRetentionFile, 0,
          std::string("retention anchor: ") + e.what() + "; the cut it describes is unproven");
    }
    if (scan.anchor && scan.anchor->origin != origin) {
      report.reason =
          "retention anchor belongs to log '" + scan.anchor->origin + "', not '" + origin + "'";
      return report;
    }
  }
  if (scan.problem)
    return bad(scan.problem->position, scan.problem->segment, scan.problem->offset,
               scan.problem->reason);

  Checkpoint checkpoint;
  if (checkpoint_note) {
    try {
      checkpoint = read_checkpoint(*checkpoint_note, verifier_key);
    } catch (const Error& e) {
      report.reason = e.what();
      return report;
    }
    if (checkpoint.origin != origin) {
      report.reason = "checkpoint belongs to log '" + checkpoint.origin + "', not '" + origin + "'";
      return report;
    }
  }
  // The anchor is a signed checkpoint of the cut too; a checkpoint file older
  // than it is what a crash in the middle of a retention leaves.
  if (scan.anchor && (!checkpoint_note || checkpoint.size < scan.anchor->size))
    checkpoint = Checkpoint{scan.anchor->origin, scan.anchor->size, scan.anchor->root};
  else if (!checkpoint_note) {
    // A log opened but never written to (a crash before its first record) has
    // nothing to sign yet; it is checked against a trusted checkpoint below.
    if (!scan.records.empty()) {
      report.reason = "no signed checkpoint: nothing proves these records were not rewritten";
      return report;
    }
    checkpoint = Checkpoint{origin, 0, tree_root(scan.tree, 0)};
  }
  report.checkpoint_size = checkpoint.size;
  auto record_at = [&](std::uint64_t index) -> const StoredRecord* {
    if (index < scan.tree.base || index - scan.tree.base >= scan.records.size()) return nullptr;
    return &scan.records[index - scan.tree.base];
  };
  if (scan.size() < checkpoint.size)
    return bad(scan.size(), scan.last_segment, scan.last_good_offset,
               "log truncated: the signed checkpoint covers " + std::to_string(checkpoint.size) +
                   " records but only " + std::to_string(scan.size()) + " remain");
  if (tree_root(scan.tree, checkpoint.size) != checkpoint.root) {
    std::uint64_t last = checkpoint.size - 1;
    const StoredRecord* r = record_at(last);
    return bad(
        last, r ? r->segment : "", r ? r->offset : 0,
        "the records do not match the signed checkpoint: the log was rewritten or its last covered "
        "record changed");
  }
  report.uncovered = scan.size() - checkpoint.size;
  if (trusted_checkpoint) {
    Checkpoint trusted;
    try {
      trusted = read_checkpoint(*trusted_checkpoint, verifier_key);
    } catch (const Error& e) {
      report.reason = std::string("trusted ") + e.what();
      return report;
    }
    if (trusted.size > scan.size())
      return bad(scan.size(), scan.last_segment, scan.last_good_offset,
                 "rolled back: the trusted checkpoint covers " + std::to_string(trusted.size) +
                     " records but the log has " + std::to_string(scan.size()));
    Hash root;
    try {
      root = tree_root(scan.tree, trusted.size);
    } catch (const Error&) {
      report.reason = "the trusted checkpoint covers " + std::to_string(trusted.size) +
                      " records, fewer than the " + std::to_string(scan.tree.base) +
                      " deleted under the retention anchor, so the log cannot be checked against "
                      "it: keep a checkpoint exported after the retention";
      return report;
    }
    if (root != trusted.root) {
      std::uint64_t last = trusted.size == 0 ? 0 : trusted.size - 1;
      const StoredRecord* r = record_at(last);
      return bad(
          last, r ? r->segment : "", r ? r->offset : 0,
          "the log is not an extension of the trusted checkpoint (rewritten or forked history)");
    }
  }
  report.intact = true;
  return report;
}

}  // namespace warden::audit
