#include "pipeline/explain.h"

#include <sstream>

namespace warden::pipeline {
namespace {

nlohmann::json notes_json(const policy::Notes& notes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [topic, text] : notes) out.push_back({{"topic", topic}, {"text", text}});
  return out;
}

// null, or how a call stopped: {denied, function, reason}.
nlohmann::json stop_json(const std::optional<policy::PolicyStop>& stop) {
  if (!stop) return nullptr;
  return {{"denied", stop->denied()}, {"function", stop->function}, {"reason", stop->reason}};
}

// The steps after classify(), as far as the decision reached.
nlohmann::json steps_json(const Decision& d) {
  nlohmann::json out = {{"outcome", to_string(d.outcome)}, {"reason", d.reason}};
  if (d.override_verdict)
    out["may_override"] = {{"allowed", d.override_verdict->allowed},
                           {"reason", d.override_verdict->reason},
                           {"stop", stop_json(d.override_verdict->stop)},
                           {"notes", notes_json(d.override_verdict->notes)}};
  if (d.trust)
    out["trust"] = {{"trust", to_string(d.trust->trust)},
                    {"stop", stop_json(d.trust->stop)},
                    {"notes", notes_json(d.trust->notes)}};
  else if (d.override_used)
    out["trust"] = {
        {"trust", to_string(d.trust_level)},
        {"stop", nullptr},
        {"forced", "an overridden BLOCKED run is always untrusted; trust() is not asked"},
        {"notes", nlohmann::json::array()}};
  if (d.limits) {
    if (d.limits->stop)
      out["limits"] = {{"stop", stop_json(d.limits->stop)}, {"notes", notes_json(d.limits->notes)}};
    else
      out["limits"] = {{"backend", d.limits->backend},
                       {"limits", d.plan},
                       {"network", to_string(d.limits->network)},
                       {"clamped", d.limits->clamped},
                       {"notes", notes_json(d.limits->notes)}};
  }
  if (d.dependencies) {
    const policy::DependenciesDecision& deps = *d.dependencies;
    if (!deps.defined)
      out["dependencies"] = {{"defined", false}};
    else if (deps.stop)
      out["dependencies"] = {{"stop", stop_json(deps.stop)}, {"notes", notes_json(deps.notes)}};
    else
      out["dependencies"] = {{"indexes", deps.indexes},
                             {"hosts", deps.hosts},
                             {"packages", deps.packages},
                             {"notes", notes_json(deps.notes)}};
  }
  return out;
}

void render_notes(std::ostringstream& s, const nlohmann::json& list) {
  for (const auto& n : list)
    s << "    because (" << n["topic"].get<std::string>() << "): " << n["text"].get<std::string>()
      << "\n";
}

void render_steps(std::ostringstream& s, const nlohmann::json& e) {
  if (e.contains("may_override")) {
    s << "override: " << (e["may_override"]["allowed"].get<bool>() ? "allowed" : "not allowed")
      << " by may_override(): " << e["may_override"]["reason"].get<std::string>() << "\n";
    render_notes(s, e["may_override"]["notes"]);
  }
  if (e.contains("trust")) {
    const auto& t = e["trust"];
    s << "trust: " << t["trust"].get<std::string>()
      << (t.contains("forced") ? " — " + t["forced"].get<std::string>() : " by trust()") << "\n";
    if (!t["stop"].is_null())
      s << "    " << (t["stop"]["denied"].get<bool>() ? "denied: " : "failed: ")
        << t["stop"]["reason"].get<std::string>() << "\n";
    render_notes(s, t["notes"]);
  }
  if (e.contains("limits")) {
    const auto& l = e["limits"];
    if (l.contains("stop")) {
      s << "limits: the policy " << (l["stop"]["denied"].get<bool>() ? "denied" : "failed") << ": "
        << l["stop"]["reason"].get<std::string>() << "\n";
    } else {
      s << "limits by limits(): backend " << l["backend"].get<std::string>() << ", network "
        << l["network"].get<std::string>() << "\n";
      for (const auto& [field, value] : l["limits"].items())
        s << "    " << field << " = " << value << "\n";
      for (const auto& clamp : l["clamped"])
        s << "    clamped: " << clamp.get<std::string>() << "\n";
    }
    render_notes(s, l["notes"]);
  }
  if (e.contains("dependencies")) {
    const auto& d = e["dependencies"];
    if (d.contains("defined")) {
      s << "dependencies: the policy does not define dependencies(): nothing installs\n";
    } else if (d.contains("stop")) {
      s << "dependencies: the policy " << (d["stop"]["denied"].get<bool>() ? "denied" : "failed")
        << ": " << d["stop"]["reason"].get<std::string>() << "\n";
    } else {
      s << "dependencies by dependencies(): from";
      for (const auto& index : d["indexes"]) s << " " << index.get<std::string>();
      s << "\n";
      for (const auto& [name, specifier] : d["packages"].items())
        s << "    " << name << " "
          << (specifier == "" ? "(any version)" : specifier.get<std::string>()) << "\n";
    }
    if (d.contains("notes")) render_notes(s, d["notes"]);
  }
  std::string outcome = e["outcome"];
  s << "decision: " << outcome
    << (e["reason"].get<std::string>().empty() ? "" : " — " + e["reason"].get<std::string>())
    << "\n";
}

}  // namespace

nlohmann::json explanation(const std::string& policy_directory, const nlohmann::json& assessment,
                           const Decision& decision, const Decision* if_allowed) {
  const policy::Classification& c = decision.classification;
  const nlohmann::json& system =
      !decision.system.is_null() || !if_allowed ? decision.system : if_allowed->system;
  nlohmann::json out = {{"policy", policy_directory},
                        {"inputs",
                         {{"findings", assessment.at("findings").size()},
                          {"assessors", assessment.at("assessors")},
                          {"metrics", assessment.at("metrics")},
                          {"system", system}}},
                        {"classify",
                         {{"level", to_string(c.level)},
                          {"score", c.score},
                          {"reasons", c.reasons},
                          {"policy_failed", c.policy_failed()},
                          {"stop", stop_json(c.stop)},
                          {"notes", notes_json(c.notes)}}}};
  out.update(steps_json(decision));
  if (if_allowed)
    out[decision.outcome == Outcome::kNeedsConfirmation ? "if_confirmed" : "if_overridden"] =
        steps_json(*if_allowed);
  return out;
}

std::string render_explanation(const nlohmann::json& e) {
  std::ostringstream s;
  s << "policy: " << e["policy"].get<std::string>() << "\n";
  const auto& system = e["inputs"]["system"];
  s << "inputs: " << e["inputs"]["findings"] << " findings, complexity "
    << e["inputs"]["metrics"].value("complexity", 0.0);
  if (system.is_object())
    s << ", " << system.value("cpus", 0) << " CPUs, "
      << system.value("free_memory_bytes", std::uint64_t{0}) / (1024 * 1024) << " MiB free";
  s << "\n";
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
  render_notes(s, c["notes"]);
  render_steps(s, e);
  for (const char* what : {"if_confirmed", "if_overridden"})
    if (e.contains(what)) {
      s << (std::string(what) == "if_confirmed" ? "if the user confirmed it:\n"
                                                : "if the request carried an override:\n");
      render_steps(s, e[what]);
    }
  return s.str();
}

}  // namespace warden::pipeline
