#include "engine_specs.h"

#include <cstdint>

#include "engine_api.h"
#include "shared/launcher.h"

namespace warden::containers {
namespace {

// RLIMIT_NPROC for Podman's containers: below the hard limits services get on
// common hosts, above what the concurrent runs of one sandbox user need.
constexpr std::uint64_t kPodmanNproc = 4096;

}  // namespace

const char* engine_network_mode(NetworkMode network) {
  // No default: a mode added later must be mapped here, or the build fails.
  switch (network) {
    case NetworkMode::kNone: return "none";
    case NetworkMode::kEgress: return "none";
    case NetworkMode::kOpen: return "bridge";
  }
  throw PluginError(WARDEN_ERR_INVALID_ARGUMENT, "unknown network mode");
}

nlohmann::json docker_create_spec(const RunSpec& spec, const ContainerPlaces& places) {
  const Limits& l = spec.limits;
  auto ulimit = [](const char* name, std::uint64_t soft, std::uint64_t hard) {
    return nlohmann::json{{"Name", name}, {"Soft", soft}, {"Hard", hard}};
  };
  nlohmann::json host = {
      {"NetworkMode", engine_network_mode(spec.network)},
      {"CapDrop", {"ALL"}},
      {"SecurityOpt", {"no-new-privileges", "seccomp=" + places.seccomp_profile}},
      {"ReadonlyRootfs", spec.read_only_root},
      {"Binds",
       {places.staging + ":/sandbox:ro", places.scratch + ":/tmp", places.scratch + ":/dev/shm"}},
      {"Ulimits",
       {ulimit("nofile", l.open_files, l.open_files), ulimit("msgqueue", 0, 0),
        ulimit("core", 0, 0)}},
      {"Init", true},
      {"LogConfig", {{"Type", "none"}, {"Config", nlohmann::json::object()}}},
      {"CgroupParent", places.cgroup_parent},
      {"IpcMode", "private"},
      {"AutoRemove", false},
  };
  // The run's own binds, read-only (a socket needs no writable mount to be
  // connected to), as Mounts: a path with a ':' in it cannot break them.
  auto read_only_bind = [](const std::string& source, const char* target) {
    return nlohmann::json{
        {"Type", "bind"}, {"Source", source}, {"Target", target}, {"ReadOnly", true}};
  };
  nlohmann::json mounts = nlohmann::json::array();
  if (!spec.egress_socket.empty())
    mounts.push_back(read_only_bind(spec.egress_socket, kEgressSocketPath));
  if (!spec.site_dir.empty()) mounts.push_back(read_only_bind(spec.site_dir, kSiteDirPath));
  if (!mounts.empty()) host["Mounts"] = mounts;
  return {{"Image", places.image},
          {"Cmd", sandboxing::launcher_command()},
          {"Env", nlohmann::json::array()},
          {"User", std::to_string(spec.uid) + ":" + std::to_string(spec.gid)},
          {"WorkingDir", "/tmp"},
          {"Hostname", "sandbox"},
          {"AttachStdin", true},
          {"AttachStdout", true},
          {"AttachStderr", true},
          {"OpenStdin", true},
          {"StdinOnce", true},
          {"Tty", false},
          {"Labels", {{kOwnerLabel, places.owner}}},
          {"HostConfig", host}};
}

nlohmann::json podman_create_spec(const RunSpec& spec, const ContainerPlaces& places) {
  const Limits& l = spec.limits;
  auto limit_entry = [](const char* type, std::uint64_t soft, std::uint64_t hard) {
    return nlohmann::json{{"type", type}, {"soft", soft}, {"hard", hard}};
  };
  nlohmann::json s = {
      {"name", places.name},
      {"command", sandboxing::launcher_command()},
      {"env", nlohmann::json::object()},
      {"unsetenvall", true},
      {"user", std::to_string(spec.uid) + ":" + std::to_string(spec.gid)},
      {"work_dir", "/tmp"},
      {"hostname", "sandbox"},
      {"stdin", true},
      {"terminal", false},
      {"labels", {{kOwnerLabel, places.owner}}},
      {"netns", {{"nsmode", engine_network_mode(spec.network)}}},
      {"read_only_filesystem", spec.read_only_root},
      {"read_only_tmpfs", false},
      {"mounts",
       {{{"destination", "/tmp"},
         {"type", "bind"},
         {"source", places.scratch},
         {"options", {"rbind"}}},
        {{"destination", "/dev/shm"},
         {"type", "bind"},
         {"source", places.scratch},
         {"options", {"rbind"}}},
        {{"destination", "/sandbox"},
         {"type", "bind"},
         {"source", places.staging},
         {"options", {"ro", "rbind"}}}}},
      {"r_limits",
       {limit_entry("nofile", l.open_files, l.open_files), limit_entry("msgqueue", 0, 0),
        limit_entry("core", 0, 0),
        // Podman would otherwise raise nproc past what its runtime may set. The
        // pids cgroup limit is what holds; nproc counts the user across the host.
        limit_entry("nproc", kPodmanNproc, kPodmanNproc)}},
      {"cap_drop", {"all"}},
      {"no_new_privileges", true},
      {"seccomp_profile_path", places.seccomp_profile_path},
      {"init", true},
      {"ipcns", {{"nsmode", "private"}}},
      {"log_configuration", {{"driver", "none"}}},
      {"cgroup_parent", places.cgroup_parent},
      {"cgroups_mode", "no-conmon"},
  };
  auto read_only_bind = [](const std::string& source, const char* target) {
    return nlohmann::json{{"destination", target},
                          {"type", "bind"},
                          {"source", source},
                          {"options", {"ro", "rbind"}}};
  };
  if (!spec.egress_socket.empty())
    s["mounts"].push_back(read_only_bind(spec.egress_socket, kEgressSocketPath));
  if (!spec.site_dir.empty()) s["mounts"].push_back(read_only_bind(spec.site_dir, kSiteDirPath));
  if (places.image.empty()) {
    s["rootfs"] = places.rootfs;
    // The runtime makes a bind's mount point (/run/warden, /opt/warden/site)
    // in the root filesystem, which a plain rootfs would keep for every later
    // container: an overlay takes them instead, and goes with the container.
    if (!spec.egress_socket.empty() || !spec.site_dir.empty()) s["rootfs_overlay"] = true;
  } else
    s["image"] = places.image;
  return s;
}

}  // namespace warden::containers
