#include "shared/cgroup.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace warden::sandboxing {
namespace {

constexpr const char* kRoot = "/sys/fs/cgroup";
constexpr std::uint64_t kCpuPeriodUs = 100'000;

bool exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes a value to a cgroup control file; throws naming `limit` on failure.
void write_control(const std::string& path, const std::string& value, const std::string& limit) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    int err = errno;
    if (fd >= 0) ::close(fd);
    throw std::runtime_error(limit + ": cannot write '" + value + "' to " + path + ": " +
                             std::strerror(err));
  }
  ::close(fd);
}

// The number after `key` in a "key value" per-line file, or 0.
std::uint64_t keyed_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  std::uint64_t v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

std::uint64_t number_in(const std::string& path) {
  try {
    return std::stoull(read_text(path));
  } catch (const std::exception&) {
    return 0;
  }
}

bool v2_host() {
  std::string controllers = read_text(std::string(kRoot) + "/cgroup.controllers");
  return controllers.find("memory") != std::string::npos &&
         controllers.find("pids") != std::string::npos;
}

// A cgroup folder; `shared` (a parent) may exist already, a run's own may not:
// two runs in one cgroup would kill and measure each other.
void make_dir(const std::string& path, const std::string& limit, bool shared) {
  if (::mkdir(path.c_str(), 0755) != 0 && (errno != EEXIST || !shared))
    throw std::runtime_error(limit + ": cannot create cgroup " + path + ": " +
                             std::strerror(errno));
}

// Registers an eventfd for OOM notifications at <memory_dir>'s limit (v1's
// cgroup.event_control); it becomes readable once the OOM killer ran there.
int oom_eventfd(const std::string& memory_dir) {
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) throw std::runtime_error(std::string("cgroup: eventfd: ") + std::strerror(errno));
  int control = ::open((memory_dir + "/memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC);
  if (control < 0) {
    ::close(efd);
    throw std::runtime_error("cgroup: cannot open " + memory_dir +
                             "/memory.oom_control: " + std::strerror(errno));
  }
  std::string registration = std::to_string(efd) + " " + std::to_string(control);
  try {
    write_control(memory_dir + "/cgroup.event_control", registration, "memory");
  } catch (...) {
    ::close(control);
    ::close(efd);
    throw;
  }
  ::close(control);  // the kernel holds its own reference
  return efd;
}

bool signalled(int event_fd) {
  pollfd p{event_fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

// Removes a cgroup and the cgroups below it, deepest first. The kernel may
// need a moment after the last task leaves before rmdir succeeds.
void remove_tree(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.is_directory() && !entry.is_symlink()) remove_tree(entry.path().string());
  for (int attempt = 0; attempt < 200 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++attempt)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

// The processes in a cgroup and in those below it.
void collect_procs(const std::string& dir, std::vector<pid_t>& pids) {
  std::istringstream in(read_text(dir + "/cgroup.procs"));
  pid_t pid = 0;
  while (in >> pid) pids.push_back(pid);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.is_directory() && !entry.is_symlink()) collect_procs(entry.path().string(), pids);
}

std::vector<pid_t> procs_in(const std::string& dir) {
  std::vector<pid_t> pids;
  collect_procs(dir, pids);
  return pids;
}

// "<root>/<parent>" on v2; on v1 the same in every hierarchy, since an engine
// given a cgroup parent makes its cgroups in the controllers it uses, not
// only in warden's.
std::vector<std::string> parent_dirs(const std::string& parent) {
  if (v2_host()) return {std::string(kRoot) + "/" + parent};
  std::vector<std::string> dirs;
  std::error_code ec;
  for (const auto& hierarchy : std::filesystem::directory_iterator(kRoot, ec))
    if (hierarchy.is_directory() && !hierarchy.is_symlink())
      dirs.push_back(hierarchy.path().string() + "/" + parent);
  return dirs;
}

}  // namespace

void Cgroup::remove_stale(const std::string& parent,
                          const std::function<bool(const std::string&)>& stale) {
  std::error_code ec;
  for (const auto& base : parent_dirs(parent))
    for (const auto& entry : std::filesystem::directory_iterator(base, ec)) {
      if (!entry.is_directory() || entry.is_symlink() || !stale(entry.path().filename().string()))
        continue;
      for (pid_t pid : procs_in(entry.path().string())) ::kill(pid, SIGKILL);
      remove_tree(entry.path().string());
    }
}

std::string Cgroup::unusable_reason(const std::string& parent) {
  if (v2_host()) {
    if (::access(kRoot, W_OK) != 0)
      return std::string("cgroup v2 at ") + kRoot + " is not writable by this user";
    return "";
  }
  for (const char* controller : {"memory", "pids", "cpu", "cpuacct"}) {
    std::string dir = std::string(kRoot) + "/" + controller;
    if (!exists(dir + "/cgroup.procs"))
      return std::string("cgroup controller '") + controller + "' is not mounted at " + dir;
    std::string base = dir + "/" + parent;
    if (::access(exists(base) ? base.c_str() : dir.c_str(), W_OK) != 0)
      return std::string("cgroup controller '") + controller + "' at " + dir +
             " is not writable by this user";
  }
  return "";
}

Cgroup::Cgroup(const std::string& parent, const std::string& name, const CgroupLimits& limits)
    : parent_(parent), name_(name), v2_(v2_host()) {
  try {
    if (v2_) {
      std::string base = std::string(kRoot) + "/" + parent;
      make_dir(base, "cgroup", true);
      write_control(std::string(kRoot) + "/cgroup.subtree_control", "+memory +pids +cpu", "cgroup");
      write_control(base + "/cgroup.subtree_control", "+memory +pids +cpu", "cgroup");
      std::string dir = base + "/" + name;
      make_dir(dir, "cgroup", false);
      dirs_.push_back(dir);
    } else {
      for (const char* controller : {"memory", "pids", "cpu", "cpuacct"}) {
        std::string base = std::string(kRoot) + "/" + controller + "/" + parent;
        make_dir(base, controller, true);
        std::string dir = base + "/" + name;
        make_dir(dir, controller, false);
        dirs_.push_back(dir);
      }
    }
    set_limits(limits);
    for (const auto& dir : dirs_) {
      int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0)
        throw std::runtime_error("cgroup: cannot open " + dir +
                                 "/cgroup.procs: " + std::strerror(errno));
      join_fds_.push_back(fd);
    }
  } catch (...) {
    for (int fd : join_fds_) ::close(fd);
    if (oom_event_fd_ >= 0) ::close(oom_event_fd_);
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) ::rmdir(it->c_str());
    throw;
  }
}

void Cgroup::set_limits(const CgroupLimits& limits) {
  std::string quota =
      std::to_string(static_cast<std::uint64_t>(std::ceil(limits.cpus * kCpuPeriodUs)));
  if (v2_) {
    const std::string& dir = dirs_[0];
    if (limits.memory_bytes) {
      write_control(dir + "/memory.max", std::to_string(limits.memory_bytes), "memory");
      if (exists(dir + "/memory.swap.max")) write_control(dir + "/memory.swap.max", "0", "memory");
    }
    if (limits.pids) write_control(dir + "/pids.max", std::to_string(limits.pids), "pids");
    if (limits.cpus > 0)
      write_control(dir + "/cpu.max", quota + " " + std::to_string(kCpuPeriodUs), "cpus");
    return;
  }
  const std::string& memory = dirs_[0];
  if (limits.memory_bytes) {
    // memory.limit_in_bytes first: memsw may never be below it.
    write_control(memory + "/memory.limit_in_bytes", std::to_string(limits.memory_bytes), "memory");
    // Without swap accounting the limit would hold for RAM only and swap could absorb the
    // rest; this host has no swap when memsw is absent, which the probe reports.
    if (exists(memory + "/memory.memsw.limit_in_bytes"))
      write_control(memory + "/memory.memsw.limit_in_bytes", std::to_string(limits.memory_bytes),
                    "memory");
    if (oom_event_fd_ < 0) oom_event_fd_ = oom_eventfd(memory);
  }
  if (limits.pids) write_control(dirs_[1] + "/pids.max", std::to_string(limits.pids), "pids");
  if (limits.cpus > 0) {
    write_control(dirs_[2] + "/cpu.cfs_period_us", std::to_string(kCpuPeriodUs), "cpus");
    write_control(dirs_[2] + "/cpu.cfs_quota_us", quota, "cpus");
  }
}

void Cgroup::begin_measuring() {
  cpu_baseline_ms_ = 0;
  cpu_baseline_ms_ = cpu_time_ms();
  if (!dirs_.empty()) pids_peak_before_ = number_in((v2_ ? dirs_[0] : dirs_[1]) + "/pids.peak");
  if (!v2_) {
    int fd = ::open((dirs_[0] + "/memory.max_usage_in_bytes").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      [[maybe_unused]] auto n = ::write(fd, "0", 1);
      ::close(fd);
    }
  }
}

bool Cgroup::pids_refused() const {
  const std::string& dir = v2_ ? dirs_[0] : dirs_[1];
  if (keyed_value(read_text(dir + "/pids.events"), "max") > 0) return true;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (it->is_directory(ec) &&
        keyed_value(read_text((it->path() / "pids.events").string()), "max") > 0)
      return true;
  return false;
}

Cgroup::~Cgroup() {
  kill_all();
  for (int fd : join_fds_) ::close(fd);
  if (oom_event_fd_ >= 0) ::close(oom_event_fd_);
  for (const auto& base : parent_dirs(parent_))
    if (std::string dir = base + "/" + name_; exists(dir)) remove_tree(dir);
}

void Cgroup::kill_now() {
  if (dirs_.empty()) return;
  const std::string& dir = v2_ ? dirs_[0] : dirs_[1];
  if (v2_ && exists(dir + "/cgroup.kill")) {
    int fd = ::open((dir + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      bool sent = ::write(fd, "1", 1) == 1;
      ::close(fd);
      if (sent) return;
    }
  }
  for (pid_t pid : procs_in(dir)) ::kill(pid, SIGKILL);
}

std::vector<pid_t> Cgroup::processes() const {
  if (dirs_.empty()) return {};
  return procs_in(v2_ ? dirs_[0] : dirs_[1]);
}

void Cgroup::kill_all() {
  if (dirs_.empty()) return;
  // Every process of the run is in the pids hierarchy (v1) or the one cgroup (v2).
  const std::string& dir = v2_ ? dirs_[0] : dirs_[1];
  if (v2_ && exists(dir + "/cgroup.kill")) {
    int fd = ::open((dir + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      [[maybe_unused]] auto n = ::write(fd, "1", 1);
      ::close(fd);
    }
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    auto pids = procs_in(dir);
    if (pids.empty()) return;
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::microseconds(250));
  }
}

CgroupUsage Cgroup::usage() const {
  CgroupUsage u;
  if (dirs_.empty()) return u;
  if (v2_) {
    const std::string& dir = dirs_[0];
    u.peak_memory_bytes = number_in(dir + "/memory.peak");
    std::string events = read_text(dir + "/memory.events");
    u.oom_killed = keyed_value(events, "oom_kill") > 0;
  } else {
    u.peak_memory_bytes = number_in(dirs_[0] + "/memory.max_usage_in_bytes");
    u.oom_killed = keyed_value(read_text(dirs_[0] + "/memory.oom_control"), "oom_kill") > 0 ||
                   (oom_event_fd_ >= 0 && signalled(oom_event_fd_));
  }
  u.pids_refused = pids_refused();
  u.pids_peak = number_in((v2_ ? dirs_[0] : dirs_[1]) + "/pids.peak");
  u.pids_peak_before = pids_peak_before_;
  u.cpu_time_ms = cpu_time_ms();
  return u;
}

std::uint64_t Cgroup::cpu_time_ms() const {
  if (dirs_.empty()) return 0;
  std::uint64_t total = v2_ ? keyed_value(read_text(dirs_[0] + "/cpu.stat"), "usage_usec") / 1000
                            : number_in(dirs_[3] + "/cpuacct.usage") / 1'000'000;
  return total - std::min(total, cpu_baseline_ms_);
}

}  // namespace warden::sandboxing
