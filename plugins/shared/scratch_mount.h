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
  // Unmounts (lazily: a sandbox may still hold it) and removes one (a
  // folder, or the file a HostBind mounted on).
  static void unmount(const std::filesystem::path& dir);

 private:
  std::filesystem::path dir_;
};

// A host path bound read-only onto a mount point made for it (a folder for
// a folder, an empty file for anything else), so that a sandbox can bind it
// from there: bwrap opens its sources as the sandbox's user, who may not pass
// through the folders above the original (a home folder of mode 0700).
// Unmounted and removed with the object; a host that dies leaves it for the
// next one to reap (remove_dead_owners_scratch).
class HostBind {
 public:
  // Throws PluginError(WARDEN_ERR_INTERNAL) naming what failed.
  HostBind(const std::filesystem::path& source, std::filesystem::path mount_point);
  ~HostBind() { ScratchMount::unmount(mount_point_); }
  HostBind(const HostBind&) = delete;
  HostBind& operator=(const HostBind&) = delete;
  const std::filesystem::path& path() const { return mount_point_; }

 private:
  std::filesystem::path mount_point_;
};

// Unmounts and removes the scratch folders (and HostBind mount points) in
// `parent` named "<owner>-...<suffix>" whose owner (see owner.h) is dead.
void remove_dead_owners_scratch(const std::filesystem::path& parent, const std::string& suffix);

}  // namespace warden::sandboxing
