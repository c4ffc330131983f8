// native: runs programs under bubblewrap (all namespaces, loopback-only
// network, read-only root, a sized tmpfs), a seccomp deny list, rlimits and a
// cgroup for memory, pids and CPU. No daemon. See docs/sandboxes.md.
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <warden/plugin.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "sandbox_process.h"
#include "seccomp_policy.h"
#include "shared/cgroup.h"
#include "shared/owner.h"
#include "shared/run_files.h"
#include "shared/run_result.h"
#include "shared/run_uid.h"
#include "shared/sandbox_limits.h"
#include "shared/sandbox_settings.h"
#include "shared/scratch_mount.h"

namespace warden::native {
using sandboxing::Cgroup;
using sandboxing::CgroupLimits;
using sandboxing::CgroupUsage;
namespace {

constexpr const char* kCodePath = "/sandbox/main.py";
constexpr const char* kCgroupPrefix = "warden-native-";
constexpr const char* kScratchSuffix = ".tmp";
// util-linux's prlimit, from the host's /usr: it lowers RLIMIT_FSIZE and
// execs the interpreter inside the sandbox.
constexpr const char* kPrlimit = "/usr/bin/prlimit";

bool is_symlink(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

bool is_executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

// A file descriptor closed when the holder goes.
struct OwnedFd {
  int fd = -1;
  explicit OwnedFd(int f) : fd(f) {}
  ~OwnedFd() {
    if (fd >= 0) ::close(fd);
  }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
};

std::string sanitized(const std::string& id) {
  std::string out;
  for (char c : id)
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_');
  return out.substr(0, 64);
}

class NativeBackend {
 public:
  explicit NativeBackend(const nlohmann::json& settings) {
    SettingsReader read(settings, "native");
    bwrap_ = read.absolute_path("bwrap", "/usr/bin/bwrap", "bubblewrap");
    cgroup_parent_ = sandboxing::cgroup_parent_setting(read);
    uid_range_ = sandboxing::uid_range_setting(read);
    interpreters_ = sandboxing::interpreters_setting(read);
    extra_binds_ = read.absolute_paths("read_only_binds", {});
    scratch_dir_ = read.absolute_path("scratch_dir", "/var/lib/warden/native", "a scratch folder");
    read.finish();
  }

  Availability probe() {
    std::lock_guard<std::mutex> lock(probe_mutex_);
    if (probed_) return availability_;
    availability_ = check_host();
    probed_ = true;
    // The cgroups and scratch spaces of runs whose host died (it was killed,
    // say) go first.
    if (availability_.available) {
      sandboxing::remove_dead_owners_cgroups(cgroup_parent_, kCgroupPrefix);
      sandboxing::remove_dead_owners_scratch(scratch_dir_, kScratchSuffix);
    }
    return availability_;
  }

  RunResult run(const RunRequest& request) {
    const RunSpec& spec = request.spec;
    const Limits& limits = spec.limits;
    auto interpreter = interpreters_.find(spec.language);
    if (interpreter == interpreters_.end())
      throw PluginError(WARDEN_ERR_UNSUPPORTED,
                        "language '" + spec.language + "': no interpreter configured for it");
    if (Availability a = probe(); !a.available) throw PluginError(WARDEN_ERR_UNAVAILABLE, a.reason);
    sandboxing::refuse_unenforceable(spec, "bwrap and its init");

    std::uint64_t n = ++sequence_;
    // "warden-native-<owner>-<run id>-<n>": a later host reaps it if this one dies.
    std::string id = std::string(kCgroupPrefix) + sandboxing::owner_tag(sandboxing::this_owner()) +
                     "-" + sanitized(spec.run_id) + "-" + std::to_string(n);
    std::unique_ptr<Cgroup> cgroup;
    try {
      cgroup = std::make_unique<Cgroup>(
          cgroup_parent_, id, CgroupLimits{limits.memory_bytes, limits.cpus, limits.pids});
    } catch (const std::exception& e) {
      throw PluginError(WARDEN_ERR_UNSUPPORTED, e.what());
    }
    // The working folder, /tmp: the host places the input files in it and
    // reads back what the program left there.
    sandboxing::ScratchMount scratch(
        scratch_dir_ / (sandboxing::this_owner() + "-" + sanitized(spec.run_id) + "-" +
                        std::to_string(n) + kScratchSuffix),
        limits.tmpfs_bytes);
    sandboxing::place_input_files(scratch.dir(), request.input_files);
    OwnedFd seccomp(compile_seccomp_filter());
    OwnedFd code(::memfd_create("warden-code", MFD_CLOEXEC));
    if (code.fd < 0 || ::write(code.fd, request.code.data(), request.code.size()) !=
                           static_cast<ssize_t>(request.code.size()))
      throw PluginError(WARDEN_ERR_INTERNAL,
                        std::string("cannot stage the code: ") + std::strerror(errno));
    ::lseek(code.fd, 0, SEEK_SET);

    ChildSetup setup;
    setup.program = bwrap_;
    setup.argv = bwrap_argv(spec, interpreter->second, scratch.dir());
    setup.env = {"PATH=/usr/bin:/bin"};
    setup.cgroup_fds = cgroup->join_fds();
    setup.inherited_fds = {{seccomp.fd, 3}, {code.fd, 4}};
    std::optional<sandboxing::RunUid> run_uid;
    try {
      if (uid_range_.count > 0) run_uid.emplace(uid_range_);
    } catch (const std::exception& e) {
      throw PluginError(WARDEN_ERR_UNAVAILABLE, e.what());
    }
    setup.uid = run_uid ? run_uid->uid() : spec.uid;
    setup.gid = run_uid ? run_uid->uid() : spec.gid;
    setup.rlimits = rlimits_for(limits);

    ChildOutcome outcome;
    try {
      outcome = run_child(
          setup, request.stdin_data, limits.wall_time_ms, limits.output_bytes, request.output,
          [&] { return request.cancellation.cancelled(); },
          [&] { return cgroup->cpu_time_ms() >= limits.cpu_time_ms; }, [&] { cgroup->kill_all(); });
    } catch (const std::exception& e) {
      throw PluginError(WARDEN_ERR_INTERNAL, e.what());
    }
    if (outcome.cancelled) throw PluginError(WARDEN_ERR_CANCELLED, "the host cancelled the run");
    CgroupUsage usage = cgroup->usage();
    cgroup.reset();  // kills anything left and removes the cgroup before we report

    // bwrap exits with the program's status, or 128 + the signal that killed it.
    RunResult result = sandboxing::interpret_run(
        {.status = WIFEXITED(outcome.wait_status) ? WEXITSTATUS(outcome.wait_status)
                                                  : 128 + WTERMSIG(outcome.wait_status),
         .timed_out = outcome.timed_out,
         .cpu_time_exceeded = outcome.cpu_time_exceeded,
         .output_truncated = outcome.output_truncated,
         .wall_time_ms = outcome.wall_time_ms,
         .usage = usage},
        limits);
    result.backend_run_id = id;
    result.stdout_data = std::move(outcome.out);
    result.stderr_data = std::move(outcome.err);
    bool over_limit = false;
    result.files_skipped = sandboxing::hand_back_output_files(
        scratch.dir(), request.input_files, limits, request.output_files, over_limit);
    if (over_limit) result.limits_hit.push_back("output_files");
    return result;
  }

 private:
  Availability check_host() {
    Availability a;
    a.tool_version = "bubblewrap";
    if (!is_executable(bwrap_)) {
      a.reason = "bubblewrap not found at " + bwrap_ + " (apt-get install bubblewrap)";
      return a;
    }
    if (::geteuid() != 0) {
      a.reason =
          "the native backend needs root to place runs in cgroups and switch to the sandbox user";
      return a;
    }
    if (std::string why = Cgroup::unusable_reason(cgroup_parent_); !why.empty()) {
      a.reason = why;
      return a;
    }
    std::error_code ec;
    std::filesystem::create_directories(scratch_dir_, ec);
    if (ec) {
      a.reason = "cannot create the scratch folder " + scratch_dir_.string() + ": " + ec.message();
      return a;
    }
    if (!is_executable(kPrlimit)) {
      a.reason = std::string("prlimit not found at ") + kPrlimit + " (apt-get install util-linux)";
      return a;
    }
    for (const auto& [language, argv] : interpreters_)
      if (!is_executable(argv[0])) {
        a.reason = "interpreter for " + language + " not found at " + argv[0];
        return a;
      }
    a.available = true;
    a.cache_key = bwrap_;
    return a;
  }

  static std::vector<std::pair<int, rlimit>> rlimits_for(const Limits& l) {
    rlim_t cpu_s = sandboxing::cpu_limit_seconds(l);
    // The address space is larger than the memory limit: thread stacks and
    // malloc arenas reserve far more than they use. The cgroup holds memory.
    rlim_t address_space = std::max<rlim_t>(2 * l.memory_bytes, l.memory_bytes + (512ull << 20));
    return {{RLIMIT_AS, {address_space, address_space}},
            {RLIMIT_CPU, {cpu_s, cpu_s + 1}},
            {RLIMIT_NOFILE, {l.open_files, l.open_files}},
            {RLIMIT_MSGQUEUE, {0, 0}},  // POSIX message queues: memory outside the limits
            {RLIMIT_CORE, {0, 0}}};
  }

  std::vector<std::string> bwrap_argv(const RunSpec& spec,
                                      const std::vector<std::string>& interpreter,
                                      const std::filesystem::path& scratch) {
    std::vector<std::string> a = {bwrap_,          "--unshare-all", "--die-with-parent",
                                  "--new-session", "--hostname",    "sandbox"};
    if (spec.network == NetworkMode::kOpen) a.push_back("--share-net");
    a.insert(a.end(), {"--ro-bind", "/usr", "/usr"});
    for (const char* top : {"/lib", "/lib64", "/lib32", "/bin", "/sbin"}) {
      std::string path = top;
      if (is_symlink(path)) {
        char target[256] = {};
        ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
        if (n > 0)
          a.insert(a.end(), {"--symlink", std::string(target, static_cast<std::size_t>(n)), path});
      } else if (::access(path.c_str(), F_OK) == 0) {
        a.insert(a.end(), {"--ro-bind", path, path});
      }
    }
    a.insert(a.end(), {"--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"});
    if (spec.network == NetworkMode::kOpen)
      for (const char* f : {"/etc/resolv.conf", "/etc/hosts", "/etc/ssl", "/etc/nsswitch.conf"})
        a.insert(a.end(), {"--ro-bind-try", f, f});
    for (const auto& path : extra_binds_) a.insert(a.end(), {"--ro-bind", path, path});
    // /dev is built on the read-only root: device nodes only, and /dev/shm
    // leads into the scratch space, so that it counts against its size.
    a.insert(a.end(), {"--proc", "/proc"});
    for (const char* device :
         {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"})
      a.insert(a.end(), {"--dev-bind", device, device});
    a.insert(a.end(), {"--symlink", "/proc/self/fd", "/dev/fd", "--symlink", "/proc/self/fd/0",
                       "/dev/stdin", "--symlink", "/proc/self/fd/1", "/dev/stdout", "--symlink",
                       "/proc/self/fd/2", "/dev/stderr", "--symlink", "/tmp", "/dev/shm"});
    a.insert(a.end(), {"--bind", scratch.string(), "/tmp", "--ro-bind-data", "4", kCodePath,
                       "--remount-ro", "/"});
    a.insert(a.end(), {"--chdir", "/tmp", "--clearenv"});
    std::map<std::string, std::string> env = {
        {"HOME", "/tmp"}, {"PATH", "/usr/bin:/bin"}, {"TMPDIR", "/tmp"}};
    for (const auto& [k, v] : spec.env) env[k] = v;
    for (const auto& [k, v] : env) a.insert(a.end(), {"--setenv", k, v});
    // The file size limit applies from the program on: bwrap itself writes the
    // program into the sandbox, whatever its size.
    std::string file_size = std::to_string(spec.limits.file_size_bytes);
    a.insert(a.end(),
             {"--seccomp", "3", "--", kPrlimit, "--fsize=" + file_size + ":" + file_size, "--"});
    a.insert(a.end(), interpreter.begin(), interpreter.end());
    a.push_back(kCodePath);
    a.insert(a.end(), spec.args.begin(), spec.args.end());
    return a;
  }

  std::string bwrap_;
  std::string cgroup_parent_;
  std::map<std::string, std::vector<std::string>> interpreters_;
  std::vector<std::string> extra_binds_;
  std::filesystem::path scratch_dir_;
  sandboxing::UidRange uid_range_;
  std::mutex probe_mutex_;
  bool probed_ = false;
  Availability availability_;
  std::atomic<std::uint64_t> sequence_{0};
};

}  // namespace
}  // namespace warden::native

WARDEN_SANDBOX_PLUGIN(warden::native::NativeBackend, "native", "0.1.0",
                      "bubblewrap + seccomp + rlimits + cgroups; no daemon")
