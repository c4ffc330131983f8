// What a container is created with, in each engine's own words: Docker's
// Engine API create body and Podman's libpod SpecGenerator. Both fix the same
// things at creation (see docs/sandboxes.md, "One run", step 2).
#pragma once

#include <warden/plugin.h>

#include <nlohmann/json.hpp>
#include <string>

namespace warden::containers {

// Everything a creation spec holds besides the run's shape.
struct ContainerPlaces {
  std::string name;                  // the container's name
  std::string image;                 // empty: podman runs `rootfs`
  std::string rootfs;                // podman only
  std::string owner;                 // the io.warden.owner label
  std::string cgroup_parent;         // warden's cgroup, "/<parent>/<name>"
  std::string staging;               // host folder bound read-only at /sandbox
  std::string scratch;               // host tmpfs bound at /tmp and /dev/shm
  std::string seccomp_profile;       // the profile as JSON (docker)
  std::string seccomp_profile_path;  // the same, as a file (podman)
};

// The engine's network mode for the run's: "none" (a loopback only) for none
// and egress (whose proxy socket is bound in, not routed), "bridge" for open.
const char* engine_network_mode(NetworkMode network);

nlohmann::json docker_create_spec(const RunSpec& spec, const ContainerPlaces& places);
nlohmann::json podman_create_spec(const RunSpec& spec, const ContainerPlaces& places);

}  // namespace warden::containers
