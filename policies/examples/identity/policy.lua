-- Trust by who asks: the default thresholds, but the requester's identity
-- decides how far the trust goes. Maintainers' LOW and MEDIUM code is trusted;
-- unknown requesters are never more than standard; only maintainers may
-- override a BLOCKED decision.
--
-- A name only counts when it is established (request.user_verified): taken by
-- `warden serve` from the socket's peer credentials, or by the CLI from its own
-- uid. Anyone can type `--as alice`; that request is treated as unknown.

THRESHOLDS = { MEDIUM = 4, HIGH = 7, BLOCKED = 10 }
WEIGHTS = { info = 0, low = 1, medium = 2, high = 3, critical = 5 }
LEVELS = { "LOW", "MEDIUM", "HIGH", "BLOCKED" }
MAINTAINERS = { alice = true, bob = true }

local function is_maintainer(request)
  return request.user_verified == true and MAINTAINERS[request.user or ""] == true
end
local MiB = 1024 * 1024

function classify(assessment)
  local score, reasons, index = 0, {}, 1
  for _, f in ipairs(assessment.findings) do
    score = score + (WEIGHTS[f.severity] or 1)
    reasons[#reasons + 1] = string.format("line %d: %s", f.line, f.message)
  end
  if score >= THRESHOLDS.BLOCKED then index = 4 elseif score >= THRESHOLDS.HIGH then index = 3
  elseif score >= THRESHOLDS.MEDIUM then index = 2 end
  for _, a in ipairs(assessment.assessors) do
    if a.status ~= "ok" then index = math.min(4, index + 1) end
  end
  return { level = LEVELS[index], score = score, reasons = reasons }
end

function trust(decision, request)
  local maintainer = is_maintainer(request)
  note("trust", (request.user or "anonymous") .. (request.user_verified and "" or " (unverified)") ..
       (maintainer and " is a maintainer" or " is not a maintainer"))
  if decision.level == "HIGH" or decision.level == "BLOCKED" then return "untrusted" end
  if maintainer then return "trusted" end
  return "standard"
end

function limits(trust, assessment, system)
  local size = { trusted = 1024, standard = 384, untrusted = 192 }
  return { backend = system.requested_backend or system.default_backend, memory = size[trust] * MiB,
           cpus = 1, wall_time = trust == "trusted" and 120000 or 30000,
           cpu_time = trust == "trusted" and 120000 or 30000, pids = 64, file_size = 32 * MiB,
           open_files = 256, tmpfs = 128 * MiB, output = 2 * MiB, network = "none" }
end

function may_override(decision, request)
  if not is_maintainer(request) then
    return { allowed = false, reason = "only maintainers (by verified identity) may override a BLOCKED decision" }
  end
  if not request.override or (request.override.explanation or "") == "" then
    return { allowed = false, reason = "an override needs an explanation" }
  end
  return { allowed = true, reason = request.user .. " is a maintainer" }
end
