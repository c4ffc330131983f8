// The host-side places of one container: the staging folder bound read-only
// at /sandbox (the launcher's FIFO, then the program and its launch message)
// and the scratch tmpfs bound at /tmp and /dev/shm. Both go with the run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace warden::containers {

// The folder bind-mounted read-only at /sandbox: the FIFO the launcher
// waits on, then the program and its launch message. Removed with the run.
class StagingFolder {
 public:
  // Creates the folder (mode 0755) and its FIFO (0644: the sandbox user may
  // read it, not write it). Throws PluginError.
  explicit StagingFolder(std::filesystem::path dir);
  ~StagingFolder();
  StagingFolder(const StagingFolder&) = delete;
  StagingFolder& operator=(const StagingFolder&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path fifo() const;
  // Writes a file the sandbox user may read and nobody may change.
  void write(const char* name, std::string_view content) const;

 private:
  std::filesystem::path dir_;
};

// The run's scratch space: a tmpfs of the run's size mounted on the host and
// bound into the container at both /tmp and /dev/shm, so that every writable
// place in the container counts against the one limit. Unmounted with the run.
class ScratchMount {
 public:
  // Throws PluginError.
  ScratchMount(std::filesystem::path dir, std::uint64_t bytes);
  ~ScratchMount() { unmount(dir_); }
  ScratchMount(const ScratchMount&) = delete;
  ScratchMount& operator=(const ScratchMount&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  // Unmounts (lazily: a container may still hold it) and removes one.
  static void unmount(const std::filesystem::path& dir);

 private:
  std::filesystem::path dir_;
};

}  // namespace warden::containers
