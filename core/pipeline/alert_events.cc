#include "pipeline/alert_events.h"

#include "common/text.h"

namespace warden::pipeline::alert_events {
namespace {

nlohmann::json event(const char* kind, const std::string& user, const std::string& level,
                     const std::string& reason) {
  return {{"kind", kind},
          {"time", utc_timestamp()},
          {"user", user},
          {"level", level},
          {"reason", reason}};
}

nlohmann::json of_request(const char* kind, const Decision& d, const RequestContext& r,
                          const std::string& reason) {
  nlohmann::json e = event(kind, r.request.user, to_string(d.classification.level), reason);
  e["request_id"] = r.request_id;
  e["score"] = d.classification.score;
  return e;
}

}  // namespace

nlohmann::json blocked(const Decision& d, const RequestContext& r) {
  nlohmann::json e = of_request("blocked", d, r, d.reason);
  e["override_asked"] = d.override_verdict.has_value();
  return e;
}

nlohmann::json override_used(const Decision& d, const RequestContext& r) {
  nlohmann::json e = of_request("override", d, r,
                                "a BLOCKED decision overridden: " + r.request.override_explanation);
  e["explanation"] = r.request.override_explanation;
  return e;
}

nlohmann::json resource_violation(const Decision& d, const nlohmann::json& violations,
                                  const RequestContext& r) {
  std::string reached;
  for (const auto& v : violations["violations"])
    reached += (reached.empty() ? "" : ", ") + v.get<std::string>();
  nlohmann::json e =
      of_request("resource_violation", d, r, "the run reached its limits: " + reached);
  e["violations"] = violations["violations"];
  e["backend"] = d.backend;
  return e;
}

nlohmann::json policy_failure(const Decision& d, const policy::PolicyStop& stop,
                              const RequestContext& r) {
  nlohmann::json e = of_request("policy_failure", d, r, stop.describe());
  e["function"] = stop.function;
  return e;
}

nlohmann::json policy_failure(const nlohmann::json& details) {
  nlohmann::json e = event("policy_failure", "", "", details.value("error", ""));
  e["function"] = details.value("function", "");  // empty: a reload that did not load
  if (details.contains("directory")) e["directory"] = details["directory"];
  return e;
}

nlohmann::json audit_damage(const std::string& where, const std::string& reason) {
  nlohmann::json e = event("audit_damage", "", "", reason);
  e["where"] = where;
  return e;
}

}  // namespace warden::pipeline::alert_events
