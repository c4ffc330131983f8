-- limits(trust, assessment, system, request) -> { backend, memory, cpus, wall_time,
--   cpu_time, pids, file_size, open_files, tmpfs, output, network }
-- Sizes in bytes, times in milliseconds (strings such as "256MiB" or "30s"
-- work too). The host clamps every value to the ceilings in warden.yaml.
--
-- Each trust level has its own base (Mai's 'standard' fell through to the
-- most restrictive case; here it sits between the two). Complexity grows
-- memory and time by up to half again, and memory never takes more than a
-- share of what the machine has free.

local MiB = 1024 * 1024
BASE = {
  trusted   = { memory = 1024 * MiB, cpus = 2, wall_time = 120000, cpu_time = 120000, pids = 128,
                file_size = 64 * MiB, open_files = 512, tmpfs = 256 * MiB, output = 4 * MiB },
  standard  = { memory = 512 * MiB, cpus = 1, wall_time = 60000, cpu_time = 60000, pids = 64,
                file_size = 32 * MiB, open_files = 256, tmpfs = 128 * MiB, output = 2 * MiB },
  untrusted = { memory = 256 * MiB, cpus = 1, wall_time = 30000, cpu_time = 30000, pids = 32,
                file_size = 16 * MiB, open_files = 128, tmpfs = 64 * MiB, output = 1 * MiB },
}
SHARE_OF_FREE_MEMORY = { trusted = 0.30, standard = 0.15, untrusted = 0.05 }
MIN_MEMORY = 64 * MiB
COMPLEXITY_GROWTH = 0.5

function limits(trust, assessment, system)
  local base = BASE[trust] or BASE.untrusted
  local complexity = math.min(1, math.max(0, assessment.metrics.complexity or 0))
  local grow = 1 + COMPLEXITY_GROWTH * complexity
  local memory = math.floor(base.memory * grow)
  local share = math.floor(system.free_memory_bytes * (SHARE_OF_FREE_MEMORY[trust] or 0.05))
  if memory > share then
    note("memory", string.format("%d MiB by trust and complexity, capped to %d%% of free memory",
                                 memory // MiB, math.floor((SHARE_OF_FREE_MEMORY[trust] or 0.05) * 100)))
    memory = math.max(MIN_MEMORY, share)
  else
    note("memory", string.format("%s base %d MiB x %.2f for complexity %.2f", trust, base.memory // MiB,
                                 grow, complexity))
  end
  -- Leave one CPU to the host when there is more than one.
  local cpus = math.max(1, math.min(base.cpus, system.cpus - 1))
  note("cpus", string.format("%s allows %d of %d CPUs", trust, cpus, system.cpus))
  local backend = system.requested_backend or system.default_backend
  note("backend", system.requested_backend and "requested by the caller" or "the configured default")
  return {
    backend = backend,
    memory = memory,
    cpus = cpus,
    wall_time = math.floor(base.wall_time * grow),
    cpu_time = math.floor(base.cpu_time * grow),
    pids = base.pids,
    file_size = base.file_size,
    open_files = base.open_files,
    tmpfs = base.tmpfs,
    output = base.output,
    network = "none",
  }
end
