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
  std::error_code ignored;
  std::filesystem::remove(dir, ignored);  // an empty folder, or a HostBind's file
}

HostBind::HostBind(const std::filesystem::path& source, std::filesystem::path mount_point)
    : mount_point_(std::move(mount_point)) {
  auto fail = [&](const std::string& what) {
    int err = errno;
    std::error_code ignored;
    std::filesystem::remove(mount_point_, ignored);
    throw PluginError(WARDEN_ERR_INTERNAL, what + ": " + std::strerror(err));
  };
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0) fail("cannot bind " + source.string());
  if (S_ISDIR(st.st_mode) ? ::mkdir(mount_point_.c_str(), 0755) != 0
                          : ::mknod(mount_point_.c_str(), S_IFREG | 0644, 0) != 0)
    fail("cannot make the mount point " + mount_point_.string());
  if (::mount(source.c_str(), mount_point_.c_str(), nullptr, MS_BIND, nullptr) != 0)
    fail("cannot bind " + source.string() + " on " + mount_point_.string());
  if (::mount(nullptr, mount_point_.c_str(), nullptr,
              MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0) {
    int err = errno;
    ::umount2(mount_point_.c_str(), MNT_DETACH);
    errno = err;
    fail("cannot make " + mount_point_.string() + " read-only");
  }
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
