#include "assess/disk_cache.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/files.h"
#include "common/text.h"

namespace warden {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kMagic = "warden-assessment-cache 1 ";
constexpr std::string_view kEntrySuffix = ".entry";
constexpr std::string_view kTempPrefix = ".tmp-";
// A temporary file this old was left by a process that died while writing.
constexpr auto kStaleTemp = std::chrono::minutes(10);

bool read_whole(const fs::path& path, std::uint64_t limit, std::string& out, int& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    error = errno;
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::uint64_t>(st.st_size) > limit) {
    error = EINVAL;
    ::close(fd);
    return false;
  }
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);  // shorter than fstat said: caught by the length check
  ::close(fd);
  return true;
}

// Checks an entry's bytes; returns an empty string and the findings when it is
// sound, else what is wrong with it.
std::string check_entry(const std::string& bytes, const std::string& key,
                        std::vector<Finding>& findings) {
  if (bytes.compare(0, kMagic.size(), kMagic) != 0) return "no header";
  std::size_t eol = bytes.find('\n', kMagic.size());
  if (eol == std::string::npos) return "truncated header";
  std::istringstream header(bytes.substr(kMagic.size(), eol - kMagic.size()));
  std::uint64_t length = 0;
  std::string checksum;
  if (!(header >> length >> checksum) || checksum.size() != 64) return "malformed header";
  std::string_view payload = std::string_view(bytes).substr(eol + 1);
  if (payload.size() != length)
    return "length " + std::to_string(payload.size()) + " instead of " + std::to_string(length);
  if (sha256_hex(payload) != checksum) return "checksum mismatch";
  try {
    auto j = nlohmann::json::parse(payload);
    if (j.at("key").get<std::string>() != key) return "holds another key";
    findings = j.at("findings").get<std::vector<Finding>>();
  } catch (const std::exception& e) {
    return std::string("unreadable payload: ") + e.what();
  }
  return "";
}

}  // namespace

DiskCache::DiskCache(fs::path directory, std::uint64_t max_bytes)
    : directory_(std::move(directory)), max_bytes_(max_bytes) {}

DiskCache::~DiskCache() {
  if (size_fd_ >= 0) ::close(size_fd_);
}

fs::path DiskCache::entry_path(const std::string& key) const {
  return directory_ / (sha256_hex(key) + std::string(kEntrySuffix));
}

void DiskCache::disable(const std::string& why) {
  if (usable_.exchange(false))
    spdlog::warn("assessment cache on disk off: {} ({})", why, directory_.string());
}

bool DiskCache::usable() {
  std::call_once(checked_, [this] {
    std::error_code ec;
    if (!fs::exists(directory_, ec)) {
      fs::create_directories(directory_.parent_path(), ec);
      if (::mkdir(directory_.c_str(), 0700) != 0 && errno != EEXIST)
        return disable(std::string("cannot create the folder: ") + std::strerror(errno));
    }
    struct stat st {};
    if (::lstat(directory_.c_str(), &st) != 0)
      return disable(std::string("cannot read the folder: ") + std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) return disable("not a folder");
    if (st.st_uid != ::geteuid()) return disable("the folder belongs to another user");
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
      return disable("the folder is writable by other users");
  });
  return usable_.load();
}

bool DiskCache::get(const std::string& key, std::vector<Finding>& findings) {
  if (max_bytes_ == 0 || !usable()) return false;
  fs::path path = entry_path(key);
  std::string bytes;
  int error = 0;
  if (!read_whole(path, max_bytes_, bytes, error)) {
    if (error == ENOENT) return false;
    if (error != EINVAL) return false;  // unreadable now; not evidence of damage
    bytes.clear();                      // not a regular file, or larger than the bound
  }
  std::vector<Finding> found;
  std::string wrong =
      bytes.empty() ? "empty or not a regular file" : check_entry(bytes, key, found);
  if (!wrong.empty()) {
    spdlog::warn("assessment cache: removed a damaged entry {}: {}", path.string(), wrong);
    std::error_code ec;
    fs::remove(path, ec);
    return false;
  }
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // recently used: evicted last
  findings = std::move(found);
  return true;
}

void DiskCache::put(const std::string& key, const std::vector<Finding>& findings) {
  if (max_bytes_ == 0 || !usable()) return;
  std::string payload = nlohmann::json{{"key", key}, {"findings", findings}}.dump();
  std::string entry = std::string(kMagic) + std::to_string(payload.size()) + " " +
                      sha256_hex(payload) + "\n" + payload;
  if (entry.size() > max_bytes_) return;

  fs::path temp =
      directory_ / (std::string(kTempPrefix) + std::to_string(::getpid()) + "-" +
                    std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())) + "-" +
                    std::to_string(temp_counter_++));
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return disable(std::string("cannot write an entry: ") + std::strerror(errno));
  bool written = write_all(fd, entry);
  int saved = errno;
  if (::close(fd) != 0 && written) {
    written = false;
    saved = errno;
  }
  if (!written || ::rename(temp.c_str(), entry_path(key).c_str()) != 0) {
    if (written) saved = errno;
    ::unlink(temp.c_str());
    // A full disk is no reason to stop trying; anything else is.
    if (saved != ENOSPC && saved != EDQUOT)
      disable(std::string("cannot write an entry: ") + std::strerror(saved));
    return;
  }

  // The folder's size is kept in the file `size`, updated under a lock on it
  // by every process that writes; it errs high (a replaced or removed entry
  // stays counted) until a scan sets it to the truth, so the bound holds.
  std::lock_guard lock(size_mutex_);
  if (size_fd_ < 0) {
    size_fd_ =
        ::open((directory_ / "size").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (size_fd_ < 0)
      return disable(std::string("cannot open its size file: ") + std::strerror(errno));
  }
  while (::flock(size_fd_, LOCK_EX) != 0)
    if (errno != EINTR)
      return disable(std::string("cannot lock its size file: ") + std::strerror(errno));
  char text[32] = {};
  ssize_t n = ::pread(size_fd_, text, sizeof text - 1, 0);
  std::uint64_t bytes = 0;
  bool known = false;
  if (n > 0) {
    char* end = nullptr;
    errno = 0;
    bytes = std::strtoull(text, &end, 10);
    known = errno == 0 && end != text && *end == '\n';
  }
  bytes = known ? bytes + entry.size() : max_bytes_ + 1;  // unknown: scan to learn it
  if (bytes > max_bytes_) bytes = evict();
  std::string updated = std::to_string(bytes) + "\n";
  if (::ftruncate(size_fd_, 0) != 0 ||
      ::pwrite(size_fd_, updated.data(), updated.size(), 0) != static_cast<ssize_t>(updated.size()))
    spdlog::debug("assessment cache: cannot update its size file: {}", std::strerror(errno));
  ::flock(size_fd_, LOCK_UN);
}

// Under the size lock. Removes the least recently used entries until the folder
// is at most 3/4 of the bound (so that the folder is not scanned at every
// put), and temporary files left by processes that died while writing.
// Returns the folder's size after that.
std::uint64_t DiskCache::evict() {
  struct Entry {
    fs::path path;
    fs::file_time_type time;
    std::uint64_t size;
  };
  std::vector<Entry> entries;
  std::uint64_t total = 0;
  std::error_code ec;
  auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(directory_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::error_code entry_ec;
    auto time = it->last_write_time(entry_ec);
    if (entry_ec) continue;  // removed meanwhile
    if (name.starts_with(kTempPrefix)) {
      if (now - time > kStaleTemp) fs::remove(it->path(), entry_ec);
      continue;
    }
    if (!name.ends_with(kEntrySuffix) || !it->is_regular_file(entry_ec)) continue;
    std::uint64_t size = it->file_size(entry_ec);
    if (entry_ec) continue;
    entries.push_back({it->path(), time, size});
    total += size;
  }
  if (total > max_bytes_) {
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.time < b.time; });
    std::uint64_t target = max_bytes_ / 4 * 3;
    for (const auto& e : entries) {
      if (total <= target) break;
      std::error_code remove_ec;
      fs::remove(e.path, remove_ec);
      total -= e.size;
    }
  }
  return total;
}

}  // namespace warden
