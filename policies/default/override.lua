-- may_override(decision, request) -> { allowed = bool, reason = text }
-- A BLOCKED decision may be overridden by anyone who gives an explanation; the
-- run is then untrusted and the override is in the audit log.

function may_override(decision, request)
  if not request.override or (request.override.explanation or "") == "" then
    return { allowed = false, reason = "an override needs an explanation" }
  end
  return { allowed = true, reason = "overrides with an explanation are allowed by the default policy" }
end
