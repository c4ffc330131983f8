#include "pipeline/audit_records.h"

#include "common/text.h"

namespace warden::pipeline::records {
namespace {

nlohmann::json findings_summary(const std::vector<Finding>& findings) {
  nlohmann::json by_severity = nlohmann::json::object();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& f : findings) {
    by_severity[to_string(f.severity)] = by_severity.value(to_string(f.severity), 0) + 1;
    list.push_back({{"assessor", f.assessor},
                    {"rule_id", f.rule_id},
                    {"severity", to_string(f.severity)},
                    {"line", f.line},
                    {"category", f.category}});
  }
  return {{"count", findings.size()}, {"by_severity", by_severity}, {"findings", list}};
}

// An alert's records belong to the request whose event raised it, if any.
nlohmann::json with_request_id(nlohmann::json data, const nlohmann::json& event) {
  if (event.contains("request_id")) data["request_id"] = event["request_id"];
  return data;
}

// Each file's path, size and SHA-256: the host's hash of the bytes, computed
// here for input files and taken from RunFile::sha256 (set by the host) for
// the files a run handed back.
nlohmann::json file_hashes(const std::vector<RunFile>& files, bool compute) {
  nlohmann::json list = nlohmann::json::array();
  for (const RunFile& f : files)
    list.push_back({{"path", f.path},
                    {"size", f.content.size()},
                    {"sha256", compute ? sha256_hex(f.content) : f.sha256}});
  return list;
}

}  // namespace

nlohmann::json assessment(const Assessment& a, const policy::Classification& c,
                          const ExecutionRequest& request, bool include_code) {
  nlohmann::json data = {{"file", request.file_name},
                         {"code_sha256", a.code_sha256},
                         {"level", to_string(c.level)},
                         {"score", c.score},
                         {"reasons", c.reasons},
                         {"summary", findings_summary(a.findings)},
                         {"metrics", a.metrics},
                         {"assessors", a.assessors_json()},
                         {"user", request.user},
                         {"user_verified", request.user_verified},
                         {"metadata", request.metadata},
                         {"args", request.args},
                         {"stdin_sha256", sha256_hex(request.stdin_data)},
                         {"stdin_bytes", request.stdin_data.size()},
                         {"input_files", file_hashes(request.files, true)}};
  if (include_code) data["code"] = request.code;
  return data;
}

nlohmann::json confirmation(const Decision& d, const ExecutionRequest& request) {
  return {{"user", request.user}, {"level", "HIGH"}, {"score", d.classification.score}};
}

nlohmann::json override_asked(const Decision& d, const ExecutionRequest& request) {
  return {{"user", request.user},
          {"explanation", request.override_explanation},
          {"allowed", d.override_verdict->allowed},
          {"reason", d.override_verdict->reason},
          {"score", d.classification.score}};
}

nlohmann::json decision(const Decision& d, const ExecutionRequest& request,
                        const std::string& policy_sha256) {
  const policy::Classification& c = d.classification;
  if (d.outcome != Outcome::kRan)
    return {{"outcome", to_string(d.outcome)},
            {"level", to_string(c.level)},
            {"score", c.score},
            {"reasons", c.reasons},
            {"reason", d.reason},
            {"user", request.user},
            {"policy_sha256", policy_sha256}};
  return {{"outcome", "run"},
          {"level", to_string(c.level)},
          {"score", c.score},
          {"trust", to_string(d.trust_level)},
          {"backend", d.backend},
          {"limits", d.plan},
          {"network", to_string(d.network)},
          {"reasons", c.reasons},
          {"clamped", d.limits->clamped},
          {"override_used", d.override_used},
          {"user", request.user},
          {"policy_sha256", policy_sha256}};
}

nlohmann::json run_start(const Decision& d) {
  return {{"backend", d.backend},
          {"limits", d.plan},
          {"network", to_string(d.network)},
          {"trust", to_string(d.trust_level)}};
}

nlohmann::json dependencies(const Decision& d, const deps::InstallPlan& plan,
                            const deps::InstallResult* installed, const std::string& refused) {
  nlohmann::json data = {{"declared", deps::to_json(plan.requirements)},
                         {"indexes", plan.indexes},
                         {"hosts", plan.hosts},
                         {"allowed", plan.packages},
                         {"backend", d.backend},
                         {"trust", to_string(d.trust_level)}};
  if (installed) {
    nlohmann::json set = installed->to_json();
    set.erase("egress");  // each is an `egress` record of its own
    data["outcome"] = installed->cached ? "cached" : "installed";
    data.update(set);
  } else {
    data["outcome"] = "refused";
    data["reason"] = refused;
  }
  return data;
}

nlohmann::json egress(const egress::EgressDecision& decision) {
  nlohmann::json data = deps::to_json(decision);
  data["phase"] = "install";
  return data;
}

nlohmann::json run_result(const std::string& backend, const RunResult& run) {
  nlohmann::json data = run;
  data["backend"] = backend;
  data["files"] = file_hashes(run.files, false);
  data["stdout_bytes"] = run.stdout_data.size();
  data["stderr_bytes"] = run.stderr_data.size();
  return data;
}

nlohmann::json run_not_finished(const std::string& backend, bool cancelled,
                                const std::string& reason) {
  return {{"backend", backend}, {cancelled ? "cancelled" : "refused", true}, {"reason", reason}};
}

nlohmann::json violations(const Decision& d, const RunResult& run) {
  std::vector<std::string> reached = limits_reached(run);
  if (reached.empty()) return nullptr;
  return {{"violations", reached},
          {"backend", d.backend},
          {"limits", d.plan},
          {"peak_memory_bytes", run.peak_memory_bytes},
          {"cpu_time_ms", run.cpu_time_ms},
          {"wall_time_ms", run.wall_time_ms}};
}

nlohmann::json cancelled(const Decision& d) {
  return {{"violations", {"cancelled"}}, {"backend", d.backend}, {"limits", d.plan}};
}

nlohmann::json alert(const nlohmann::json& event, const std::string& severity,
                     const std::string& message, const std::vector<std::string>& sinks,
                     const char* decided_by) {
  return with_request_id({{"event", event},
                          {"severity", severity},
                          {"message", message},
                          {"sinks", sinks},
                          {"decided_by", decided_by}},
                         event);
}

nlohmann::json alert_failure(const nlohmann::json& event, const std::string& alert_id,
                             const std::string& sink, std::uint64_t attempts,
                             const std::string& error) {
  return with_request_id({{"alert_id", alert_id},
                          {"kind", event.value("kind", "")},
                          {"sink", sink},
                          {"attempts", attempts},
                          {"error", error}},
                         event);
}

}  // namespace warden::pipeline::records
