// The staging folder of one container or native warm sandbox, bound
// read-only at /sandbox: the launcher and its FIFO, then the program and its
// launch message. It goes with the run. (Its scratch space is
// shared/scratch_mount.h.)
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace warden::sandboxing {

// The folder bind-mounted read-only at /sandbox: the launcher and the FIFO
// it waits on, then the program and its launch message. Removed with the run.
class StagingFolder {
 public:
  // Creates the folder (mode 0755), its FIFO (0644: the sandbox user may
  // read it, not write it) and the launcher (launcher_program(), hard-linked
  // when it can be, copied otherwise; 0555). Throws PluginError.
  explicit StagingFolder(std::filesystem::path dir);
  ~StagingFolder();
  StagingFolder(const StagingFolder&) = delete;
  StagingFolder& operator=(const StagingFolder&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path fifo() const;
  // Writes a file the sandbox user may read and nobody may change.
  void write(const char* name, std::string_view content) const;

 private:
  void place_launcher() const;

  std::filesystem::path dir_;
};

}  // namespace warden::sandboxing
