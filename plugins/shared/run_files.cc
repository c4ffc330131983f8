#include "shared/run_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <string>

namespace warden::sandboxing {
namespace {

namespace fs = std::filesystem;

// How many entries of the scratch space are looked at, at most: a program
// that leaves a million empty files costs the host a bounded walk.
constexpr std::size_t kMaxEntriesWalked = 10'000;

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

[[noreturn]] void fail(const std::string& what, int err) {
  throw PluginError(err == ENOSPC || err == EDQUOT ? WARDEN_ERR_UNSUPPORTED : WARDEN_ERR_INTERNAL,
                    what + ": " +
                        (err == ENOSPC || err == EDQUOT
                             ? std::string("the input files do not fit the scratch space (tmpfs)")
                             : std::string(std::strerror(err))));
}

void write_all(int fd, std::string_view bytes, const std::string& what) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("cannot place input file " + what, n < 0 ? errno : ENOSPC);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

struct Found {
  std::string path;
  std::uint64_t size = 0;
  std::string problem;  // why it cannot be handed back, whatever the limits
};

struct Walk {
  const std::set<std::string_view>& inputs;
  std::vector<Found> found;
  std::size_t walked = 0;
  bool cut_short = false;

  void folder(int dir_fd, const std::string& prefix, std::size_t depth) {
    DIR* listing = ::fdopendir(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
    if (listing == nullptr) return;
    while (const dirent* entry = ::readdir(listing)) {
      std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      if (++walked > kMaxEntriesWalked) {
        cut_short = true;
        break;
      }
      std::string path = prefix + name;
      struct stat st {};
      if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        if (depth + 1 >= kMaxRunFileDepth) {
          found.push_back({path, 0, "a folder deeper than " + std::to_string(kMaxRunFileDepth)});
          continue;
        }
        Fd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub.fd >= 0) folder(sub.fd, path + "/", depth + 1);
      } else if (!S_ISREG(st.st_mode)) {
        found.push_back({path, 0, "not a regular file (a symbolic link, FIFO, socket or device)"});
      } else if (!inputs.count(path)) {
        found.push_back(
            {path, static_cast<std::uint64_t>(st.st_size), run_file_path_problem(path)});
      }
    }
    ::closedir(listing);
  }
};

// Reads at most `most` bytes of the regular file `path` beneath `root_fd`,
// never through a symbolic link or out of the scratch space.
std::optional<std::string> read_beneath(int root_fd, const std::string& path, std::uint64_t most) {
  open_how how{};
  how.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  Fd fd(static_cast<int>(::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how)));
  struct stat st {};
  if (fd.fd < 0 || ::fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  std::string content(std::min<std::uint64_t>(most, static_cast<std::uint64_t>(st.st_size)), '\0');
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::read(fd.fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  content.resize(done);
  return content;
}

}  // namespace

void place_input_files(const fs::path& dir, const std::vector<InputFile>& files) {
  for (const InputFile& file : files) {
    std::string path(file.path);
    fs::path target = dir / path;
    for (fs::path folder = fs::path(path).parent_path(), made = dir; const auto& name : folder) {
      made /= name;
      if (::mkdir(made.c_str(), 0755) != 0 && errno != EEXIST)
        fail("cannot make the folder of input file " + path, errno);
      ::chmod(made.c_str(), 0755);  // whatever the umask
    }
    Fd fd(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444));
    if (fd.fd < 0) fail("cannot place input file " + path, errno);
    write_all(fd.fd, file.content, path);
    ::fchmod(fd.fd, 0444);
  }
}

void hand_back_output_files(const fs::path& dir, const RunRequest& request, RunResult& result) {
  const Limits& limits = request.spec.limits;
  bool over_limit = false;
  Fd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (root.fd < 0) fail("cannot open the scratch space " + dir.string(), errno);
  std::set<std::string_view> input_paths;
  for (const InputFile& f : request.input_files) input_paths.insert(f.path);
  Walk walk{input_paths, {}};
  walk.folder(root.fd, "", 0);
  std::sort(walk.found.begin(), walk.found.end(),
            [](const Found& a, const Found& b) { return a.path < b.path; });

  std::vector<SkippedFile>& skipped = result.files_skipped;
  std::uint32_t kept = 0;
  std::uint64_t bytes = 0;
  for (const Found& f : walk.found) {
    std::string reason = f.problem;
    if (reason.empty() && kept >= limits.output_files)
      reason = "over the output_files limit (" + std::to_string(limits.output_files) + " files)";
    else if (reason.empty() && f.size > limits.output_files_bytes - bytes)
      reason = "over the output_files_size limit (" + std::to_string(limits.output_files_bytes) +
               " bytes in all)";
    if (reason.empty()) {
      std::optional<std::string> content =
          read_beneath(root.fd, f.path, limits.output_files_bytes - bytes);
      if (content) {
        request.output_files.add(f.path, *content);
        ++kept;
        bytes += content->size();
        continue;
      }
      reason = "could not be read";
    } else if (f.problem.empty()) {
      over_limit = true;
    }
    skipped.push_back({f.path, f.size, reason});
  }
  if (skipped.size() > kMaxSkippedListed) {
    std::size_t rest = skipped.size() - kMaxSkippedListed;
    skipped.resize(kMaxSkippedListed);
    skipped.push_back({"", 0, std::to_string(rest) + " more left out, not listed"});
  }
  if (walk.cut_short)
    skipped.push_back({"", 0,
                       "more than " + std::to_string(kMaxEntriesWalked) +
                           " entries in the working folder: the rest were not looked at"});
  if (over_limit) result.limits_hit.push_back("output_files");
}

}  // namespace warden::sandboxing
