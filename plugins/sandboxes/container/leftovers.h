// Reaping what a host that died left behind: its containers (by their
// io.warden.owner label), staging folders and scratch mounts, and cgroups.
// Those of hosts still running are left alone.
#pragma once

#include <filesystem>
#include <string>

#include "engine/engine_client.h"
#include "engine_api.h"

namespace warden::containers {

// Best effort: an engine that does not answer is left for the next run to
// report. `api_prefix` is the negotiated one ("/v1.41").
void reap_leftovers(const engine::EngineClient& client, Engine engine,
                    const std::string& api_prefix, const std::filesystem::path& staging_dir,
                    const std::string& cgroup_parent);

}  // namespace warden::containers
