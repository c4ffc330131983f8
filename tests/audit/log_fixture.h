// Shared by the audit tests: a log in a temporary folder, and the frame
// layout for damaging it by hand.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "audit/audit_reader.h"
#include "audit/log_format.h"
#include "audit/merkle.h"

namespace warden::audit::test_support {
namespace fs = std::filesystem;

inline std::string hex_to_bytes(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

inline AuditConfig config_in(const fs::path& dir, const std::string& durability = "every-record") {
  AuditConfig c;
  c.directory = dir / "audit";
  c.signing_key = dir / "keys/audit.key";
  c.public_key = dir / "keys/audit.key.pub";
  c.durability = durability;
  c.group_commit_delay_ms = 1;
  c.checkpoint_interval_ms = 60'000;
  return c;
}

// A closed log of `n` records (a final checkpoint covers all of them).
inline void write_log(const AuditConfig& c, int n, int from = 0) {
  auto log = AuditLog::open(c);
  for (int i = from; i < from + n; ++i)
    log->append(i % 2 ? kind::kDecision : kind::kAssessment,
                {{"request_id", "r" + std::to_string(i)},
                 {"level", "LOW"},
                 {"metadata", {{"user", "mai"}}}});
  log->close();
}

inline VerifyReport verify(const AuditConfig& c,
                           std::optional<std::string> trusted = std::nullopt) {
  return verify_log(c.directory, c.origin, read_verifier_key(c.public_key), trusted);
}

inline fs::path segment(const AuditConfig& c, int seq = 1) {
  return c.directory / segment_name(seq);
}

struct Frame {
  std::size_t offset;
  std::string payload;
};

inline std::vector<Frame> frames_of(const std::string& bytes, std::size_t header_size) {
  std::vector<Frame> frames;
  std::size_t offset = header_size;
  while (offset + 8 <= bytes.size()) {
    std::uint32_t len = get_u32(bytes.data() + offset);
    frames.push_back({offset, bytes.substr(offset + 8, len)});
    offset += 8 + len;
  }
  return frames;
}

inline std::string frame(const std::string& payload) {
  std::string f;
  put_u32(f, static_cast<std::uint32_t>(payload.size()));
  put_u32(f, crc32c(payload));
  return f + payload;
}

inline std::size_t header_size(const AuditConfig& c) {
  return encode_segment_header(1, 0, c.origin).size();
}

}  // namespace warden::audit::test_support
