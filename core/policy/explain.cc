#include "policy/explain.h"

#include <sstream>

namespace warden::policy {
namespace {

nlohmann::json notes_json(const Notes& notes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [topic, text] : notes) out.push_back({{"topic", topic}, {"text", text}});
  return out;
}

// null, or how a call stopped: {denied, function, reason}.
nlohmann::json stop_json(const std::optional<PolicyStop>& stop) {
  if (!stop) return nullptr;
  return {{"denied", stop->denied()}, {"function", stop->function}, {"reason", stop->reason}};
}

}  // namespace

nlohmann::json explain(PolicyEngine& engine, const nlohmann::json& assessment,
                       const nlohmann::json& request, const nlohmann::json& system,
                       const std::vector<std::string>& backends) {
  nlohmann::json inputs = {{"findings", assessment.at("findings").size()},
                           {"assessors", assessment.at("assessors")},
                           {"metrics", assessment.at("metrics")},
                           {"system", system}};
  PolicySession policy = engine.session(assessment, request);
  Classification c = policy.classify();
  nlohmann::json out = {{"policy", engine.directory().string()},
                        {"inputs", inputs},
                        {"classify",
                         {{"level", to_string(c.level)},
                          {"score", c.score},
                          {"reasons", c.reasons},
                          {"policy_failed", c.policy_failed()},
                          {"stop", stop_json(c.stop)},
                          {"notes", notes_json(c.notes)}}}};
  TrustDecision t = policy.trust(c);
  out["trust"] = {
      {"trust", to_string(t.trust)}, {"stop", stop_json(t.stop)}, {"notes", notes_json(t.notes)}};
  LimitsDecision l = policy.limits(t.trust, system, backends);
  if (l.stop) {
    out["limits"] = {{"stop", stop_json(l.stop)}, {"notes", notes_json(l.notes)}};
  } else {
    out["limits"] = {{"backend", l.backend},
                     {"limits", l.limits},
                     {"network", to_string(l.network)},
                     {"clamped", l.clamped},
                     {"notes", notes_json(l.notes)}};
  }
  if (c.level == RiskLevel::kBlocked && !c.denied()) {
    nlohmann::json overridden = request;
    if (overridden.value("override", nlohmann::json()).is_null())
      overridden["override"] = {{"explanation", "(asked by warden policy explain)"},
                                {"user", request.value("user", "")}};
    OverrideVerdict v = engine.may_override(c, overridden);
    out["may_override"] = {{"allowed", v.allowed},
                           {"reason", v.reason},
                           {"stop", stop_json(v.stop)},
                           {"notes", notes_json(v.notes)}};
  }
  return out;
}

std::string render_explanation(const nlohmann::json& e) {
  std::ostringstream s;
  auto notes = [&](const nlohmann::json& list) {
    for (const auto& n : list)
      s << "    because (" << n["topic"].get<std::string>() << "): " << n["text"].get<std::string>()
        << "\n";
  };
  s << "policy: " << e["policy"].get<std::string>() << "\n";
  s << "inputs: " << e["inputs"]["findings"] << " findings, complexity "
    << e["inputs"]["metrics"].value("complexity", 0.0) << ", "
    << e["inputs"]["system"].value("cpus", 0) << " CPUs, "
    << e["inputs"]["system"].value("free_memory_bytes", std::uint64_t{0}) / (1024 * 1024)
    << " MiB free\n";
  for (const auto& a : e["inputs"]["assessors"])
    s << "  assessor " << a["name"].get<std::string>() << ": " << a["status"].get<std::string>()
      << "\n";
  const auto& c = e["classify"];
  s << "level: " << c["level"].get<std::string>() << " (score " << c["score"] << ") by classify()"
    << (c["policy_failed"].get<bool>() ? " — the policy failed, failing closed"
        : !c["stop"].is_null()         ? " — denied by the policy"
                                       : "")
    << "\n";
  for (const auto& r : c["reasons"]) s << "    reason: " << r.get<std::string>() << "\n";
  notes(c["notes"]);
  s << "trust: " << e["trust"]["trust"].get<std::string>() << " by trust()\n";
  const auto& trust_stop = e["trust"]["stop"];
  if (!trust_stop.is_null())
    s << "    "
      << (trust_stop["denied"].get<bool>() ? "denied, the run would be refused: " : "failed: ")
      << trust_stop["reason"].get<std::string>() << "\n";
  notes(e["trust"]["notes"]);
  const auto& l = e["limits"];
  if (l.contains("stop")) {
    s << "limits: the policy " << (l["stop"]["denied"].get<bool>() ? "denied" : "failed")
      << ", the run would be refused: " << l["stop"]["reason"].get<std::string>() << "\n";
    notes(l["notes"]);
  } else {
    s << "limits by limits(): backend " << l["backend"].get<std::string>() << ", network "
      << l["network"].get<std::string>() << "\n";
    for (const auto& [field, value] : l["limits"].items())
      s << "    " << field << " = " << value << "\n";
    for (const auto& clamp : l["clamped"]) s << "    clamped: " << clamp.get<std::string>() << "\n";
    notes(l["notes"]);
  }
  if (e.contains("may_override")) {
    s << "override: " << (e["may_override"]["allowed"].get<bool>() ? "allowed" : "not allowed")
      << " by may_override(): " << e["may_override"]["reason"].get<std::string>() << "\n";
    notes(e["may_override"]["notes"]);
  }
  return s.str();
}

}  // namespace warden::policy
