#include "leftovers.h"

#include <nlohmann/json.hpp>

#include "shared/owner.h"
#include "shared/scratch_mount.h"
#include "shared/staging.h"

namespace warden::containers {

void reap_leftovers(const engine::EngineClient& client, Engine engine,
                    const std::string& api_prefix, const std::filesystem::path& staging_dir,
                    const std::string& cgroup_parent) {
  nlohmann::json filters = {{"label", {kOwnerLabel}}};
  try {
    auto list =
        client
            .checked("GET",
                     api_prefix + "/containers/json?all=true&filters=" + url_encode(filters.dump()))
            .json();
    for (const auto& container : list) {
      std::string owner =
          container.value("Labels", nlohmann::json::object()).value(kOwnerLabel, "");
      if (sandboxing::owner_alive(owner)) continue;
      client.request(
          "DELETE", api_prefix + "/containers/" + container.value("Id", "") + "?force=true&v=true");
    }
  } catch (const engine::EngineError&) {
    // Reaping is best effort; the engine's own error shows at the next run.
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(staging_dir, ec)) {
    // Staging folders are named "<owner pid>.<start>-...".
    std::string name = entry.path().filename().string();
    if (sandboxing::owner_alive(name.substr(0, name.find('-')))) continue;
    if (entry.path().extension() == ".tmp") sandboxing::ScratchMount::unmount(entry.path());
    std::filesystem::remove_all(entry.path(), ec);
  }
  // Cgroups are named "warden-<engine>-<owner pid>_<start>-<n>".
  sandboxing::remove_dead_owners_cgroups(cgroup_parent, "warden-" + engine_name(engine) + "-");
}

}  // namespace warden::containers
