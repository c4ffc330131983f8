// A started container whose launcher waits for its program, with everything
// that goes with it: warden's cgroup (the container's parent), the run's own
// uid, the staging folder and scratch mount, the attach stream and the FIFO's
// write end. Destroying it force-removes the container, then the scratch
// space and the staging folder, then the cgroup (members go in reverse order).
#pragma once

#include <poll.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "engine/engine_client.h"
#include "shared/cgroup.h"
#include "shared/run_uid.h"
#include "shared/scratch_mount.h"
#include "shared/staging.h"

namespace warden::containers {

// Force-removes the container when the run ends, however it ends.
class ContainerGuard {
 public:
  ContainerGuard(const engine::EngineClient& client, std::string target)
      : client_(client), target_(std::move(target)) {}
  ~ContainerGuard() {
    try {
      client_.request("DELETE", target_ + "?force=true&v=true");
    } catch (const std::exception&) {
      // The engine is gone; the owner label lets the next host reap it.
    }
  }
  ContainerGuard(const ContainerGuard&) = delete;
  ContainerGuard& operator=(const ContainerGuard&) = delete;

 private:
  const engine::EngineClient& client_;
  std::string target_;
};

class PreparedContainer {
 public:
  std::string id;
  std::unique_ptr<sandboxing::Cgroup> cgroup;
  std::unique_ptr<sandboxing::RunUid> uid;  // the run's own uid, when the backend has a range
  std::unique_ptr<sandboxing::StagingFolder> staging;
  std::unique_ptr<sandboxing::ScratchMount> scratch;
  std::unique_ptr<ContainerGuard> guard;
  std::unique_ptr<engine::AttachStream> stream;
  // The FIFO's write end, held open for the whole run: the launcher starts the
  // program when "g" comes through it, and ends the run when it closes.
  int go_fd = -1;

  PreparedContainer() = default;
  PreparedContainer(const PreparedContainer&) = delete;
  PreparedContainer& operator=(const PreparedContainer&) = delete;
  ~PreparedContainer() {
    if (go_fd >= 0) ::close(go_fd);
  }
  // A waiting launcher prints nothing: output or an end means the container is gone.
  bool alive() const {
    pollfd p{stream->fd(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }
};

}  // namespace warden::containers
