-- dependencies(packages, trust, request, configured) -> { indexes, hosts, packages }
-- What a program that declares packages (PEP 723, a request's dependencies)
-- may install. Untrusted code installs nothing. Otherwise the indexes, hosts
-- and packages of warden.yaml's `dependencies` section (`configured`) are
-- allowed, and a declared package that is not listed there is refused with
-- its name. Every package installed, dependencies included, must be listed;
-- the host checks that after the install (docs/dependencies.md).

function dependencies(packages, trust, request, configured)
  if trust == "untrusted" then
    return warden.deny("untrusted code may not install packages (it declares " ..
                       #packages .. ")")
  end
  if #configured.indexes == 0 then
    return warden.deny("no package index is configured (dependencies.indexes in warden.yaml)")
  end
  for _, p in ipairs(packages) do
    if configured.packages[p.normalized] == nil and configured.packages[p.name] == nil then
      return warden.deny(p.name .. " is not on the allow-list (dependencies.packages in warden.yaml)")
    end
  end
  note("dependencies", #packages .. " declared, " .. trust .. ": the configured allow-list")
  return { indexes = configured.indexes, hosts = configured.hosts, packages = configured.packages }
end
