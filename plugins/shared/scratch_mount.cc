#include "shared/scratch_mount.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <warden/plugin.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "shared/owner.h"

namespace warden::sandboxing {

ScratchMount::ScratchMount(std::filesystem::path dir, std::uint64_t bytes) : dir_(std::move(dir)) {
  if (::mkdir(dir_.c_str(), 0700) != 0)
    throw PluginError(WARDEN_ERR_INTERNAL, "cannot create the scratch folder " + dir_.string() +
                                               ": " + std::strerror(errno));
  std::string options = "size=" + std::to_string(bytes) + ",mode=1777";
  if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    int err = errno;
    ::rmdir(dir_.c_str());
    throw PluginError(WARDEN_ERR_INTERNAL, "cannot mount the scratch tmpfs on " + dir_.string() +
                                               ": " + std::strerror(err));
  }
}

void ScratchMount::unmount(const std::filesystem::path& dir) {
  ::umount2(dir.c_str(), MNT_DETACH);
  ::rmdir(dir.c_str());
}

void remove_dead_owners_scratch(const std::filesystem::path& parent, const std::string& suffix) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(parent, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.ends_with(suffix) || owner_alive(name.substr(0, name.find('-')))) continue;
    ScratchMount::unmount(entry.path());
  }
}

}  // namespace warden::sandboxing
