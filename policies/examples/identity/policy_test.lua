function test_maintainers_are_trusted_others_standard()
  local d = classify(fake_assessment({}))
  expect_eq(trust(d, fake_request({ user = "alice" })), "trusted")
  expect_eq(trust(d, fake_request({ user = "mallory" })), "standard")
end

function test_only_maintainers_override()
  local d = { level = "BLOCKED", score = 11, reasons = {} }
  local explained = { explanation = "checked it" }
  expect_eq(may_override(d, fake_request({ user = "mallory", override = explained })).allowed, false)
  expect_eq(may_override(d, fake_request({ user = "bob", override = explained })).allowed, true)
end
