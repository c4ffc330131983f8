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
// A warm pool keeps up to `warm_pool` prepared containers for each recent
// shape of run (tmpfs size, network, read-only root, uid/gid, open files), so
// a run finds its container started; a background thread refills it. Without
// one the run prepares its own. Containers carry the label io.warden.owner;
// those of a host process that is gone are removed at the first probe.
//
// Thread-safe: runs may proceed in parallel. See docs/sandboxes.md.
#pragma once

#include <warden/plugin.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine_client.h"
#include "run_uid.h"

namespace warden::containers {

enum class Engine { kDocker, kPodman };

// Defaults of the settings, which `warden image build` follows too.
inline constexpr const char* kDockerSocket = "/var/run/docker.sock";
inline constexpr const char* kPodmanSocket = "/run/podman/podman.sock";
inline constexpr const char* kDefaultImage = "warden-python:latest";            // docker's image
inline constexpr const char* kDefaultRootfs = "/var/lib/warden/rootfs/python";  // podman's

class Prepared;

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
  void reap_leftovers();
  // Creates, attaches and starts a container for runs shaped like `spec`, and
  // waits until its launcher is ready. Throws PluginError.
  std::unique_ptr<Prepared> prepare(const RunSpec& spec);
  RunResult run_in(Prepared& container, const RunRequest& request);
  int exit_status(const std::string& id);
  nlohmann::json docker_spec(const RunSpec& spec, const std::string& cgroup_parent,
                             const std::string& staging, const std::string& scratch) const;
  nlohmann::json podman_spec(const RunSpec& spec, const std::string& name,
                             const std::string& cgroup_parent, const std::string& staging,
                             const std::string& scratch) const;
  std::string container_target(const std::string& id) const;

  // The warm pool.
  std::unique_ptr<Prepared> take_warm(const std::string& key);
  void refill_later(const std::string& key, const RunSpec& spec);
  void refill_loop();
  std::string engine_name() const { return engine_ == Engine::kDocker ? "docker" : "podman"; }

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
  std::string launcher_;  // the image's Python, which runs the launcher
  std::chrono::milliseconds api_timeout_;
  std::string owner_;  // this process: "<pid>.<start time>"

  std::mutex probe_mutex_;
  bool available_ = false;  // cached while the engine keeps answering
  bool reaped_ = false;
  std::string api_prefix_;  // "/v1.41", negotiated from /version

  std::size_t warm_pool_;           // prepared containers kept per shape; 0: none
  sandboxing::UidRange uid_range_;  // each container's own uid comes from it
  std::mutex pool_mutex_;
  std::condition_variable pool_wakeup_;
  std::map<std::string, std::deque<std::unique_ptr<Prepared>>> pool_;  // by shape
  std::map<std::string, RunSpec> pool_shapes_;  // a spec of each shape, to prepare from
  std::map<std::string, std::size_t> filling_;  // preparations under way, by shape
  std::deque<std::string> refills_;             // shapes to top up, oldest first
  std::deque<std::string> recent_shapes_;       // most recent last
  bool stopping_ = false;
  std::thread refiller_;
};

// The plugin class of one engine: WARDEN_SANDBOX_PLUGIN makes it from the
// settings alone.
template <Engine kEngine>
class EngineBackend : public ContainerBackend {
 public:
  explicit EngineBackend(const nlohmann::json& settings) : ContainerBackend(kEngine, settings) {}
};

}  // namespace warden::containers
