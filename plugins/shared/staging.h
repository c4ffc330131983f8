// The staging folder of one container or native warm sandbox, bound
// read-only at /sandbox: the launcher's FIFO, then the program and its launch
// message. It goes with the run. (Its scratch space is shared/scratch_mount.h.)
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace warden::sandboxing {

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

}  // namespace warden::sandboxing
