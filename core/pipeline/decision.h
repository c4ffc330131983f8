// The decision steps of the request pipeline, written once: classify, gate
// (confirmation of HIGH, override of BLOCKED), trust, plan the limits. The
// host runs them before executing a request; Host::explain runs the same
// steps as a dry run (docs/architecture.md).
//
// decide() never throws for a policy that fails or denies: that is the
// decision (fail closed). Not thread-safe in itself: one call per session.
#pragma once

#include <warden/types.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "deps/requirements.h"
#include "policy/policy_engine.h"

namespace warden::pipeline {

// What the policy decided for one request, step by step. A step that was not
// reached (the gate stopped the request) is left empty.
struct Decision {
  policy::Classification classification;
  Outcome outcome = Outcome::kRan;                          // kRan: it may run, with the plan below
  std::string reason;                                       // why it may not (outcome != kRan)
  bool confirmed_high = false;                              // HIGH, and the user confirmed it
  std::optional<policy::OverrideVerdict> override_verdict;  // a BLOCKED request asked
  bool override_used = false;  // BLOCKED, overridden: runs untrusted, trust() not asked
  std::optional<policy::TrustDecision> trust;
  TrustLevel trust_level = TrustLevel::kUntrusted;
  std::optional<policy::LimitsDecision> limits;
  nlohmann::json system;  // the `system` input limits() saw (null when not reached)
  // The plan, when outcome is kRan: requested limits applied within the
  // ceilings unless the run was overridden.
  std::string backend;
  Limits plan;
  NetworkMode network = NetworkMode::kNone;
  std::vector<std::string> warnings;  // the reasons of a level above LOW, and clamps
  // What the policy allowed to install, for a request that declares packages.
  std::optional<policy::DependenciesDecision> dependencies;
};

// The inputs of decide() that come from the host.
struct DecisionInputs {
  const ExecutionRequest& request;
  std::vector<std::string> backends;  // loaded sandbox backends
  const Limits& ceilings;
  // The `system` input of limits(), made only when limits() is asked.
  std::function<nlohmann::json()> system;
  // The packages the request declares (deps::declared_dependencies) and the
  // dependencies section of warden.yaml as dependencies() receives it.
  const std::vector<deps::Requirement>& dependencies;
  const nlohmann::json& configured_dependencies;
};

// Runs classify → gate → trust → limits → dependencies (when the request
// declares packages) on `policy`, each only when the step before let the
// request through.
Decision decide(policy::PolicySession& policy, const DecisionInputs& inputs);

// The `system` table limits() receives, built here only (docs/policies.md):
// the machine (policy::system_snapshot) and the backends.
nlohmann::json system_input(const std::vector<std::string>& loaded_backends,
                            const std::string& default_backend,
                            const std::optional<std::string>& requested_backend);

}  // namespace warden::pipeline
