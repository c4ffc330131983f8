-- trust(decision, request) -> "trusted" | "standard" | "untrusted"
-- LOW code is trusted, MEDIUM standard, HIGH and BLOCKED untrusted. (An
-- overridden BLOCKED run is always untrusted: the host enforces that.)

TRUST_BY_LEVEL = { LOW = "trusted", MEDIUM = "standard", HIGH = "untrusted", BLOCKED = "untrusted" }

function trust(decision, request)
  local t = TRUST_BY_LEVEL[decision.level] or "untrusted"
  note("trust", decision.level .. " -> " .. t)
  return t
end
