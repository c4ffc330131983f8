// A sandbox backend that runs each program in a fresh container of a
// container engine, through the engine's API on its unix socket: Docker
// (Engine API) or Podman (libpod API for creation, which can run straight from
// a root filesystem directory; the Docker-compatible API for the rest).
//
// Each run gets a fresh container, used once. A container is prepared
// (created with the limits fixed at creation, attached, started) with a small
// launcher as its program, which waits on a FIFO in its read-only /sandbox
// folder. The run then sets memory, CPU and pids limits on the container's
// cgroup parent (a cgroup of warden's own, which outlives the container and so
// gives peak memory, CPU time and OOM kills), writes the program and its
// argv, environment and rlimits beside the FIFO and closes it: the launcher
// lowers the rlimits and execs the program. Stdin streams in and the
// demultiplexed output out under the output cap; the wall time kills the
// container; then it is measured and force-removed.
//
// A warm pool (warm_pool.h) keeps up to `warm_pool` prepared containers for
// each recent shape of run (tmpfs size, network, read-only root, uid/gid, open
// files), so a run finds its container started. Without one the run prepares
// its own. Containers carry the label io.warden.owner;
// those of a host process that is gone are removed at the first probe.
//
// Thread-safe: runs may proceed in parallel. See docs/sandboxes.md.
#pragma once

#include <warden/plugin.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine_client.h"
#include "engine_api.h"
#include "prepared_container.h"
#include "shared/run_uid.h"
#include "shared/warm_pool.h"

namespace warden::containers {

class ContainerBackend {
 public:
  // Settings: socket, image, rootfs (podman only), staging_dir, cgroup_parent,
  // interpreters, api_timeout_ms, seccomp_profile, warm_pool, uid_range. Throws
  // warden::PluginError naming the field.
  ContainerBackend(Engine engine, const nlohmann::json& settings);
  ~ContainerBackend();  // removes the warm containers
  ContainerBackend(const ContainerBackend&) = delete;
  ContainerBackend& operator=(const ContainerBackend&) = delete;

  Availability probe();
  RunResult run(const RunRequest& request);

 private:
  Availability check_engine();
  // Creates, attaches and starts a container for runs shaped like `spec`, and
  // waits until its launcher is ready. Throws PluginError.
  std::unique_ptr<PreparedContainer> prepare(const RunSpec& spec);
  RunResult run_in(PreparedContainer& container, const RunRequest& request);
  int exit_status(const std::string& id);
  std::string container_target(const std::string& id) const;
  std::string engine_name() const { return containers::engine_name(engine_); }

  Engine engine_;
  std::unique_ptr<engine::EngineClient> client_;
  std::string image_;
  std::filesystem::path rootfs_;
  std::filesystem::path staging_dir_;
  std::filesystem::path seccomp_source_;
  std::string seccomp_profile_;                 // derived at probe time, as JSON
  std::filesystem::path seccomp_profile_path_;  // the same, written for Podman
  std::string cgroup_parent_;
  std::map<std::string, std::vector<std::string>> interpreters_;
  std::chrono::milliseconds api_timeout_;
  std::string owner_;  // this process: "<pid>.<start time>"

  std::mutex probe_mutex_;
  bool available_ = false;  // cached while the engine keeps answering
  bool reaped_ = false;
  std::string api_prefix_;  // "/v1.41", negotiated from /version

  sandboxing::UidRange uid_range_;  // each container's own uid comes from it
  // Last: destroyed first, while the client its containers need is alive.
  std::unique_ptr<sandboxing::WarmPool<PreparedContainer>> pool_;
};

// The plugin class of one engine: WARDEN_SANDBOX_PLUGIN makes it from the
// settings alone.
template <Engine kEngine>
class EngineBackend : public ContainerBackend {
 public:
  explicit EngineBackend(const nlohmann::json& settings) : ContainerBackend(kEngine, settings) {}
};

}  // namespace warden::containers
