-- Questions about what a program imports and calls, from the assessment's
-- `imports` ({ module, line }) and `calls` ({ name, line }) lists.
local M = {}

-- True when `module` is `package` itself or one of its submodules.
local function within(module, package)
  return module == package or module:sub(1, #package + 1) == package .. "."
end

-- The imports of `package` (or its submodules), in line order.
function M.of_package(assessment, package)
  local found = {}
  for _, i in ipairs(assessment.imports or {}) do
    if within(i.module, package) then found[#found + 1] = i end
  end
  table.sort(found, function(a, b) return a.line < b.line end)
  return found
end

-- The resolved calls into `package`, in line order.
function M.calls_into(assessment, package)
  local found = {}
  for _, c in ipairs(assessment.calls or {}) do
    if within(c.name, package) then found[#found + 1] = c end
  end
  table.sort(found, function(a, b) return a.line < b.line end)
  return found
end

return M
