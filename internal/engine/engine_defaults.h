// Defaults of the docker and podman backends' settings that `warden image
// build` follows too: where the engines listen and where the image goes.
#pragma once

namespace warden::engine {

inline constexpr const char* kDockerSocket = "/var/run/docker.sock";
inline constexpr const char* kPodmanSocket = "/run/podman/podman.sock";
inline constexpr const char* kDefaultImage = "warden-python:latest";            // docker's image
inline constexpr const char* kDefaultRootfs = "/var/lib/warden/rootfs/python";  // podman's

}  // namespace warden::engine
