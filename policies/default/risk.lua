-- classify(assessment, request) -> { level, score, reasons }
-- Weighted findings against thresholds, as Mai intended (score 4 MEDIUM,
-- 7 HIGH, 10 BLOCKED). An assessor that could not answer (unavailable,
-- failed, timed out) raises the level: an unchecked program is not LOW.
--
-- Findings add up, but a rule whose findings are all below `high` adds at
-- most RULE_CAP: fifty lines writing to /tmp are not fifty concerns, and its
-- repeats never outweigh one real danger (critical, 5). Such rules add at
-- most MINOR_CAP together, so an ordinary program's small findings can make
-- it MEDIUM but never HIGH. Each high or critical finding counts. Some rules
-- set a floor under the level whatever the score (a program warden cannot
-- read as CPython does, one that plants code in a file that runs later).

THRESHOLDS = { MEDIUM = 4, HIGH = 7, BLOCKED = 10 }
WEIGHTS = { info = 0, low = 1, medium = 2, high = 3, critical = 5 }
RULE_CAP = 4   -- the most one rule adds when all its findings are below high
MINOR_CAP = 6  -- the most that such rules add together
FLOORS = { ["heuristics.unreadable-source"] = "HIGH", ["heuristics.persistence"] = "HIGH" }
FAILED_ASSESSOR_RAISES = 1  -- levels added for each assessor without an answer
LEVELS = { "LOW", "MEDIUM", "HIGH", "BLOCKED" }

local function level_index(score)
  if score >= THRESHOLDS.BLOCKED then return 4 end
  if score >= THRESHOLDS.HIGH then return 3 end
  if score >= THRESHOLDS.MEDIUM then return 2 end
  return 1
end

local function index_of(level)
  for i, name in ipairs(LEVELS) do
    if name == level then return i end
  end
  return 1
end

function classify(assessment)
  -- Per rule: the sum of its weights, its most severe finding, how often found.
  local by_rule, order = {}, {}
  for _, f in ipairs(assessment.findings) do
    local weight = WEIGHTS[f.severity] or 1
    local seen = by_rule[f.rule_id]
    if not seen then
      seen = { finding = f, top = weight, sum = 0, count = 0 }
      by_rule[f.rule_id] = seen
      order[#order + 1] = f.rule_id
    elseif weight > seen.top then
      seen.finding, seen.top = f, weight
    end
    seen.sum = seen.sum + weight
    seen.count = seen.count + 1
  end
  local major, minor, reasons, floor = 0, 0, {}, 1
  for _, rule in ipairs(order) do
    local seen = by_rule[rule]
    local f = seen.finding
    if seen.top >= WEIGHTS.high then
      major = major + seen.sum
    else
      minor = minor + math.min(seen.sum, RULE_CAP)
    end
    if seen.top >= WEIGHTS.medium then
      local more = seen.count > 1 and string.format(" (and %d more)", seen.count - 1) or ""
      reasons[#reasons + 1] = string.format("line %d: %s (%s %s, %s)%s", f.line, f.message,
                                            f.assessor, f.rule_id, f.severity, more)
    end
    if FLOORS[rule] then
      floor = math.max(floor, index_of(FLOORS[rule]))
      reasons[#reasons + 1] = string.format("line %d: %s is at least %s", f.line, rule, FLOORS[rule])
    end
  end
  local score = major + math.min(minor, MINOR_CAP)
  local index = math.max(level_index(score), floor)
  note("level", string.format("score %d from %d findings of %d rules (high and critical %d, the"
                              .. " others %d capped at %d) against MEDIUM %d / HIGH %d / BLOCKED %d -> %s",
                              score, #assessment.findings, #order, major, minor, MINOR_CAP,
                              THRESHOLDS.MEDIUM, THRESHOLDS.HIGH, THRESHOLDS.BLOCKED, LEVELS[index]))
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
