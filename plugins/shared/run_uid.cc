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

UidRange uid_range_setting(const nlohmann::json& settings) {
  if (!settings.contains("uid_range")) return kDefaultUidRange;
  const auto& r = settings["uid_range"];
  if (!r.is_object() || !r.contains("first") || !r.contains("count") ||
      !r["first"].is_number_unsigned() || !r["count"].is_number_unsigned() || r.size() != 2)
    throw settings_error("/uid_range", "expected {first: <uid>, count: <how many>}");
  UidRange range{r["first"].get<std::uint32_t>(), r["count"].get<std::uint32_t>()};
  if (range.count > 0 &&
      (range.first == 0 || range.first + std::uint64_t{range.count} > 0xfffffffeu))
    throw settings_error("/uid_range", "the range must hold neither root nor the invalid uid -1");
  return range;
}

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
