// Setting a damaged audit log aside without destroying the evidence, and
// starting a new one (`warden audit quarantine`, docs/audit-format.md).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "audit/audit_reader.h"
#include "config/config.h"

namespace warden::audit {

struct QuarantinedFile {
  std::string name;
  std::uint64_t bytes = 0;
  std::string sha256;  // hex
};

struct QuarantineResult {
  std::filesystem::path moved_to;  // <audit folder>/quarantine/<UTC time>
  std::vector<QuarantinedFile> files;
  VerifyReport report;   // what verify said of the log before it was moved
  AppendReceipt record;  // the new log's `quarantine` record
};

// Under the folder's exclusive locks (no writer appends, no reader reads half
// of it), verifies the log in config.directory; refuses an intact log with
// Error(kRefused) unless `force`; moves its segments, checkpoint and retention
// anchor into quarantine/<UTC time>/ beside QUARANTINE.json (why, when, the
// verify report, each file's size and SHA-256). Then opens the new log and
// appends a `quarantine` record naming all of it, so the new history starts
// by pointing at the old one. Writers still running move to the new log at
// their next batch. Throws Error(kEnvironment) when a file cannot be moved
// (those already moved stay in the quarantine folder, named in the message).
QuarantineResult quarantine(const AuditConfig& config, const std::string& reason, bool force);

}  // namespace warden::audit
