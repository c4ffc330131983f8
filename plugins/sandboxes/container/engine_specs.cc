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

nlohmann::json docker_create_spec(const RunSpec& spec, const ContainerPlaces& places) {
  const Limits& l = spec.limits;
  auto ulimit = [](const char* name, std::uint64_t soft, std::uint64_t hard) {
    return nlohmann::json{{"Name", name}, {"Soft", soft}, {"Hard", hard}};
  };
  nlohmann::json host = {
      {"NetworkMode", spec.network == NetworkMode::kNone ? "none" : "bridge"},
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
  return {{"Image", places.image},
          {"Cmd", sandboxing::launcher_command(places.launcher)},
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
      {"command", sandboxing::launcher_command(places.launcher)},
      {"env", nlohmann::json::object()},
      {"unsetenvall", true},
      {"user", std::to_string(spec.uid) + ":" + std::to_string(spec.gid)},
      {"work_dir", "/tmp"},
      {"hostname", "sandbox"},
      {"stdin", true},
      {"terminal", false},
      {"labels", {{kOwnerLabel, places.owner}}},
      {"netns", {{"nsmode", spec.network == NetworkMode::kNone ? "none" : "bridge"}}},
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
  if (places.image.empty())
    s["rootfs"] = places.rootfs;
  else
    s["image"] = places.image;
  return s;
}

}  // namespace warden::containers
