#include "common/files.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <warden/error.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace warden {
namespace {

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

}  // namespace

bool write_all(int fd, std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void sync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorKind::kEnvironment, errno_text("cannot open " + dir.string()));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw Error(ErrorKind::kEnvironment, errno_text("fsync of " + dir.string()));
}

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  std::string tmp = path.string() + ".tmp-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  bool ok = fd >= 0 && ::fchmod(fd, 0644) == 0 && write_all(fd, content) && ::fsync(fd) == 0;
  std::string why = ok ? "" : errno_text("cannot write " + tmp);
  if (fd >= 0) ::close(fd);
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    why = errno_text("cannot rename " + tmp);
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    throw Error(ErrorKind::kEnvironment, why);
  }
  sync_directory(path.parent_path());
}

}  // namespace warden
