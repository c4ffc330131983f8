// podman: each run in a fresh container of the Podman service, created through
// the libpod API straight from a root filesystem folder (or an image). See
// container_backend.h and docs/sandboxes.md.
#include "container_backend.h"

namespace warden::containers {
using PodmanBackend = EngineBackend<Engine::kPodman>;
}

WARDEN_SANDBOX_PLUGIN(warden::containers::PodmanBackend, "podman", "0.1.0",
                      "Podman libpod API: a fresh locked-down container per run")
