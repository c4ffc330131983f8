// The data of every audit record the request pipeline and its alerts write,
// each shape made in one place (docs/audit-format.md, "Record data"). The
// host adds the request id; an alert's records carry its event's.
#pragma once

#include <warden/types.h>

#include <nlohmann/json.hpp>
#include <string>

#include "assess/assessment.h"
#include "deps/installer.h"
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
// `dependencies`: the packages a request declares, what the policy allowed,
// and the installed set (`installed` or `cached`), or why it was refused.
nlohmann::json dependencies(const Decision& d, const deps::InstallPlan& plan,
                            const deps::InstallResult* installed, const std::string& refused);
// `egress`: one decision of the egress proxy during a request's install phase.
nlohmann::json egress(const egress::EgressDecision& decision);
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
// `alert`: an alert raised for a critical event (the event as the policy's
// alert() saw it), how severe, what it says, the sinks it goes to, and
// whether the policy or the default decided ("policy" | "default").
nlohmann::json alert(const nlohmann::json& event, const std::string& severity,
                     const std::string& message, const std::vector<std::string>& sinks,
                     const char* decided_by);
// `alert_failure`: an alert (its `alert` record's id) that a sink did not
// take after `attempts` tries, and the last error.
nlohmann::json alert_failure(const nlohmann::json& event, const std::string& alert_id,
                             const std::string& sink, std::uint64_t attempts,
                             const std::string& error);

}  // namespace warden::pipeline::records
