// The assessment cache on disk, so that a program assessed by one process is
// not assessed again by the next (`warden run` twice, two embedders). Keyed
// exactly as the in-memory cache (code hash, language, assessor name, version
// and the probe's cache_key); one file per key, named by the SHA-256 of the
// key, holding a header with the payload's length and SHA-256 and the payload
// (the full key and the findings, JSON).
//
// Several processes may use one folder at once: an entry is written to a
// temporary file and renamed into place, so a reader sees a whole entry or
// none. An entry that fails any check (header, length, checksum, JSON, key)
// is never trusted: it is removed and the result recomputed. The folder is
// bounded in bytes: past `max_bytes` the least recently used entries are
// removed (a hit refreshes an entry's time); the folder's size is counted in
// a file `size` updated under a lock, so the folder is scanned only when it
// passes the bound. The cache is an optimisation:
// no failure of it fails an assessment (it is logged once and the disk cache
// is off for the rest of the process).
//
// The folder decides what warden believes about code, so it must be private:
// it is created 0700, and one owned by another user or writable by others
// is not used.
//
// Thread safety: get() and put() may be called from many threads at once.
#pragma once

#include <warden/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace warden {

class DiskCache {
 public:
  DiskCache(std::filesystem::path directory, std::uint64_t max_bytes);
  ~DiskCache();
  DiskCache(const DiskCache&) = delete;
  DiskCache& operator=(const DiskCache&) = delete;

  // The findings stored under `key`, if a sound entry holds them.
  bool get(const std::string& key, std::vector<Finding>& findings);
  // Stores `findings` under `key` (replacing any entry), then keeps the bound.
  void put(const std::string& key, const std::vector<Finding>& findings);

  // The file an entry for `key` lives in.
  std::filesystem::path entry_path(const std::string& key) const;
  const std::filesystem::path& directory() const { return directory_; }

 private:
  bool usable();
  void disable(const std::string& why);
  std::uint64_t evict();

  std::filesystem::path directory_;
  std::uint64_t max_bytes_;
  std::once_flag checked_;
  std::atomic<bool> usable_{true};
  std::mutex size_mutex_;
  int size_fd_ = -1;  // <directory>/size, opened at the first put
  std::atomic<std::uint64_t> temp_counter_{0};
};

}  // namespace warden
