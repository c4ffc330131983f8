-- A strict policy: lower thresholds, no override of network or
-- code-execution findings, and every untrusted run on a container backend.

THRESHOLDS = { MEDIUM = 2, HIGH = 4, BLOCKED = 7 }
WEIGHTS = { info = 0, low = 1, medium = 2, high = 3, critical = 5 }
LEVELS = { "LOW", "MEDIUM", "HIGH", "BLOCKED" }
NEVER_OVERRIDE = { network = true, ["code-execution"] = true, ["command-execution"] = true }
CONTAINER_BACKENDS = { "podman", "docker" }
local MiB = 1024 * 1024

function classify(assessment)
  local score, reasons, index = 0, {}, 1
  for _, f in ipairs(assessment.findings) do
    score = score + (WEIGHTS[f.severity] or 1)
    reasons[#reasons + 1] = string.format("line %d: %s (%s)", f.line, f.message, f.category)
  end
  if score >= THRESHOLDS.BLOCKED then index = 4 elseif score >= THRESHOLDS.HIGH then index = 3
  elseif score >= THRESHOLDS.MEDIUM then index = 2 end
  for _, a in ipairs(assessment.assessors) do
    if a.status ~= "ok" then
      index = 4
      reasons[#reasons + 1] = "assessor " .. a.name .. " " .. a.status .. ": strict policy blocks"
    end
  end
  return { level = LEVELS[index], score = score, reasons = reasons }
end

function trust(decision, request)
  if decision.level == "LOW" then return "standard" end
  return "untrusted"
end

function limits(trust, assessment, system)
  local backend = system.default_backend
  if trust == "untrusted" then
    backend = nil
    for _, candidate in ipairs(CONTAINER_BACKENDS) do
      for _, loaded in ipairs(system.loaded_backends) do
        if loaded == candidate and not backend then backend = candidate end
      end
    end
    if not backend then return warden.deny("untrusted code needs a container backend and none is loaded") end
    note("backend", "untrusted runs only in a container: " .. backend)
  end
  return { backend = backend, memory = trust == "untrusted" and 128 * MiB or 256 * MiB, cpus = 1,
           wall_time = 10000, cpu_time = 10000, pids = 16, file_size = 4 * MiB, open_files = 64,
           tmpfs = 16 * MiB, output = 256 * 1024, network = "none" }
end

function may_override(decision, request)
  for _, reason in ipairs(decision.reasons) do
    for category in pairs(NEVER_OVERRIDE) do
      if reason:find("(" .. category .. ")", 1, true) then
        return { allowed = false, reason = "the strict policy never overrides " .. category .. " findings" }
      end
    end
  end
  if not request.override or (request.override.explanation or "") == "" then
    return { allowed = false, reason = "an override needs an explanation" }
  end
  return { allowed = true, reason = "explained override" }
end
