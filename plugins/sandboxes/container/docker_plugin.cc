// docker: each run in a fresh container of the Docker daemon, through the
// Engine API on its unix socket. See container_backend.h and docs/sandboxes.md.
#include "container_backend.h"

namespace warden::containers {
using DockerBackend = EngineBackend<Engine::kDocker>;
}

WARDEN_SANDBOX_PLUGIN(warden::containers::DockerBackend, "docker", "0.1.0",
                      "Docker Engine API: a fresh locked-down container per run")
