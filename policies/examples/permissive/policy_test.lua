function test_ordinary_findings_stay_low()
  local d = classify(fake_assessment({ fake_finding("high"), fake_finding("medium") }))
  expect_eq(d.level, "LOW")
  expect_eq(trust(d, fake_request()), "trusted")
  expect_eq(limits("trusted", fake_assessment({}), fake_system()).network, "open")
end

function test_untrusted_runs_have_no_network()
  expect_eq(limits("untrusted", fake_assessment({}), fake_system()).network, "none")
end
