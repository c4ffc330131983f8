// The on-disk format of the audit log (docs/audit-format.md): segment files
// of CRC-framed records, each record a canonical JSON object.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace warden::audit {

constexpr char kSegmentMagic[8] = {'W', 'A', 'R', 'D', 'E', 'N', 'A', 'L'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::size_t kFrameHeaderSize = 8;          // u32 length, u32 crc32c
constexpr std::uint32_t kMaxRecordSize = 16u << 20;  // larger lengths are corruption
constexpr const char* kCheckpointFile = "checkpoint";

// Record kinds.
namespace kind {
constexpr const char* kAssessment = "assessment";
constexpr const char* kDecision = "decision";
constexpr const char* kConfirmation = "confirmation";
constexpr const char* kOverride = "override";
constexpr const char* kRunStart = "run_start";
constexpr const char* kRunResult = "run_result";
constexpr const char* kResourceViolation = "resource_violation";
constexpr const char* kPolicyLoad = "policy_load";
constexpr const char* kPolicyReload = "policy_reload";
constexpr const char* kPolicyFailure = "policy_failure";
constexpr const char* kSystemStart = "system_start";
constexpr const char* kSystemStop = "system_stop";
constexpr const char* kRecovery = "recovery";
constexpr const char* kKeyRotation = "key_rotation";
constexpr const char* kRetention = "retention";
constexpr const char* kAlert = "alert";                 // an alert raised (issue #18)
constexpr const char* kAlertFailure = "alert_failure";  // an alert a sink never took
constexpr const char* kDependencies = "dependencies";   // a request's packages installed or reused
constexpr const char* kEgress = "egress";               // one decision of the egress proxy
constexpr const char* kQuarantine =
    "quarantine";  // first record of a log that replaced a damaged one
}  // namespace kind

std::uint32_t crc32c(std::string_view data);
void put_u16(std::string& out, std::uint16_t v);
void put_u32(std::string& out, std::uint32_t v);
void put_u64(std::string& out, std::uint64_t v);
std::uint32_t get_u32(const char* p);
std::uint64_t get_u64(const char* p);
std::uint16_t get_u16(const char* p);

// "seg-00000001.wal"
std::string segment_name(std::uint64_t seq);

// Header of a segment file, crc32c-protected.
std::string encode_segment_header(std::uint64_t seq, std::uint64_t first_index,
                                  const std::string& origin);

// The checkpoint body (C2SP tlog-checkpoint): origin, size, base64 root.
std::string checkpoint_text(const std::string& origin, std::uint64_t size,
                            const std::string& root_base64);

}  // namespace warden::audit
