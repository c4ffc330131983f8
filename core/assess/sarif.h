// SARIF 2.1.0 for `warden assess --sarif`: one run per assessor, its rules,
// results with 1-based regions, and a failed assessor as an unsuccessful
// invocation with a notification.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "assess/assessment.h"

namespace warden {

// `files`: assessments in the Assessment::to_json() shape.
nlohmann::json to_sarif(const std::vector<nlohmann::json>& files);

}  // namespace warden
