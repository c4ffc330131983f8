// `warden policy explain` and `warden assess --explain` (Host::explain): the
// decision steps of one request as a dry run — nothing runs, nothing is
// recorded — with the answer of every policy call, the notes it recorded
// (note(topic, text)) and the inputs it saw.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/decision.h"

namespace warden::pipeline {

// `decision` is the request as asked. When its gate stopped it (HIGH without
// confirmation, BLOCKED without an override), `if_allowed` is the same
// request confirmed or overridden, to show what would follow.
nlohmann::json explanation(const std::string& policy_directory, const nlohmann::json& assessment,
                           const Decision& decision, const Decision* if_allowed);

// The explanation as text for a terminal.
std::string render_explanation(const nlohmann::json& explanation);

}  // namespace warden::pipeline
