-- classify(assessment, request) -> { level, score, reasons }
-- Weighted findings against thresholds, as Mai intended (score 4 MEDIUM,
-- 7 HIGH, 10 BLOCKED). An assessor that could not answer (unavailable,
-- failed, timed out) raises the level: an unchecked program is not LOW.

THRESHOLDS = { MEDIUM = 4, HIGH = 7, BLOCKED = 10 }
WEIGHTS = { info = 0, low = 1, medium = 2, high = 3, critical = 5 }
FAILED_ASSESSOR_RAISES = 1  -- levels added for each assessor without an answer
LEVELS = { "LOW", "MEDIUM", "HIGH", "BLOCKED" }

local function level_index(score)
  if score >= THRESHOLDS.BLOCKED then return 4 end
  if score >= THRESHOLDS.HIGH then return 3 end
  if score >= THRESHOLDS.MEDIUM then return 2 end
  return 1
end

function classify(assessment)
  local score, reasons = 0, {}
  for _, f in ipairs(assessment.findings) do
    local weight = WEIGHTS[f.severity] or 1
    score = score + weight
    if weight >= WEIGHTS.medium then
      reasons[#reasons + 1] = string.format("line %d: %s (%s %s, %s)", f.line, f.message,
                                            f.assessor, f.rule_id, f.severity)
    end
  end
  local index = level_index(score)
  note("level", string.format("score %d from %d findings against MEDIUM %d / HIGH %d / BLOCKED %d -> %s",
                              score, #assessment.findings, THRESHOLDS.MEDIUM, THRESHOLDS.HIGH,
                              THRESHOLDS.BLOCKED, LEVELS[index]))
  for _, a in ipairs(assessment.assessors) do
    if a.status ~= "ok" then
      index = math.min(#LEVELS, index + FAILED_ASSESSOR_RAISES)
      reasons[#reasons + 1] = string.format("assessor %s %s: %s (level raised, failing closed)",
                                            a.name, a.status, a.reason or "")
      note("level", "assessor " .. a.name .. " " .. a.status .. " -> raised to " .. LEVELS[index])
    end
  end
  return { level = LEVELS[index], score = score, reasons = reasons }
end
