-- Tests of the default policy: `warden policy test policies/`.

function test_no_findings_is_low_and_trusted()
  local d = classify(fake_assessment({}))
  expect_eq(d.level, "LOW")
  expect_eq(d.score, 0)
  expect_eq(trust(d, fake_request()), "trusted")
end

function test_thresholds_4_7_10()
  local function level_for(severities)
    local findings = {}
    for _, s in ipairs(severities) do findings[#findings + 1] = fake_finding(s) end
    return classify(fake_assessment(findings)).level
  end
  expect_eq(level_for({ "low", "low", "low" }), "LOW")
  expect_eq(level_for({ "medium", "medium" }), "MEDIUM")
  expect_eq(level_for({ "high", "high", "low" }), "HIGH")
  expect_eq(level_for({ "critical", "critical" }), "BLOCKED")
  expect_eq(level_for({ "info", "info", "info", "info", "info" }), "LOW")
end

function test_a_failed_assessor_raises_the_level()
  local a = fake_assessment({}, { assessors = { { name = "bandit", status = "timeout", reason = "deadline" },
                                                { name = "heuristics", status = "ok", reason = "" } } })
  local d = classify(a)
  expect_eq(d.level, "MEDIUM")
  expect(d.reasons[1]:find("bandit timeout", 1, true), "the reason names the assessor")
end

function test_trust_follows_the_level()
  expect_eq(trust({ level = "MEDIUM" }, fake_request()), "standard")
  expect_eq(trust({ level = "HIGH" }, fake_request()), "untrusted")
  expect_eq(trust({ level = "BLOCKED" }, fake_request()), "untrusted")
end

function test_limits_differ_by_trust_and_standard_sits_in_between()
  local sys = fake_system()
  local t = limits("trusted", fake_assessment({}), sys)
  local s = limits("standard", fake_assessment({}), sys)
  local u = limits("untrusted", fake_assessment({}), sys)
  expect(t.memory > s.memory and s.memory > u.memory, "memory shrinks with trust")
  expect(t.wall_time > s.wall_time and s.wall_time > u.wall_time, "time shrinks with trust")
  expect_eq(u.network, "none")
  expect_eq(u.backend, "native")
end

function test_limits_grow_with_complexity()
  local sys = fake_system()
  local simple = limits("standard", fake_assessment({}, { metrics = { complexity = 0 } }), sys)
  local complex = limits("standard", fake_assessment({}, { metrics = { complexity = 1 } }), sys)
  expect(complex.memory > simple.memory, "more memory for complex code")
  expect(complex.wall_time > simple.wall_time, "more time for complex code")
end

function test_memory_is_capped_by_free_memory()
  local l = limits("trusted", fake_assessment({}), fake_system({ free_memory_bytes = 1024 ^ 3 }))
  expect(l.memory <= 0.3 * 1024 ^ 3, "at most 30% of free memory")
end

function test_requested_backend_is_used()
  local l = limits("standard", fake_assessment({}), fake_system({ requested_backend = "docker" }))
  expect_eq(l.backend, "docker")
end

function test_override_needs_an_explanation()
  local d = { level = "BLOCKED", score = 12, reasons = {} }
  expect_eq(may_override(d, fake_request()).allowed, false)
  expect_eq(may_override(d, fake_request({ override = { explanation = "reviewed" } })).allowed, true)
end

function test_every_critical_event_alerts_and_audit_damage_is_critical()
  for _, kind in ipairs({ "blocked", "override", "resource_violation", "policy_failure" }) do
    local a = alert(fake_event(kind, { user = "mai", reason = "why" }))
    expect(a, kind .. " alerts")
    expect(a.message:find("by mai: why", 1, true), "the message names the user and the reason")
  end
  expect_eq(alert(fake_event("audit_damage", { user = "", reason = "record 3 changed" })).severity,
            "critical")
  expect_eq(alert(fake_event("something_new")), false)
end

local PYPI = { indexes = { "https://pypi.org/simple" }, hosts = { "files.pythonhosted.org" },
               packages = { requests = ">=2", idna = "" } }

function test_dependencies_untrusted_installs_nothing()
  expect_denied(function()
    return dependencies({ { name = "requests", normalized = "requests" } }, "untrusted", fake_request(), PYPI)
  end, "untrusted code may not install")
end

function test_dependencies_need_a_configured_index()
  expect_denied(function()
    return dependencies({ { name = "requests", normalized = "requests" } }, "trusted", fake_request(),
                        { indexes = {}, hosts = {}, packages = {} })
  end, "no package index is configured")
end

function test_dependencies_allow_listed_only()
  expect_denied(function()
    return dependencies({ { name = "Evil_Pkg", normalized = "evil-pkg" } }, "standard", fake_request(), PYPI)
  end, "Evil_Pkg is not on the allow%-list")
  local allowed = dependencies({ { name = "Requests", normalized = "requests" } }, "standard", fake_request(), PYPI)
  expect_eq(allowed.indexes, PYPI.indexes)
  expect_eq(allowed.hosts, PYPI.hosts)
  expect_eq(allowed.packages.requests, ">=2")
end
