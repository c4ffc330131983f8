// The data of every audit record the request pipeline writes, each shape
// made in one place (docs/audit-format.md, "Record data"). The host adds the
// request id.
#pragma once

#include <warden/types.h>

#include <nlohmann/json.hpp>
#include <string>

#include "assess/assessment.h"
#include "pipeline/decision.h"

namespace warden::pipeline::records {

// `assessment`: the same shape from assess_and_execute and assess_code_only
// (which adds "assess_only": true). The code itself only with include_code.
nlohmann::json assessment(const Assessment& assessment, const policy::Classification& c,
                          const ExecutionRequest& request, bool include_code);
// `confirmation`: a HIGH request the user confirmed.
nlohmann::json confirmation(const Decision& d, const ExecutionRequest& request);
// `override`: a BLOCKED request that asked for an override, and the verdict.
nlohmann::json override_asked(const Decision& d, const ExecutionRequest& request);
// `decision`: the outcome; for a run, the plan (trust, backend, limits, network).
nlohmann::json decision(const Decision& d, const ExecutionRequest& request,
                        const std::string& policy_sha256);
// `run_start`.
nlohmann::json run_start(const Decision& d);
// `run_result`: what the backend reported (outputs by size only).
nlohmann::json run_result(const std::string& backend, const RunResult& run);
// `run_result` of a run that did not finish: refused by the backend, or
// cancelled part way.
nlohmann::json run_not_finished(const std::string& backend, bool cancelled,
                                const std::string& reason);
// `resource_violation`: the limits a run reached; null when it reached none.
nlohmann::json violations(const Decision& d, const RunResult& run);
// `resource_violation` of a run cancelled part way (warden was asked to stop).
nlohmann::json cancelled(const Decision& d);

}  // namespace warden::pipeline::records
