-- `warden policy test policies/examples/imports`: the assessment tables here
-- have the shape the host hands to classify (imports and calls included).

local function program(imports, calls)
  return fake_assessment({}, { imports = imports, calls = calls })
end

function test_untrusted_requesters_may_not_import_requests()
  local a = program({ { module = "json", line = 1 }, { module = "requests", line = 3 } },
                    { { name = "requests.get", line = 5 } })
  local reason = expect_denied(function() return classify(a, fake_request({ user = "mallory" })) end,
                               "imports requests at line 3")
  expect(reason:find("calls requests.get at line 5", 1, true), "the reason names the call")
end

function test_submodules_count_and_the_first_import_is_named()
  local a = program({ { module = "requests.adapters", line = 9 }, { module = "requests", line = 4 } }, {})
  expect_denied(function() return classify(a, fake_request({ user = "mallory" })) end,
                "imports requests at line 4")
end

function test_trusted_requesters_may()
  local a = program({ { module = "requests", line = 3 } }, { { name = "requests.get", line = 5 } })
  local d = classify(a, fake_request({ user = "alice", user_verified = true }))
  expect_eq(warden.denial(d), nil, "not denied")
  expect_eq(d.level, "LOW")
end

function test_a_typed_trusted_name_is_not_trusted()
  local a = program({ { module = "requests", line = 3 } }, {})
  expect_denied(function() return classify(a, fake_request({ user = "alice", user_verified = false })) end,
                "imports requests at line 3")
end

function test_other_modules_pass()
  for _, name in ipairs({ "requests_toolbelt", "myrequests", "json" }) do
    local d = classify(program({ { module = name, line = 1 } }, {}), fake_request({ user = "mallory" }))
    expect_eq(warden.denial(d), nil, name)
    expect_eq(d.level, "LOW", name)
  end
end

function test_an_assessment_without_the_lists_passes()
  local a = fake_assessment({})
  a.imports, a.calls = nil, nil
  expect_eq(classify(a, fake_request({ user = "mallory" })).level, "LOW")
end
