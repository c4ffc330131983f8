#include "shared/run_uid.h"

#include <warden/plugin.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>

namespace warden::sandboxing {

RunUid::RunUid(const UidRange& range, const std::string& lock_dir) {
  std::error_code ec;
  std::filesystem::create_directories(lock_dir, ec);
  if (ec)
    throw std::runtime_error("cannot create the uid lock folder " + lock_dir + ": " + ec.message());
  // From a random place in the range: concurrent hosts rarely try the same uid first.
  std::uint32_t start = std::random_device{}() % range.count;
  for (std::uint32_t i = 0; i < range.count; ++i) {
    uid_t uid = range.first + (start + i) % range.count;
    std::string path = lock_dir + "/" + std::to_string(uid);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
      throw std::runtime_error("cannot open the uid lock " + path + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      uid_ = uid;
      lock_fd_ = fd;
      return;
    }
    ::close(fd);
  }
  throw std::runtime_error("every uid of the range " + std::to_string(range.first) + "+" +
                           std::to_string(range.count) + " is held by a run");
}

RunUid::~RunUid() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

}  // namespace warden::sandboxing
