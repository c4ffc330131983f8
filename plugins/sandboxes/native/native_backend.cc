// native: runs programs under bubblewrap (all namespaces, loopback-only
// network, read-only root, a sized tmpfs), a seccomp deny list, rlimits and a
// cgroup for memory, pids and CPU. No daemon. A warm pool keeps sandboxes
// started ahead of need, each with the launcher waiting for its program
// (warm_pool setting). See docs/sandboxes.md.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <warden/plugin.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "sandbox_process.h"
#include "seccomp_policy.h"
#include "shared/cgroup.h"
#include "shared/launcher.h"
#include "shared/owner.h"
#include "shared/pipe_write.h"
#include "shared/run_files.h"
#include "shared/run_mounts.h"
#include "shared/run_result.h"
#include "shared/run_uid.h"
#include "shared/sandbox_limits.h"
#include "shared/sandbox_settings.h"
#include "shared/scratch_mount.h"
#include "shared/staging.h"
#include "shared/warm_pool.h"

namespace warden::native {
using sandboxing::Cgroup;
using sandboxing::CgroupLimits;
using sandboxing::CgroupUsage;
namespace {

constexpr const char* kCodePath = "/sandbox/main.py";
constexpr const char* kCgroupPrefix = "warden-native-";
constexpr const char* kScratchSuffix = ".tmp";
// A run's egress socket and site folder, bound on the host beside its scratch
// space (sandboxing::HostBind) for bwrap to bind from there.
constexpr const char* kEgressSuffix = ".egress";
constexpr const char* kSiteSuffix = ".site";
// util-linux's prlimit, from the host's /usr: it lowers RLIMIT_FSIZE and
// execs the interpreter inside the sandbox.
constexpr const char* kPrlimit = "/usr/bin/prlimit";
constexpr const char* kStagingSuffix = ".stage";
// How long a warm sandbox's launcher may take to open its FIFO.
constexpr auto kLauncherStartTimeout = std::chrono::seconds(10);
// A warm sandbox runs one process more than a direct run: the launcher,
// which stays as the run's watchdog beside bwrap and its init. The run's
// pids limit is raised by it, so that the program has as many as before.
constexpr std::uint32_t kLauncherProcesses = 1;
// The launcher's status fd in a warm sandbox (launcher.h), and the fds it
// makes the program's stdin, stdout and stderr.
constexpr int kStatusFd = 4;
constexpr int kProgramStdio[] = {5, 6, 7};

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

// A started sandbox whose launcher waits for its program, with everything
// that goes with it: its cgroup (no limits until a run takes it), its own
// uid, the staging folder (/sandbox) and scratch mount (/tmp), bwrap and its
// pipes, and the FIFO's write end. Used for one run only. Destroying it ends
// the sandbox (the FIFO closes, the cgroup is emptied), reaps bwrap, then
// unmounts the scratch space and removes the staging folder and the cgroup
// and releases the uid.
class WarmSandbox {
 public:
  std::string id;
  std::unique_ptr<Cgroup> cgroup;
  std::unique_ptr<sandboxing::RunUid> uid;
  std::unique_ptr<sandboxing::StagingFolder> staging;
  std::unique_ptr<sandboxing::ScratchMount> scratch;
  // bwrap, its stdin closed, its stdout and stderr a pipe of their own (its
  // own messages, and the launcher's should it fail).
  StartedChild bwrap;
  // The program's stdin, stdout and stderr and the launcher's status fd:
  // pipes the launcher holds (fds 5, 6, 7 and 4) and hands on to the program.
  StartedChild program;
  // Held open for the whole run: the launcher starts the program when "g"
  // comes through it, and ends the sandbox when it closes.
  int go_fd = -1;

  WarmSandbox() = default;
  WarmSandbox(const WarmSandbox&) = delete;
  WarmSandbox& operator=(const WarmSandbox&) = delete;
  ~WarmSandbox() {
    if (go_fd >= 0) ::close(go_fd);
    if (cgroup) cgroup->kill_all();
    if (bwrap.pid > 0) ::waitpid(bwrap.pid, nullptr, 0);
    for (const StartedChild* c : {&bwrap, &program})
      for (int fd : {c->stdin_fd, c->stdout_fd, c->stderr_fd, c->status_fd})
        if (fd >= 0) ::close(fd);
    scratch.reset();
    staging.reset();
    cgroup.reset();
    uid.reset();
  }
  // A waiting launcher prints nothing and bwrap runs on: output, an end of
  // output or bwrap's exit means the sandbox is gone.
  bool alive() {
    if (bwrap.pid <= 0) return false;
    if (::waitpid(bwrap.pid, nullptr, WNOHANG) == bwrap.pid) {
      bwrap.pid = -1;
      return false;
    }
    pollfd p[2] = {{program.stdout_fd, POLLIN, 0}, {program.status_fd, POLLIN, 0}};
    return ::poll(p, 2, 0) == 0;
  }
};

// What a warm sandbox fixes when it starts: network, tmpfs size, and the
// uid/gid when the backend has no uid range. Runs of one shape can share a pool.
// (Runs with mounts of their own, has_own_mounts(), never use the pool.)
std::string shape_of(const RunSpec& spec, bool own_uids) {
  return std::string(to_string(spec.network)) + "|" + std::to_string(spec.limits.tmpfs_bytes) +
         "|" + (own_uids ? "range" : std::to_string(spec.uid) + ":" + std::to_string(spec.gid));
}

// A wait() status as a run's status: the exit status, or 128 + the signal
// that killed it.
int run_status(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

// The result of a run that ended with `status`, from what the host saw of
// it; takes the output from `outcome`.
RunResult result_of(ChildOutcome& outcome, int status, const CgroupUsage& usage,
                    const Limits& limits, const std::string& backend_run_id) {
  RunResult result = sandboxing::interpret_run({.status = status,
                                                .timed_out = outcome.timed_out,
                                                .cpu_time_exceeded = outcome.cpu_time_exceeded,
                                                .output_truncated = outcome.output_truncated,
                                                .wall_time_ms = outcome.wall_time_ms,
                                                .usage = usage},
                                               limits);
  result.backend_run_id = backend_run_id;
  result.stdout_data = std::move(outcome.out);
  result.stderr_data = std::move(outcome.err);
  return result;
}

// Numbers the sandboxes' cgroups, scratch spaces and staging folders: unique
// across the backends of this process (two Hosts each have one), which
// share the owner tag.
std::atomic<std::uint64_t> sequence{0};

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
    auto warm_pool = static_cast<std::size_t>(read.whole_number("warm_pool", 2, 0, 16));
    read.finish();
    // Without its launcher (a broken install), runs start their own, as without a pool.
    if (!is_executable(sandboxing::launcher_program())) warm_pool = 0;
    // The pool's thread starts the warm sandboxes and lives as long as the
    // backend: each bwrap dies with the thread that started it.
    pool_ = std::make_unique<sandboxing::WarmPool<WarmSandbox>>(
        warm_pool, [this](const RunSpec& spec) { return prepare(spec); });
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
      for (const char* suffix : {kScratchSuffix, kEgressSuffix, kSiteSuffix})
        sandboxing::remove_dead_owners_scratch(scratch_dir_, suffix);
      remove_dead_owners_staging();
    }
    return availability_;
  }

  RunResult run(const RunRequest& request) {
    const RunSpec& spec = request.spec;
    auto interpreter = interpreters_.find(spec.language);
    if (interpreter == interpreters_.end())
      throw PluginError(WARDEN_ERR_UNSUPPORTED,
                        "language '" + spec.language + "': no interpreter configured for it");
    sandboxing::check_run_mounts(spec);
    if (Availability a = probe(); !a.available) throw PluginError(WARDEN_ERR_UNAVAILABLE, a.reason);
    sandboxing::refuse_unenforceable(spec, "bwrap and its init");
    // A warm sandbox's mounts are fixed when it starts: a run that binds an
    // egress socket or a site folder gets a sandbox of its own.
    if (pool_->per_shape() == 0 || sandboxing::has_own_mounts(spec))
      return run_direct(request, interpreter->second);
    // A sandbox of the pool, or, when it has none of the run's shape (yet),
    // a direct run: no slower than without a pool, where starting a warm
    // sandbox on the run's path would add the launcher's start.
    std::string shape = shape_of(spec, uid_range_.count > 0);
    std::unique_ptr<WarmSandbox> sandbox = pool_->take(shape);
    try {
      RunResult result = sandbox ? run_in(*sandbox, request, interpreter->second)
                                 : run_direct(request, interpreter->second);
      after_run(shape, spec, std::move(sandbox));
      return result;
    } catch (...) {
      after_run(shape, spec, std::move(sandbox));
      throw;
    }
  }

 private:
  // Without the pool: everything the run needs is made for it, on its path.
  RunResult run_direct(const RunRequest& request, const std::vector<std::string>& interpreter) {
    const RunSpec& spec = request.spec;
    const Limits& limits = spec.limits;
    std::uint64_t n = ++sequence;
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
    std::string base =
        sandboxing::this_owner() + "-" + sanitized(spec.run_id) + "-" + std::to_string(n);
    sandboxing::ScratchMount scratch(scratch_dir_ / (base + kScratchSuffix), limits.tmpfs_bytes);
    sandboxing::place_input_files(scratch.dir(), request.input_files);
    // The egress socket and site folder, bound where the sandbox's user
    // reaches them whatever the folders above the originals allow.
    RunSpec bound = spec;
    std::optional<sandboxing::HostBind> egress, site;
    if (!spec.egress_socket.empty()) {
      egress.emplace(spec.egress_socket, scratch_dir_ / (base + kEgressSuffix));
      bound.egress_socket = egress->path().string();
    }
    if (!spec.site_dir.empty()) {
      site.emplace(spec.site_dir, scratch_dir_ / (base + kSiteSuffix));
      bound.site_dir = site->path().string();
    }
    OwnedFd seccomp(seccomp_filter_fd());
    OwnedFd code(::memfd_create("warden-code", MFD_CLOEXEC));
    if (code.fd < 0 || ::write(code.fd, request.code.data(), request.code.size()) !=
                           static_cast<ssize_t>(request.code.size()))
      throw PluginError(WARDEN_ERR_INTERNAL,
                        std::string("cannot stage the code: ") + std::strerror(errno));
    ::lseek(code.fd, 0, SEEK_SET);

    ChildSetup setup;
    setup.program = bwrap_;
    setup.argv = bwrap_argv(bound, interpreter, scratch.dir());
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
    RunResult result = result_of(outcome, run_status(outcome.wait_status), usage, limits, id);
    sandboxing::hand_back_output_files(scratch.dir(), request, result);
    return result;
  }

  // After a run of the shape: the pool tears its sandbox down, and keeps
  // the shape warm from its second run in this process on (a one-shot
  // `warden run` starts no sandbox it would not use).
  void after_run(const std::string& shape, const RunSpec& spec, std::unique_ptr<WarmSandbox> used) {
    pool_->retire_later(std::move(used));
    {
      std::lock_guard<std::mutex> lock(shapes_mutex_);
      if (++runs_by_shape_[shape] < 2) return;
    }
    pool_->refill_later(shape, spec);
  }

  // Starts a sandbox for runs shaped like the spec: bwrap with every
  // namespace and the seccomp filter, as the sandbox's own uid, in a cgroup
  // without limits yet, running the launcher, which waits for the host's go.
  std::unique_ptr<WarmSandbox> prepare(const RunSpec& spec) {
    auto sb = std::make_unique<WarmSandbox>();
    std::uint64_t n = ++sequence;
    const std::string& owner = sandboxing::this_owner();
    // "warden-native-<owner>-w<n>": a later host reaps it if this one dies.
    sb->id = std::string(kCgroupPrefix) + sandboxing::owner_tag(owner) + "-w" + std::to_string(n);
    try {
      sb->cgroup = std::make_unique<Cgroup>(cgroup_parent_, sb->id, CgroupLimits{});
    } catch (const std::exception& e) {
      throw PluginError(WARDEN_ERR_UNSUPPORTED, e.what());
    }
    try {
      if (uid_range_.count > 0) sb->uid = std::make_unique<sandboxing::RunUid>(uid_range_);
    } catch (const std::exception& e) {
      throw PluginError(WARDEN_ERR_UNAVAILABLE, e.what());
    }
    std::string base = owner + "-w" + std::to_string(n);
    sb->staging =
        std::make_unique<sandboxing::StagingFolder>(scratch_dir_ / (base + kStagingSuffix));
    sb->scratch = std::make_unique<sandboxing::ScratchMount>(scratch_dir_ / (base + kScratchSuffix),
                                                             spec.limits.tmpfs_bytes);
    OwnedFd seccomp(seccomp_filter_fd());
    // The launcher's status pipe and the program's stdin, stdout and stderr.
    int pipes[4][2];
    for (auto& p : pipes)
      if (::pipe2(p, O_CLOEXEC) != 0)
        throw PluginError(WARDEN_ERR_INTERNAL, std::string("pipe: ") + std::strerror(errno));
    sb->program = {.pid = -1,
                   .stdin_fd = pipes[1][1],
                   .stdout_fd = pipes[2][0],
                   .stderr_fd = pipes[3][0],
                   .status_fd = pipes[0][0]};
    OwnedFd status_write(pipes[0][1]), stdin_read(pipes[1][0]), stdout_write(pipes[2][1]),
        stderr_write(pipes[3][1]);
    ChildSetup setup;
    setup.program = bwrap_;
    setup.argv =
        bwrap_argv(spec, sandboxing::launcher_command(), sb->scratch->dir(), sb->staging->dir());
    setup.env = {"PATH=/usr/bin:/bin"};
    setup.cgroup_fds = sb->cgroup->join_fds();
    // bwrap reads the filter from fd 3 and passes the others on to the launcher.
    setup.inherited_fds = {{seccomp.fd, 3},
                           {status_write.fd, kStatusFd},
                           {stdin_read.fd, kProgramStdio[0]},
                           {stdout_write.fd, kProgramStdio[1]},
                           {stderr_write.fd, kProgramStdio[2]}};
    setup.uid = sb->uid ? sb->uid->uid() : spec.uid;
    setup.gid = sb->uid ? sb->uid->uid() : spec.gid;
    // The host's own limits (hard ones no run may exceed: the direct path
    // could not raise them either), which the launcher lowers to the run's
    // in the program's process; the sandbox never needs these two.
    setup.rlimits = {{RLIMIT_MSGQUEUE, {0, 0}}, {RLIMIT_CORE, {0, 0}}};
    try {
      sb->bwrap = start_child(setup, [&] { sb->cgroup->kill_all(); });
      ::close(sb->bwrap.stdin_fd);
      sb->bwrap.stdin_fd = -1;
    } catch (const std::exception& e) {
      throw PluginError(WARDEN_ERR_INTERNAL, e.what());
    }
    // The launcher is ready once it has the FIFO open for reading.
    auto deadline = std::chrono::steady_clock::now() + kLauncherStartTimeout;
    std::string fifo = sb->staging->fifo().string();
    while ((sb->go_fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
      if (errno != ENXIO)
        throw PluginError(WARDEN_ERR_INTERNAL, "cannot open " + fifo + ": " + std::strerror(errno));
      if (!sb->alive() || std::chrono::steady_clock::now() > deadline) {
        char said[1000] = {};
        ::fcntl(sb->bwrap.stderr_fd, F_SETFL, O_NONBLOCK);
        ssize_t got = ::read(sb->bwrap.stderr_fd, said, sizeof said - 1);
        throw PluginError(
            WARDEN_ERR_INTERNAL,
            std::string("native: the sandbox's launcher did not start: ") + (got > 0 ? said : ""));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    if (sandboxing::write_without_sigpipe(sb->go_fd, "r", 1) != 1)
      throw PluginError(WARDEN_ERR_INTERNAL,
                        "native: the sandbox's launcher went away as it started");
    return sb;
  }

  // The run itself: the limits go on the cgroup and its measurement starts
  // (the wait before counts for nothing), the program, its launch message
  // and the input files go in, and the launcher gets its go.
  RunResult run_in(WarmSandbox& sb, const RunRequest& request,
                   const std::vector<std::string>& interpreter) {
    const RunSpec& spec = request.spec;
    const Limits& limits = spec.limits;
    try {
      sb.cgroup->set_limits({.memory_bytes = limits.memory_bytes,
                             .cpus = limits.cpus,
                             .pids = static_cast<std::uint32_t>(limits.pids) + kLauncherProcesses});
    } catch (const std::exception& e) {
      throw PluginError(WARDEN_ERR_UNSUPPORTED, e.what());
    }
    sb.cgroup->begin_measuring();
    std::vector<std::string> argv = sandboxing::program_argv(interpreter, kCodePath, spec);
    sb.staging->write(sandboxing::kProgram, request.code);
    sb.staging->write(
        sandboxing::kLaunchMessage,
        sandboxing::launch_message(spec, argv, launcher_rlimits(limits), kStatusFd,
                                   {kProgramStdio[0], kProgramStdio[1], kProgramStdio[2]}));
    sandboxing::place_input_files(sb.scratch->dir(), request.input_files);

    auto start = std::chrono::steady_clock::now();
    if (sandboxing::write_without_sigpipe(sb.go_fd, "g", 1) != 1)
      throw PluginError(WARDEN_ERR_INTERNAL,
                        std::string("native: cannot start the program: ") + std::strerror(errno));
    ChildOutcome outcome;
    try {
      outcome = pump_child(
          sb.program, start, request.stdin_data, limits.wall_time_ms, limits.output_bytes,
          request.output, [&] { return request.cancellation.cancelled(); },
          [&] { return sb.cgroup->cpu_time_ms() >= limits.cpu_time_ms; },
          // Without waiting for the sandbox's processes to be gone: the run's
          // output ends as they close their pipes, and the teardown waits.
          [&] { sb.cgroup->kill_now(); });
    } catch (const std::exception& e) {
      throw PluginError(WARDEN_ERR_INTERNAL, e.what());
    }
    if (outcome.cancelled) throw PluginError(WARDEN_ERR_CANCELLED, "the host cancelled the run");
    CgroupUsage usage = sb.cgroup->usage();
    // The launcher's report of the program's status: its exit status, or
    // 128 + the signal that killed it.
    int status = outcome.reported_status;
    if (status < 0) {
      // The launcher said nothing (it was killed with the rest, or failed):
      // bwrap's status then, as a direct run has it.
      int wait_status = 0;
      if (sb.bwrap.pid > 0 && ::waitpid(sb.bwrap.pid, &wait_status, 0) == sb.bwrap.pid) {
        sb.bwrap.pid = -1;
        status = run_status(wait_status);
      } else {
        status = 128 + SIGKILL;
      }
    }
    if (status == sandboxing::kLauncherFailed &&
        outcome.err.rfind(sandboxing::kLauncherPrefix, 0) == 0)
      throw PluginError(WARDEN_ERR_UNSUPPORTED,
                        "native: " + outcome.err.substr(0, outcome.err.find('\n')));
    RunResult result = result_of(outcome, status, usage, limits, sb.id);
    // The files are read once no process of the run can change them. An
    // empty working folder (most runs) has none to read, and what a process
    // killed with the rest might still write is not the run's.
    std::error_code ec;
    if (!std::filesystem::is_empty(sb.scratch->dir(), ec) || ec) {
      wait_until_exiting(*sb.cgroup);
      sandboxing::hand_back_output_files(sb.scratch->dir(), request, result);
    }
    return result;
  }

  // Waits until every thread of the cgroup, killed, is exiting or gone: a
  // thread in its exit (PF_EXITING) never runs user code again, so it can
  // write nothing more, while the rest of its exit (the namespaces' teardown:
  // a millisecond or two) goes on without the run waiting for it. Falls back
  // to waiting until the cgroup is empty.
  static void wait_until_exiting(Cgroup& cgroup) {
    constexpr unsigned long kPfExiting = 0x4;
    auto exiting = [&](pid_t pid) {
      std::error_code ec;
      std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
      for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
        // A plain read: a thread that ends meanwhile fails it (ESRCH).
        char text[1024] = {};
        int fd = ::open((task.path() / "stat").c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t got = ::read(fd, text, sizeof text - 1);
        ::close(fd);
        if (got <= 0) continue;  // gone meanwhile
        std::string stat(text, static_cast<std::size_t>(got));
        std::size_t paren = stat.rfind(')');
        if (paren == std::string::npos) continue;  // gone meanwhile
        std::istringstream fields(stat.substr(paren + 2));
        std::string field;
        unsigned long flags = 0;
        // state ppid pgrp session tty_nr tpgid flags
        for (int i = 0; i < 7 && fields >> field; ++i)
          if (i == 6) flags = std::strtoul(field.c_str(), nullptr, 10);
        if (!(flags & kPfExiting)) return false;
      }
      return true;
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
      cgroup.kill_now();
      bool all = true;
      for (pid_t pid : cgroup.processes()) all = all && exiting(pid);
      if (all) return;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    cgroup.kill_all();
  }

  // The staging folders ("<owner>-w<n>.stage") of hosts that died.
  void remove_dead_owners_staging() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(scratch_dir_, ec)) {
      std::string name = entry.path().filename().string();
      if (!name.ends_with(kStagingSuffix) ||
          sandboxing::owner_alive(name.substr(0, name.find('-'))))
        continue;
      std::error_code ignored;
      std::filesystem::remove_all(entry.path(), ignored);
    }
  }

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

  // The address space is larger than the memory limit: thread stacks and
  // malloc arenas reserve far more than they use. The cgroup holds memory.
  static rlim_t address_space_for(const Limits& l) {
    return std::max<rlim_t>(2 * l.memory_bytes, l.memory_bytes + (512ull << 20));
  }

  // What the launcher sets beside file size, CPU and core (launcher.h).
  static std::vector<sandboxing::LaunchRlimit> launcher_rlimits(const Limits& l) {
    return {{"AS", address_space_for(l), address_space_for(l)},
            {"NOFILE", l.open_files, l.open_files},
            {"MSGQUEUE", 0, 0}};
  }

  static std::vector<std::pair<int, rlimit>> rlimits_for(const Limits& l) {
    rlim_t cpu_s = sandboxing::cpu_limit_seconds(l);
    rlim_t address_space = address_space_for(l);
    return {{RLIMIT_AS, {address_space, address_space}},
            {RLIMIT_CPU, {cpu_s, cpu_s + 1}},
            {RLIMIT_NOFILE, {l.open_files, l.open_files}},
            {RLIMIT_MSGQUEUE, {0, 0}},  // POSIX message queues: memory outside the limits
            {RLIMIT_CORE, {0, 0}}};
  }

  // bwrap's command line. Without `staging`: a direct run, the program
  // bound at kCodePath from fd 4 and run by `command` (the interpreter)
  // under prlimit. With it: a warm sandbox, the staging folder bound
  // read-only at /sandbox and `command` (the launcher) run as it is; the
  // launcher gives the program its environment and rlimits.
  std::vector<std::string> bwrap_argv(const RunSpec& spec, const std::vector<std::string>& command,
                                      const std::filesystem::path& scratch,
                                      const std::filesystem::path& staging = {}) {
    std::vector<std::string> a = {bwrap_,          "--unshare-all", "--die-with-parent",
                                  "--new-session", "--hostname",    "sandbox"};
    // --unshare-all gives the sandbox a network namespace of its own (only a
    // loopback); egress adds nothing to it but the proxy's socket, below.
    bool host_network = false;
    switch (spec.network) {
      case NetworkMode::kNone:
      case NetworkMode::kEgress: host_network = false; break;
      case NetworkMode::kOpen: host_network = true; break;
    }
    if (host_network) a.push_back("--share-net");
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
    if (host_network)
      for (const char* f : {"/etc/resolv.conf", "/etc/hosts", "/etc/ssl", "/etc/nsswitch.conf"})
        a.insert(a.end(), {"--ro-bind-try", f, f});
    for (const auto& path : extra_binds_) a.insert(a.end(), {"--ro-bind", path, path});
    // The egress proxy's socket and the site folder, read-only (connect()
    // needs no writable mount), before --remount-ro: bwrap makes /run/warden
    // and /opt/warden on the sandbox's root, which then becomes read-only, so
    // the program can neither replace them nor add anything beside them.
    if (!spec.egress_socket.empty())
      a.insert(a.end(), {"--ro-bind", spec.egress_socket, kEgressSocketPath});
    if (!spec.site_dir.empty()) a.insert(a.end(), {"--ro-bind", spec.site_dir, kSiteDirPath});
    // /dev is built on the read-only root: device nodes only, and /dev/shm
    // leads into the scratch space, so that it counts against its size.
    a.insert(a.end(), {"--proc", "/proc"});
    for (const char* device :
         {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"})
      a.insert(a.end(), {"--dev-bind", device, device});
    a.insert(a.end(), {"--symlink", "/proc/self/fd", "/dev/fd", "--symlink", "/proc/self/fd/0",
                       "/dev/stdin", "--symlink", "/proc/self/fd/1", "/dev/stdout", "--symlink",
                       "/proc/self/fd/2", "/dev/stderr", "--symlink", "/tmp", "/dev/shm"});
    a.insert(a.end(), {"--bind", scratch.string(), "/tmp"});
    if (staging.empty())
      a.insert(a.end(), {"--ro-bind-data", "4", kCodePath});
    else
      a.insert(a.end(), {"--ro-bind", staging.string(), "/sandbox"});
    a.insert(a.end(), {"--remount-ro", "/", "--chdir", "/tmp", "--clearenv"});
    if (!staging.empty()) {
      a.insert(a.end(), {"--setenv", "PATH", "/usr/bin:/bin", "--seccomp", "3", "--"});
      a.insert(a.end(), command.begin(), command.end());
      return a;
    }
    std::map<std::string, std::string> env = {
        {"HOME", "/tmp"}, {"PATH", "/usr/bin:/bin"}, {"TMPDIR", "/tmp"}};
    for (const auto& [k, v] : spec.env) env[k] = v;
    for (const auto& [k, v] : env) a.insert(a.end(), {"--setenv", k, v});
    // The file size limit applies from the program on: bwrap itself writes the
    // program into the sandbox, whatever its size.
    std::string file_size = std::to_string(spec.limits.file_size_bytes);
    a.insert(a.end(),
             {"--seccomp", "3", "--", kPrlimit, "--fsize=" + file_size + ":" + file_size, "--"});
    std::vector<std::string> program = sandboxing::program_argv(command, kCodePath, spec);
    a.insert(a.end(), program.begin(), program.end());
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
  std::mutex shapes_mutex_;
  std::map<std::string, std::uint64_t> runs_by_shape_;
  // Last: destroyed first, while everything its sandboxes use is still here.
  std::unique_ptr<sandboxing::WarmPool<WarmSandbox>> pool_;
};

}  // namespace
}  // namespace warden::native

WARDEN_SANDBOX_PLUGIN(warden::native::NativeBackend, "native", "0.1.0",
                      "bubblewrap + seccomp + rlimits + cgroups; no daemon")
