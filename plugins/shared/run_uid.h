// A host uid of its own for each concurrent run, from a reserved range, so
// that one run cannot use up a limit the kernel keeps per user (processes,
// inotify instances, ...) for the others. A uid is held by an flock on
// <lock_dir>/<uid> for as long as the run (or the warm container) lasts: runs
// of other warden processes on the machine skip it, and the kernel releases
// it when its holder dies, so a killed host leaks none.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace warden::sandboxing {

struct UidRange {
  std::uint32_t first = 0;
  std::uint32_t count = 0;  // 0: no range, every run keeps the uid it asks for
};

// The default range: high, far from the uids of real users and the usual
// subordinate ranges of user namespaces.
inline constexpr UidRange kDefaultUidRange{1'900'000'000u, 4096u};
inline constexpr const char* kUidLockDir = "/run/warden/uids";

class RunUid {
 public:
  // Takes a free uid of the range. Throws std::runtime_error when every uid
  // is held or the lock folder cannot be made.
  RunUid(const UidRange& range, const std::string& lock_dir = kUidLockDir);
  ~RunUid();  // releases the uid
  RunUid(const RunUid&) = delete;
  RunUid& operator=(const RunUid&) = delete;

  // Used as both the uid and the gid of the run.
  uid_t uid() const { return uid_; }

 private:
  uid_t uid_ = 0;
  int lock_fd_ = -1;
};

}  // namespace warden::sandboxing
