// A sandbox backend that runs each program in a fresh container of a
// container engine, through the engine's API on its unix socket: Docker
// (Engine API) or Podman (libpod API for creation, which can run straight from
// a root filesystem directory; the Docker-compatible API for the rest).
//
// One run: stage the code in a read-only folder, create the container with
// every limit, attach, wait, start (the Docker CLI's order, so no output is
// lost), stream stdin in and the demultiplexed output out under the output
// cap, kill on the wall time, then measure and force-remove. The container's
// cgroup parent is a cgroup of warden's own, which outlives the container and
// so gives peak memory and CPU time; it is removed last. Containers carry the
// label io.warden.owner; those of a host process that is gone are removed at
// the first probe.
//
// Thread-safe: runs may proceed in parallel. See docs/sandboxes.md.
#pragma once

#include <warden/plugin.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine_client.h"

namespace warden::containers {

enum class Engine { kDocker, kPodman };

class ContainerBackend {
 public:
  // Settings: socket, image, rootfs (podman only), staging_dir, cgroup_parent,
  // interpreters, api_timeout_ms, seccomp_profile. Throws warden::PluginError naming the field.
  ContainerBackend(Engine engine, const nlohmann::json& settings);
  ~ContainerBackend();
  ContainerBackend(const ContainerBackend&) = delete;
  ContainerBackend& operator=(const ContainerBackend&) = delete;

  Availability probe();
  RunResult run(const RunRequest& request);

 private:
  Availability check_engine();
  void reap_leftovers();
  nlohmann::json container_spec(const RunSpec& spec, const std::vector<std::string>& command,
                                const std::string& name, const std::string& cgroup_parent,
                                const std::string& staged_code) const;
  nlohmann::json docker_spec(const RunSpec& spec, const std::vector<std::string>& command,
                             const std::string& cgroup_parent,
                             const std::string& staged_code) const;
  nlohmann::json podman_spec(const RunSpec& spec, const std::vector<std::string>& command,
                             const std::string& name, const std::string& cgroup_parent,
                             const std::string& staged_code) const;
  std::string create_target(const std::string& name) const;
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
  std::chrono::milliseconds api_timeout_;
  std::string owner_;  // this process: "<pid>.<start time>"

  std::mutex probe_mutex_;
  bool available_ = false;  // cached while the engine keeps answering
  bool reaped_ = false;
  std::string api_prefix_;  // "/v1.41", negotiated from /version
  std::atomic<std::uint64_t> sequence_{0};
};

}  // namespace warden::containers
