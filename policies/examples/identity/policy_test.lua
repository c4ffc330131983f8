function test_maintainers_are_trusted_others_standard()
  local d = classify(fake_assessment({}))
  expect_eq(trust(d, fake_request({ user = "alice", user_verified = true })), "trusted")
  expect_eq(trust(d, fake_request({ user = "mallory", user_verified = true })), "standard")
end

function test_a_typed_name_is_not_a_maintainer()
  local d = classify(fake_assessment({}))
  expect_eq(trust(d, fake_request({ user = "alice", user_verified = false })), "standard")
end

function test_only_maintainers_override()
  local d = { level = "BLOCKED", score = 11, reasons = {} }
  local explained = { explanation = "checked it" }
  expect_eq(may_override(d, fake_request({ user = "mallory", user_verified = true, override = explained })).allowed,
            false)
  expect_eq(may_override(d, fake_request({ user = "bob", user_verified = false, override = explained })).allowed,
            false)
  expect_eq(may_override(d, fake_request({ user = "bob", user_verified = true, override = explained })).allowed,
            true)
end
