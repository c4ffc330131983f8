#include "pipeline/decision.h"

#include "pipeline/request_check.h"
#include "policy/system_info.h"

namespace warden::pipeline {

nlohmann::json system_input(const std::vector<std::string>& loaded_backends,
                            const std::string& default_backend,
                            const std::optional<std::string>& requested_backend) {
  nlohmann::json system = policy::system_snapshot();
  system["loaded_backends"] = loaded_backends;
  system["default_backend"] = default_backend;
  system["requested_backend"] =
      requested_backend ? nlohmann::json(*requested_backend) : nlohmann::json(nullptr);
  return system;
}

Decision decide(policy::PolicySession& policy, const DecisionInputs& inputs) {
  const ExecutionRequest& request = inputs.request;
  Decision d;
  d.classification = policy.classify();
  const policy::Classification& c = d.classification;
  auto stop = [&d](Outcome outcome, std::string reason) {
    d.outcome = outcome;
    d.reason = std::move(reason);
    return d;
  };

  // The gate.
  if (c.denied()) return stop(Outcome::kBlocked, c.stop->describe());  // not overridable
  if (c.level == RiskLevel::kHigh) {
    if (!request.confirmed)
      return stop(
          Outcome::kNeedsConfirmation,
          "judged HIGH risk: it runs only when the user confirms (--confirm, confirm=True)");
    d.confirmed_high = true;
  }
  if (c.level == RiskLevel::kBlocked) {
    if (!request.override_blocked)
      return stop(Outcome::kBlocked,
                  "Code blocked by security assessment" +
                      std::string(c.reasons.empty() ? "" : ": " + c.reasons.front()));
    d.override_verdict = policy.may_override(c);
    if (!d.override_verdict->allowed)
      return stop(Outcome::kBlocked,
                  "override refused by the policy: " + d.override_verdict->reason);
    d.override_used = true;
  }

  // Trust: an overridden BLOCKED run is untrusted, whatever trust() would say.
  if (!d.override_used) {
    d.trust = policy.trust(c);
    if (d.trust->denied()) return stop(Outcome::kRefused, d.trust->stop->describe());
    d.trust_level = d.trust->trust;
  }

  // The plan.
  d.system = inputs.system();
  d.limits = policy.limits(d.trust_level, d.system, inputs.backends);
  const policy::LimitsDecision& limits = *d.limits;
  if (limits.stop)
    return stop(Outcome::kRefused,
                limits.stop->denied()
                    ? limits.stop->describe()
                    : "the policy could not decide limits, failing closed: " + limits.stop->reason);
  d.plan = limits.limits;
  if (!d.override_used && !request.limits.empty())
    d.plan = apply_requested_limits(d.plan, request.limits, inputs.ceilings);
  d.backend = limits.backend;
  d.network = limits.network;
  if (c.level != RiskLevel::kLow) d.warnings = c.reasons;
  for (const auto& note : limits.clamped) d.warnings.push_back(note);

  // What it may install.
  if (!inputs.dependencies.empty()) {
    d.dependencies = policy.dependencies(deps::to_json(inputs.dependencies), d.trust_level,
                                         inputs.configured_dependencies);
    const policy::DependenciesDecision& allowed = *d.dependencies;
    if (!allowed.defined)
      return stop(Outcome::kRefused,
                  "the program declares packages and the policy does not define dependencies(): "
                  "nothing is installed (docs/dependencies.md)");
    if (allowed.stop)
      return stop(Outcome::kRefused, allowed.stop->denied()
                                         ? allowed.stop->describe()
                                         : "the policy could not decide what may be installed, "
                                           "failing closed: " +
                                               allowed.stop->reason);
    for (const deps::Requirement& r : inputs.dependencies)
      if (!allowed.packages.contains(r.normalized))
        return stop(Outcome::kRefused, "the program declares " + r.text() +
                                           ", which is not among the packages the policy allows");
  }
  d.outcome = Outcome::kRan;
  return d;
}

}  // namespace warden::pipeline
