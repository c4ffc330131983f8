#include "audit/folder_lock.h"

#include <fcntl.h>
#include <unistd.h>
#include <warden/error.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace warden::audit {

FolderLock FolderLock::for_writer(const std::filesystem::path& dir) {
  std::filesystem::path path = dir / kLockFile;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    throw Error(ErrorKind::kEnvironment,
                path.string() + ": cannot open the audit lock file: " + std::strerror(errno));
  return FolderLock(fd, std::move(path));
}

FolderLock FolderLock::for_reader(const std::filesystem::path& dir) {
  std::filesystem::path path = dir / kLockFile;
  return FolderLock(::open(path.c_str(), O_RDONLY | O_CLOEXEC), std::move(path));
}

FolderLock::FolderLock(FolderLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

FolderLock& FolderLock::operator=(FolderLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);
}

void FolderLock::lock(Range range, bool exclusive) {
  if (fd_ < 0) return;
  struct flock fl {};
  fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(range);
  fl.l_len = 1;
  while (::fcntl(fd_, F_OFD_SETLKW, &fl) != 0)
    if (errno != EINTR)
      throw Error(ErrorKind::kEnvironment,
                  path_.string() + ": cannot lock the audit folder: " + std::strerror(errno));
}

void FolderLock::unlock(Range range) {
  if (fd_ < 0) return;
  struct flock fl {};
  fl.l_type = F_UNLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(range);
  fl.l_len = 1;
  ::fcntl(fd_, F_OFD_SETLK, &fl);  // cannot fail on a valid descriptor
}

FolderLock::Held::Held(FolderLock& lock, Range range, bool exclusive) : lock_(lock), range_(range) {
  lock_.lock(range_, exclusive);
}

FolderLock::Held::~Held() {
  lock_.unlock(range_);
}

}  // namespace warden::audit
