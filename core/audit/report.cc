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

nlohmann::json history(const std::vector<StoredRecord>& records, int limit) {
  auto newest = [&](const char* record_kind) {
    nlohmann::json out = nlohmann::json::array();
    for (auto it = records.rbegin();
         it != records.rend() && out.size() < static_cast<std::size_t>(limit); ++it)
      if (it->kind == record_kind)
        out.push_back(
            {{"index", it->index}, {"id", it->id}, {"time", it->time}, {"data", it->data}});
    return out;
  };
  return {{"summary", summarize(records, 0)},
          {"recent_executions", newest(kind::kRunResult)},
          {"recent_decisions", newest(kind::kDecision)},
          {"security_assessments", newest(kind::kAssessment)},
          {"resource_violations", newest(kind::kResourceViolation)},
          {"limit", limit}};
}

nlohmann::json report(const std::filesystem::path& dir, const std::string& origin,
                      const std::string& verifier_key, int hours) {
  auto scan = scan_log(dir, origin);
  VerifyReport integrity = verify_log(dir, origin, verifier_key, std::nullopt);
  return {{"report_period_hours", hours},
          {"summary", summarize(scan.records, hours)},
          {"integrity_check", integrity.to_json()},
          {"report_generated_at", utc_timestamp()}};
}

}  // namespace warden::audit
