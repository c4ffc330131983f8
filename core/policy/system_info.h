// The machine's resources as policies see them (the `system` argument of
// limits()): {"cpus", "free_memory_bytes", "total_memory_bytes", "load1"}.
#pragma once

#include <nlohmann/json.hpp>

namespace warden::policy {

nlohmann::json system_snapshot();

}  // namespace warden::policy
