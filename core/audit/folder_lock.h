// Cross-process locks on an audit folder, so that any number of writers — in
// any number of processes, and any number of AuditLog objects in one process —
// append to one log, and readers see whole records only (docs/audit-format.md,
// "Many writers").
//
// They are open-file-description locks (F_OFD_SETLKW) on bytes of the file
// "lock" in the folder: unlike POSIX record locks they belong to one open file,
// not to the process, so two AuditLog objects in one process exclude each
// other as two processes do; unlike flock() one file carries several ranges.
// The kernel drops them when the holder dies, SIGKILL included.
//
// Thread safety: lock() and unlock() may be called from several threads, each
// for a range of its own (a range is held by the FolderLock, not by a thread:
// AuditLog gives each range one user at a time).
#pragma once

#include <filesystem>

namespace warden::audit {

constexpr const char* kLockFile = "lock";

class FolderLock {
 public:
  enum class Range {
    kAppend = 0,      // the segments: exclusive to append, retain or quarantine; shared to read
    kCheckpoint = 1,  // the checkpoint file: exclusive to replace it
  };

  // A writer's lock: creates the lock file if needed. Throws
  // Error(kEnvironment) naming the file when it cannot be opened.
  static FolderLock for_writer(const std::filesystem::path& dir);
  // A reader's lock. A folder without a lock file (never opened by a writer
  // of this version, or a copy) or one the reader may not open gives a lock
  // that does nothing: there is no writer to exclude, or none it could see.
  static FolderLock for_reader(const std::filesystem::path& dir);

  FolderLock(FolderLock&& other) noexcept;
  FolderLock& operator=(FolderLock&& other) noexcept;
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock();

  // Blocks until the range is held. Throws Error(kEnvironment) on an error
  // other than EINTR.
  void lock(Range range, bool exclusive);
  void unlock(Range range);

  // Holds a range for a scope.
  class Held {
   public:
    Held(FolderLock& lock, Range range, bool exclusive);
    ~Held();
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;

   private:
    FolderLock& lock_;
    Range range_;
  };

 private:
  FolderLock(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;  // -1: a reader's lock on a folder without a usable lock file
  std::filesystem::path path_;
};

}  // namespace warden::audit
