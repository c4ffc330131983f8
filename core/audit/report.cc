#include "audit/report.h"

#include "audit/log_format.h"
#include "common/text.h"

namespace warden::audit {

nlohmann::json summarize(const std::vector<StoredRecord>& records, int hours) {
  std::string since = hours > 0 ? utc_timestamp(hours) : "";
  nlohmann::json by_kind = nlohmann::json::object(), by_level = nlohmann::json::object();
  nlohmann::json overrides = nlohmann::json::array(), violations = nlohmann::json::array();
  int blocked = 0, needs_confirmation = 0, refused = 0, confirmations = 0, runs = 0, total = 0;
  for (const auto& r : records) {
    if (!since.empty() && r.time < since) continue;
    ++total;
    by_kind[r.kind] = by_kind.value(r.kind, 0) + 1;
    if (r.kind == kind::kAssessment && r.data.contains("level")) {
      std::string level = r.data["level"].get<std::string>();
      by_level[level] = by_level.value(level, 0) + 1;
    }
    if (r.kind == kind::kDecision) {
      std::string outcome = r.data.value("outcome", "");
      if (outcome == "blocked") ++blocked;
      if (outcome == "needs_confirmation") ++needs_confirmation;
      if (outcome == "refused") ++refused;
    }
    if (r.kind == kind::kConfirmation) ++confirmations;
    if (r.kind == kind::kRunResult) ++runs;
    if (r.kind == kind::kOverride)
      overrides.push_back({{"time", r.time},
                           {"request_id", r.data.value("request_id", "")},
                           {"user", r.data.value("user", "")},
                           {"explanation", r.data.value("explanation", "")},
                           {"allowed", r.data.value("allowed", false)}});
    if (r.kind == kind::kResourceViolation)
      violations.push_back({{"time", r.time},
                            {"request_id", r.data.value("request_id", "")},
                            {"violations", r.data.value("violations", nlohmann::json::array())}});
  }
  return {{"time_range_hours", hours},   {"since", since},
          {"total_records", total},      {"by_kind", by_kind},
          {"by_level", by_level},        {"runs", runs},
          {"blocked_attempts", blocked}, {"awaiting_confirmation", needs_confirmation},
          {"refused", refused},          {"confirmations", confirmations},
          {"overrides", overrides},      {"resource_violations", violations}};
}

}  // namespace warden::audit
