// The critical events that may raise an alert (docs/policies.md, "alert"),
// each shape made in one place: what the policy's alert(event) receives and
// the `alert` record keeps. Every event has `kind`, `time`, `user`, `level`
// and `reason`; one of a request adds its `request_id` and `score`. Pure
// functions of their arguments: safe from any thread, they do not throw.
#pragma once

#include <warden/host.h>

#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/decision.h"
#include "policy/policy_engine.h"

namespace warden::pipeline::alert_events {

// Who asked, for the events of one request.
struct RequestContext {
  const ExecutionRequest& request;
  const std::string& request_id;
};

// "blocked": a BLOCKED decision that was not overridden (`override_asked`
// says whether an override was asked and refused).
nlohmann::json blocked(const Decision& d, const RequestContext& r);
// "override": a BLOCKED decision overridden; the run goes on, untrusted.
nlohmann::json override_used(const Decision& d, const RequestContext& r);
// "resource_violation": the limits a run reached (`violations`, the data of
// its resource_violation record).
nlohmann::json resource_violation(const Decision& d, const nlohmann::json& violations,
                                  const RequestContext& r);
// "policy_failure" of one of a request's policy calls.
nlohmann::json policy_failure(const Decision& d, const policy::PolicyStop& stop,
                              const RequestContext& r);
// "policy_failure" outside a request: a reload that did not load, or the
// policy's alert() itself (the details of its policy_failure record).
nlohmann::json policy_failure(const nlohmann::json& details);
// "audit_damage": what the host found wrong with the audit log, and where
// ("open", "status" or "write").
nlohmann::json audit_damage(const std::string& where, const std::string& reason);

}  // namespace warden::pipeline::alert_events
