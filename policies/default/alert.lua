-- alert(event) -> false | { severity, message, sinks }
-- Called for each critical event the host sees (docs/policies.md, "alert"):
-- event.kind is "blocked", "override", "resource_violation", "audit_damage"
-- or "policy_failure". Return false (or nil) for no alert, or a table:
-- severity (a syslog severity, "warning" when left out), message (the host
-- words one when left out) and sinks (a list of "syslog", "webhook"; every
-- enabled sink when left out).
--
-- The default alerts on every kind, more severe the more it says about the
-- log's or the policy's own soundness.

SEVERITY = {
  blocked = "warning",
  override = "notice",
  resource_violation = "warning",
  policy_failure = "error",
  audit_damage = "critical",
}

function alert(event)
  local severity = SEVERITY[event.kind]
  if not severity then return false end
  local who = (event.user or "") ~= "" and (" by " .. event.user) or ""
  return {
    severity = severity,
    message = string.format("warden %s%s: %s", event.kind:gsub("_", " "), who, event.reason or ""),
  }
end
