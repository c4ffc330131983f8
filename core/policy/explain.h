// `warden policy explain` and `warden assess --explain`: which policy rule
// decided the level, the trust and each limit, and from which inputs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/policy_engine.h"

namespace warden::policy {

// Runs the four policy functions on one assessment and collects their
// answers with the notes each recorded (note(topic, text)) and the inputs
// they saw. Never throws for a failing policy: the failure is the answer.
nlohmann::json explain(PolicyEngine& engine, const nlohmann::json& assessment,
                       const nlohmann::json& request, const nlohmann::json& system,
                       const std::vector<std::string>& backends);

// The explanation as text for a terminal.
std::string render_explanation(const nlohmann::json& explanation);

}  // namespace warden::policy
