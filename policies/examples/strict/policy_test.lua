function test_network_findings_cannot_be_overridden()
  local d = classify(fake_assessment({ fake_finding("critical", { category = "network" }),
                                       fake_finding("critical", { category = "network" }) }))
  expect_eq(d.level, "BLOCKED")
  local v = may_override(d, fake_request({ override = { explanation = "I know" } }))
  expect_eq(v.allowed, false)
  expect(v.reason:find("network", 1, true), "the reason names the category")
end

function test_untrusted_runs_go_to_a_container()
  expect_eq(limits("untrusted", fake_assessment({}), fake_system()).backend, "podman")
  expect_eq(limits("untrusted", fake_assessment({}), fake_system({ loaded_backends = { "native", "docker" } })).backend, "docker")
end

function test_a_missing_assessor_blocks()
  local a = fake_assessment({}, { assessors = { { name = "bandit", status = "unavailable", reason = "missing" } } })
  expect_eq(classify(a).level, "BLOCKED")
end

function test_untrusted_code_without_a_container_backend_is_denied()
  expect_denied(function()
    return limits("untrusted", fake_assessment({}), fake_system({ loaded_backends = { "native" } }))
  end, "needs a container backend")
end
