-- A permissive policy for local development on your own code: high
-- thresholds, generous limits, network allowed for trusted runs, and
-- overrides always allowed. Never use it for code you did not write.

THRESHOLDS = { MEDIUM = 8, HIGH = 14, BLOCKED = 20 }
WEIGHTS = { info = 0, low = 1, medium = 2, high = 3, critical = 5 }
LEVELS = { "LOW", "MEDIUM", "HIGH", "BLOCKED" }
local MiB = 1024 * 1024

function classify(assessment)
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
  if decision.level == "BLOCKED" then return "untrusted" end
  return decision.level == "HIGH" and "standard" or "trusted"
end

function limits(trust, assessment, system)
  local generous = trust == "trusted"
  return { backend = system.requested_backend or system.default_backend,
           memory = generous and 2048 * MiB or 512 * MiB, cpus = math.max(1, system.cpus),
           wall_time = generous and 300000 or 60000, cpu_time = generous and 300000 or 60000,
           pids = 256, file_size = 256 * MiB, open_files = 1024, tmpfs = 512 * MiB, output = 8 * MiB,
           network = generous and "open" or "none" }
end

function may_override(decision, request)
  return { allowed = true, reason = "development policy" }
end
