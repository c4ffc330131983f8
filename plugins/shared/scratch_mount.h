// A run's scratch space: a tmpfs of the run's size mounted on the host and
// bound into the sandbox as its /tmp (and /dev/shm), so that every writable
// place the program has counts against the one limit, and the host can place
// input files there before the run and read what the program left after it.
// Unmounted with the run; a host that dies leaves it for the next one to reap
// (remove_dead_owners_scratch).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace warden::sandboxing {

class ScratchMount {
 public:
  // Creates `dir` (its parent must exist) and mounts a tmpfs of `bytes` on
  // it, mode 1777: anyone may create files, only their owner may remove them.
  // Throws PluginError.
  ScratchMount(std::filesystem::path dir, std::uint64_t bytes);
  ~ScratchMount() { unmount(dir_); }
  ScratchMount(const ScratchMount&) = delete;
  ScratchMount& operator=(const ScratchMount&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  // Unmounts (lazily: a sandbox may still hold it) and removes one.
  static void unmount(const std::filesystem::path& dir);

 private:
  std::filesystem::path dir_;
};

// Unmounts and removes the scratch folders in `parent` named
// "<owner>-...<suffix>" whose owner (see owner.h) is dead.
void remove_dead_owners_scratch(const std::filesystem::path& parent, const std::string& suffix);

}  // namespace warden::sandboxing
