-- Block imports of `requests` unless the requester is trusted: a network
-- client in code from anyone else is denied with the line it comes from,
-- before any other rule. The rest is the default policy's scoring, in short.
-- A requester is trusted only by an established name (request.user_verified:
-- the service's peer credentials, the CLI's own uid), never by a typed --as.

local imports = require("lib.imports")

TRUSTED_USERS = { alice = true, bob = true }
GUARDED_PACKAGES = { "requests" }
THRESHOLDS = { MEDIUM = 4, HIGH = 7, BLOCKED = 10 }
WEIGHTS = { info = 0, low = 1, medium = 2, high = 3, critical = 5 }
LEVELS = { "LOW", "MEDIUM", "HIGH", "BLOCKED" }
local MiB = 1024 * 1024

local function is_trusted(request)
  return request.user_verified == true and TRUSTED_USERS[request.user or ""] == true
end

function classify(assessment, request)
  if not is_trusted(request) then
    for _, package in ipairs(GUARDED_PACKAGES) do
      local found = imports.of_package(assessment, package)
      if #found > 0 then
        local calls = imports.calls_into(assessment, package)
        local used = #calls > 0 and string.format(", calls %s at line %d", calls[1].name, calls[1].line) or ""
        return warden.deny(string.format("imports %s at line %d%s; only trusted requesters may use %s",
                                         found[1].module, found[1].line, used, package))
      end
    end
  end
  local score, reasons, index = 0, {}, 1
  for _, f in ipairs(assessment.findings) do
    score = score + (WEIGHTS[f.severity] or 1)
    reasons[#reasons + 1] = string.format("line %d: %s", f.line, f.message)
  end
  if score >= THRESHOLDS.BLOCKED then index = 4 elseif score >= THRESHOLDS.HIGH then index = 3
  elseif score >= THRESHOLDS.MEDIUM then index = 2 end
  return { level = LEVELS[index], score = score, reasons = reasons }
end

function trust(decision, request)
  if decision.level ~= "LOW" then return "untrusted" end
  return is_trusted(request) and "trusted" or "standard"
end

function limits(trust, assessment, system, request)
  return { backend = system.requested_backend or system.default_backend,
           memory = (trust == "trusted" and 512 or 256) * MiB, wall_time = "30s", network = "none" }
end

function may_override(decision, request)
  return { allowed = false, reason = "this policy allows no overrides" }
end
