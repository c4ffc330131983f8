// Summaries of audit records: what `warden audit report`, `warden report` and
// Host::get_audit_report() print, as Mai's report intended.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "audit/audit_reader.h"

namespace warden::audit {

// Over the records of the last `hours` hours (all when 0): counts by kind and
// by level, blocked attempts, confirmations, overrides (with who and why) and
// resource violations.
nlohmann::json summarize(const std::vector<StoredRecord>& records, int hours);

}  // namespace warden::audit
