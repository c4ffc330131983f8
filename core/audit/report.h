// Summaries of audit records: what `warden audit report`, `warden report` and
// Host::get_audit_report() print, as Mai's report intended.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "audit/audit_reader.h"

namespace warden::audit {

// Over the records of the last `hours` hours (all when 0): counts by kind and
// by level, blocked attempts, confirmations, overrides (with who and why) and
// resource violations.
nlohmann::json summarize(const std::vector<StoredRecord>& records, int hours);

// The newest `limit` run results, decisions, assessments and resource
// violations, with the summary of all records: `warden history` and
// Host::get_execution_history(). Reads the files only; appends nothing.
nlohmann::json history(const std::vector<StoredRecord>& records, int limit);

// The summary of the last `hours` hours with the log's integrity, checked with
// the public verifier key: `warden report` and Host::get_audit_report(). Reads
// the files only; appends nothing.
nlohmann::json report(const std::filesystem::path& dir, const std::string& origin,
                      const std::string& verifier_key, int hours);

}  // namespace warden::audit
