#include "container_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "cgroup.h"
#include "denied_syscalls.h"
#include "owner.h"
#include "pipe_write.h"
#include "run_uid.h"
#include "sandbox_limits.h"

namespace warden::containers {
namespace {

using engine::EngineClient;
using engine::EngineError;
using Clock = std::chrono::steady_clock;

constexpr const char* kOwnerLabel = "io.warden.owner";
constexpr const char* kCompatVersion = "/v1.41";  // Podman's Docker-compatible API
constexpr const char* kLibpodVersion = "/v4.0.0";
constexpr int kMinDockerApiMinor = 30;  // every field the spec uses (Init, Tmpfs) is older
constexpr int kMaxDockerApiMinor = 45;
// RLIMIT_NPROC for Podman's containers: below the hard limits services get on
// common hosts, above what the concurrent runs of one sandbox user need.
constexpr std::uint64_t kPodmanNproc = 4096;
// After a kill, how long the output may take to drain before we stop reading.
constexpr auto kDrainAfterKill = std::chrono::seconds(5);
// How often the exit of a container is looked for once its output ended.
constexpr auto kExitPollInterval = std::chrono::milliseconds(2);
// Shapes of run the warm pool keeps containers for; the least recent goes.
constexpr std::size_t kMaxWarmShapes = 4;

// In /sandbox (the staging folder): the FIFO the launcher waits on, the
// message it then reads, and the program.
constexpr const char* kGoFifo = ".go";
constexpr const char* kLaunchMessage = ".launch.json";
constexpr const char* kProgram = "main.py";
// The status and stderr prefix of a launcher that could not start the program.
constexpr int kLauncherFailed = 125;
constexpr const char* kLauncherPrefix = "warden-launch: ";

// How long after the wall-time limit the launcher ends a run itself: only
// when the host that should have ended it is gone (killed, say).
constexpr std::uint64_t kWatchdogGraceMs = 2000;

// Every container's first program, run by the image's Python with nothing
// but the standard library. It opens the FIFO without waiting for a writer;
// the host opens its end as soon as that is done and writes "r" (ready); a
// host that died before (while filling its warm pool, say) never will, so
// the launcher exits after 30 s without it (a loaded engine can take seconds
// to answer the start that comes before the host's open). Then it waits until the host
// writes "g" (or goes away: then it exits), then starts the program in a child that
// lowers its rlimits as the message says and execs it with exactly the given
// environment. Everything slow (interpreter start, imports) happens before
// the wait. The launcher stays as the run's watchdog: when the host's end of
// the FIFO closes (the host died, or ended the run) or `deadline_ms` passes,
// it kills every process of the sandbox user and exits, which ends the
// container (its init exits with its only child). So no run outlives its
// host or its wall time. It exits with the program's status, or 128 + the
// signal that ended it.
constexpr const char* kLauncher = R"(import json, os, resource, select, signal, time
host = os.open('/sandbox/.go', os.O_RDONLY | os.O_NONBLOCK)
ready = select.poll()
ready.register(host, select.POLLIN)
if not ready.poll(30000) or os.read(host, 1) != b'r':
    os._exit(0)
os.set_blocking(host, True)
try:
    if os.read(host, 1) != b'g':
        os._exit(0)
    with open('/sandbox/.launch.json', 'rb') as f:
        m = json.load(f)
except OSError:
    os._exit(0)
deadline = time.monotonic() + m['deadline_ms'] / 1000
pid = os.fork()
if pid == 0:
    try:
        os.close(host)
        for name, soft, hard in m['rlimits']:
            resource.setrlimit(getattr(resource, 'RLIMIT_' + name), (soft, hard))
        os.chdir(m['cwd'])
        os.execve(m['argv'][0], m['argv'], m['env'])
    except (OSError, ValueError) as e:
        os.write(2, ('warden-launch: %s: %s\n' % (m['argv'][0], e)).encode())
        os._exit(125)
for fd in (0, 1, 2):
    os.close(fd)
watch = select.poll()
watch.register(host, select.POLLIN)
watch.register(os.pidfd_open(pid), select.POLLIN)
while True:
    left = deadline - time.monotonic()
    done = os.waitpid(pid, os.WNOHANG)
    if done[0] == pid:
        status = done[1]
        os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
    if left <= 0 or any(fd == host for fd, _ in watch.poll(left * 1000)):
        os.kill(-1, signal.SIGKILL)
        os._exit(128 + signal.SIGKILL)
)";

std::string sanitized(const std::string& id) {
  std::string out;
  for (char c : id)
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_');
  return out.substr(0, 64);
}

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

// The folder bind-mounted read-only at /sandbox: the FIFO the launcher
// waits on, then the program and its launch message. Removed with the run.
class StagingFolder {
 public:
  explicit StagingFolder(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::error_code ec;
    std::filesystem::create_directories(dir_.parent_path(), ec);
    if (::mkdir(dir_.c_str(), 0755) != 0)
      throw PluginError(WARDEN_ERR_INTERNAL, "cannot create the staging folder " + dir_.string() +
                                                 ": " + std::strerror(errno));
    ::chmod(dir_.c_str(), 0755);  // whatever the umask: the sandbox user reads it
    if (::mkfifo(fifo().c_str(), 0644) != 0)
      throw PluginError(WARDEN_ERR_INTERNAL,
                        "cannot create " + fifo().string() + ": " + std::strerror(errno));
    ::chmod(fifo().c_str(), 0644);
  }
  ~StagingFolder() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  StagingFolder(const StagingFolder&) = delete;
  StagingFolder& operator=(const StagingFolder&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path fifo() const { return dir_ / kGoFifo; }
  // Writes a file the sandbox user may read and nobody may change.
  void write(const char* name, std::string_view content) const {
    std::filesystem::path file = dir_ / name;
    std::ofstream out(file, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) throw PluginError(WARDEN_ERR_INTERNAL, "cannot write " + file.string());
    ::chmod(file.c_str(), 0444);
  }

 private:
  std::filesystem::path dir_;
};

// The run's scratch space: a tmpfs of the run's size mounted on the host and
// bound into the container at both /tmp and /dev/shm, so that every writable
// place in the container counts against the one limit. Unmounted with the run.
class ScratchMount {
 public:
  ScratchMount(std::filesystem::path dir, std::uint64_t bytes) : dir_(std::move(dir)) {
    if (::mkdir(dir_.c_str(), 0700) != 0)
      throw PluginError(WARDEN_ERR_INTERNAL, "cannot create the scratch folder " + dir_.string() +
                                                 ": " + std::strerror(errno));
    std::string options = "size=" + std::to_string(bytes) + ",mode=1777";
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      int err = errno;
      ::rmdir(dir_.c_str());
      throw PluginError(WARDEN_ERR_INTERNAL, "cannot mount the scratch tmpfs on " + dir_.string() +
                                                 ": " + std::strerror(err));
    }
  }
  ~ScratchMount() { unmount(dir_); }
  ScratchMount(const ScratchMount&) = delete;
  ScratchMount& operator=(const ScratchMount&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  // Unmounts (lazily: a container may still hold it) and removes one.
  static void unmount(const std::filesystem::path& dir) {
    ::umount2(dir.c_str(), MNT_DETACH);
    ::rmdir(dir.c_str());
  }

 private:
  std::filesystem::path dir_;
};

// Force-removes the container when the run ends, however it ends.
class ContainerGuard {
 public:
  ContainerGuard(const EngineClient& client, std::string target)
      : client_(client), target_(std::move(target)) {}
  ~ContainerGuard() {
    try {
      client_.request("DELETE", target_ + "?force=true&v=true");
    } catch (const std::exception&) {
      // The engine is gone; the owner label lets the next host reap it.
    }
  }
  ContainerGuard(const ContainerGuard&) = delete;
  ContainerGuard& operator=(const ContainerGuard&) = delete;

 private:
  const EngineClient& client_;
  std::string target_;
};

// Splits the attach stream's frames (8-byte header: stream, 0, 0, 0, size
// big-endian) into stdout and stderr, keeping at most `cap` bytes in all.
class Demultiplexer {
 public:
  explicit Demultiplexer(std::uint64_t cap) : cap_(cap) {}

  void feed(const char* data, std::size_t size) {
    pending_.append(data, size);
    std::size_t pos = 0;
    while (true) {
      if (frame_left_ == 0) {
        if (pending_.size() - pos < 8) break;
        stream_ = static_cast<unsigned char>(pending_[pos]);
        frame_left_ = (std::uint32_t{static_cast<unsigned char>(pending_[pos + 4])} << 24) |
                      (std::uint32_t{static_cast<unsigned char>(pending_[pos + 5])} << 16) |
                      (std::uint32_t{static_cast<unsigned char>(pending_[pos + 6])} << 8) |
                      std::uint32_t{static_cast<unsigned char>(pending_[pos + 7])};
        pos += 8;
        continue;
      }
      std::size_t take = std::min<std::size_t>(frame_left_, pending_.size() - pos);
      if (take == 0) break;
      keep(std::string_view(pending_).substr(pos, take));
      pos += take;
      frame_left_ -= static_cast<std::uint32_t>(take);
    }
    pending_.erase(0, pos);
  }

  bool truncated() const { return truncated_; }
  std::string out, err;

 private:
  void keep(std::string_view bytes) {
    std::uint64_t used = out.size() + err.size();
    std::size_t room = static_cast<std::size_t>(cap_ - std::min(cap_, used));
    if (bytes.size() > room) truncated_ = true;
    (stream_ == 2 ? err : out).append(bytes.substr(0, room));
  }

  std::uint64_t cap_;
  std::string pending_;
  unsigned char stream_ = 1;
  std::uint32_t frame_left_ = 0;
  bool truncated_ = false;
};

struct Pumped {
  bool timed_out = false;
  bool cpu_time_exceeded = false;
  bool cancelled = false;
  std::uint64_t wall_time_ms = 0;
};

// Moves stdin in and output out until the stream ends; calls `kill` once when
// the wall time runs out, `cpu_exhausted` says the run's CPU time is spent,
// the output cap is hit or the host cancels.
Pumped pump(engine::AttachStream& stream, std::string_view stdin_data, Demultiplexer& output,
            Clock::time_point start, std::uint64_t wall_time_ms, const Cancellation& cancellation,
            const std::function<bool()>& cpu_exhausted, const std::function<void()>& kill) {
  Pumped result;
  std::string early = stream.take_already_read();
  output.feed(early.data(), early.size());
  std::size_t written = 0;
  bool stdin_open = true;
  auto finish_stdin = [&] {
    if (stdin_open) stream.close_stdin();
    stdin_open = false;
  };
  if (stdin_data.empty()) finish_stdin();
  const auto deadline = start + std::chrono::milliseconds(wall_time_ms);
  std::optional<Clock::time_point> killed_at;
  auto kill_once = [&] {
    if (killed_at) return;
    killed_at = Clock::now();
    kill();
  };
  char buffer[65536];
  while (true) {
    auto now = Clock::now();
    if (!killed_at && now >= deadline) {
      result.timed_out = true;
      kill_once();
    }
    if (!killed_at && cancellation.cancelled()) {
      result.cancelled = true;
      kill_once();
    }
    if (!killed_at && cpu_exhausted()) {
      result.cpu_time_exceeded = true;
      kill_once();
    }
    if (!killed_at && output.truncated()) kill_once();
    if (killed_at && now - *killed_at > kDrainAfterKill) break;
    pollfd fd{stream.fd(), static_cast<short>(POLLIN | (stdin_open ? POLLOUT : 0)), 0};
    int wait_ms = 20;
    if (!killed_at)
      wait_ms = static_cast<int>(std::clamp<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count(), 0, 20));
    if (::poll(&fd, 1, wait_ms) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fd.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(stream.fd(), buffer, sizeof buffer, MSG_DONTWAIT);
      if (n == 0) break;
      if (n < 0 && errno != EAGAIN && errno != EINTR) break;
      if (n > 0) output.feed(buffer, static_cast<std::size_t>(n));
    }
    if (stdin_open && (fd.revents & POLLOUT)) {
      ssize_t n = ::send(stream.fd(), stdin_data.data() + written, stdin_data.size() - written,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) written += static_cast<std::size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_data.size())
        finish_stdin();
    }
  }
  result.wall_time_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
  return result;
}

std::map<std::string, std::string> program_environment(const RunSpec& spec) {
  std::map<std::string, std::string> env = {
      {"HOME", "/tmp"}, {"PATH", "/usr/bin:/bin"}, {"PWD", "/tmp"}, {"TMPDIR", "/tmp"}};
  for (const auto& [k, v] : spec.env) env[k] = v;
  return env;
}

nlohmann::json masked_equal(unsigned index, std::uint64_t mask, std::uint64_t value) {
  return {{"index", index}, {"value", mask}, {"valueTwo", value}, {"op", "SCMP_CMP_MASKED_EQ"}};
}

// Warden's own rules for socket() and ioctl(), as native's filter has them
// (denied_syscalls.h). An allow list cannot say "any family but these", and
// an unconditional allow of a call overrides every conditional refusal of it,
// so each allowed (family, type) pair is allowed by name, 32 bits compared.
nlohmann::json socket_and_ioctl_rules() {
  using sandboxing::kIntArgumentMask;
  using sandboxing::kSocketTypeMask;
  auto rule = [](const char* name, const char* action, nlohmann::json args) {
    return nlohmann::json{{"names", {name}}, {"action", action}, {"args", std::move(args)}};
  };
  nlohmann::json rules = nlohmann::json::array();
  const auto& denied = sandboxing::denied_socket_families();
  const auto& types = sandboxing::allowed_socket_types();
  for (int family : denied) {
    auto refuse = rule("socket", "SCMP_ACT_ERRNO", {masked_equal(0, kIntArgumentMask, family)});
    refuse["errnoRet"] = EAFNOSUPPORT;
    rules.push_back(refuse);
  }
  for (int family = 0; family < AF_MAX; ++family) {
    if (std::find(denied.begin(), denied.end(), family) != denied.end()) continue;
    for (int type : types)
      rules.push_back(rule(
          "socket", "SCMP_ACT_ALLOW",
          {masked_equal(0, kIntArgumentMask, family), masked_equal(1, kSocketTypeMask, type)}));
  }
  for (std::uint64_t type = 0; type <= kSocketTypeMask; ++type)
    if (std::find(types.begin(), types.end(), static_cast<int>(type)) == types.end()) {
      auto refuse = rule("socket", "SCMP_ACT_ERRNO", {masked_equal(1, kSocketTypeMask, type)});
      refuse["errnoRet"] = EPERM;
      rules.push_back(refuse);
    }
  // ioctl: every request whose low 32 bits differ from TIOCSTI in some bit
  // (the tty layer compares the request as unsigned int).
  for (unsigned bit = 0; bit < 32; ++bit) {
    std::uint64_t mask = std::uint64_t{1} << bit;
    rules.push_back(rule("ioctl", "SCMP_ACT_ALLOW", {masked_equal(1, mask, ~TIOCSTI & mask)}));
  }
  auto refuse = rule("ioctl", "SCMP_ACT_ERRNO", {masked_equal(1, kIntArgumentMask, TIOCSTI)});
  refuse["errnoRet"] = EPERM;
  rules.push_back(refuse);
  return rules;
}

// The engine's default seccomp profile (an allow list) with warden's denied
// system calls taken out of every rule that allows them, and its rules for
// socket() and ioctl() replaced by warden's.
std::string derive_seccomp_profile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the seccomp profile " + path.string());
  nlohmann::json profile = nlohmann::json::parse(in, nullptr, false);
  if (profile.is_discarded() || !profile.contains("syscalls") || !profile["syscalls"].is_array())
    throw std::runtime_error("the seccomp profile " + path.string() + " is not a profile");
  if (profile.value("defaultAction", "") == "SCMP_ACT_ALLOW")
    throw std::runtime_error("the seccomp profile " + path.string() +
                             " allows by default; warden needs an allow list");
  const auto& denied = sandboxing::denied_syscalls();
  auto is_denied = [&](const std::string& name) {
    return std::find(denied.begin(), denied.end(), name) != denied.end();
  };
  nlohmann::json rules = nlohmann::json::array();
  for (auto rule : profile["syscalls"]) {
    if (rule.contains("names")) {
      bool allows = rule.value("action", "") == "SCMP_ACT_ALLOW";
      nlohmann::json names = nlohmann::json::array();
      for (const auto& entry : rule["names"]) {
        std::string name = entry.get<std::string>();
        if (name == "socket" || name == "ioctl" || (allows && is_denied(name))) continue;
        names.push_back(name);
      }
      if (names.empty()) continue;
      rule["names"] = names;
    }
    rules.push_back(rule);
  }
  for (auto& rule : socket_and_ioctl_rules()) rules.push_back(std::move(rule));
  profile["syscalls"] = rules;
  return profile.dump();
}

// What a container fixes at creation; runs of the same shape can share a pool.
std::string shape_of(const RunSpec& spec) {
  const Limits& l = spec.limits;
  return std::to_string(l.tmpfs_bytes) + "|" + std::to_string(l.open_files) + "|" +
         (spec.network == NetworkMode::kNone ? "none" : "bridge") + "|" +
         (spec.read_only_root ? "ro" : "rw") + "|" + std::to_string(spec.uid) + ":" +
         std::to_string(spec.gid);
}

// What the launcher needs to start the program: argv, environment, working
// folder and the rlimits the container did not fix at creation.
std::string launch_message(const RunSpec& spec, const std::vector<std::string>& argv) {
  const Limits& l = spec.limits;
  nlohmann::json env = nlohmann::json::object();
  for (const auto& [k, v] : program_environment(spec)) env[k] = v;
  return nlohmann::json{
      {"argv", argv},
      {"env", env},
      {"cwd", "/tmp"},
      {"deadline_ms", l.wall_time_ms + kWatchdogGraceMs},
      {"rlimits",
       {{"FSIZE", l.file_size_bytes, l.file_size_bytes},
        {"CPU", sandboxing::cpu_limit_seconds(l), sandboxing::cpu_limit_seconds(l) + 1},
        {"CORE", 0, 0}}}}
      .dump();
}

}  // namespace

// A started container whose launcher waits for its program. Destroying it
// force-removes the container, then the scratch space and the staging folder, then the cgroup
// (members go in reverse order).
class Prepared {
 public:
  std::string id;
  std::unique_ptr<sandboxing::Cgroup> cgroup;
  std::unique_ptr<sandboxing::RunUid> uid;  // the run's own uid, when the backend has a range
  std::unique_ptr<StagingFolder> staging;
  std::unique_ptr<ScratchMount> scratch;
  std::unique_ptr<ContainerGuard> guard;
  std::unique_ptr<engine::AttachStream> stream;
  // The FIFO's write end, held open for the whole run: the launcher starts the
  // program when "g" comes through it, and ends the run when it closes.
  int go_fd = -1;

  Prepared() = default;
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;
  ~Prepared() {
    if (go_fd >= 0) ::close(go_fd);
  }
  // A waiting launcher prints nothing: output or an end means the container is gone.
  bool alive() const {
    pollfd p{stream->fd(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }
};

ContainerBackend::ContainerBackend(Engine engine, const nlohmann::json& settings)
    : engine_(engine), owner_(sandboxing::this_owner()) {
  static const std::set<std::string> kKnown = {
      "socket",       "image",          "rootfs",          "staging_dir", "cgroup_parent",
      "interpreters", "api_timeout_ms", "seccomp_profile", "warm_pool",   "uid_range"};
  for (const auto& [key, value] : settings.items())
    if (!kKnown.count(key)) throw settings_error("/" + key, "unknown setting");
  auto text = [&](const char* key, const std::string& fallback) {
    if (!settings.contains(key)) return fallback;
    if (!settings[key].is_string() || settings[key].get<std::string>().empty())
      throw settings_error(std::string("/") + key, "expected a non-empty string");
    return settings[key].get<std::string>();
  };
  bool docker = engine_ == Engine::kDocker;
  std::string socket = text("socket", docker ? kDockerSocket : kPodmanSocket);
  image_ = text("image", docker ? kDefaultImage : "");
  if (docker && settings.contains("rootfs"))
    throw settings_error("/rootfs", "docker runs images only: name one with 'image'");
  rootfs_ = text("rootfs", image_.empty() ? kDefaultRootfs : "");
  staging_dir_ = text("staging_dir", "/var/lib/warden/staging");
  seccomp_source_ = text("seccomp_profile", "/usr/share/containers/seccomp.json");
  cgroup_parent_ = text("cgroup_parent", "warden");
  if (cgroup_parent_.find('/') != std::string::npos ||
      cgroup_parent_.find("..") != std::string::npos)
    throw settings_error("/cgroup_parent", "expected a plain folder name");
  if (settings.contains("api_timeout_ms") && !settings["api_timeout_ms"].is_number_unsigned())
    throw settings_error("/api_timeout_ms", "expected a positive number of milliseconds");
  api_timeout_ = std::chrono::milliseconds(settings.value("api_timeout_ms", 30000u));
  if (settings.contains("warm_pool") && (!settings["warm_pool"].is_number_unsigned() ||
                                         settings["warm_pool"].get<std::size_t>() > 16))
    throw settings_error("/warm_pool", "expected a number of containers from 0 to 16");
  warm_pool_ = settings.value("warm_pool", std::size_t{2});
  uid_range_ = sandboxing::uid_range_setting(settings);
  interpreters_["python"] = {"/usr/bin/python3", "-I", "-B"};
  if (settings.contains("interpreters")) {
    const auto& map = settings["interpreters"];
    if (!map.is_object())
      throw settings_error("/interpreters", "expected a mapping of language to argv");
    for (const auto& [language, argv] : map.items()) {
      if (!argv.is_array() || argv.empty() || !argv[0].is_string() ||
          argv[0].get<std::string>().empty() || argv[0].get<std::string>()[0] != '/')
        throw settings_error("/interpreters/" + language,
                             "expected a list of strings starting with an absolute path");
      interpreters_[language] = argv.get<std::vector<std::string>>();
    }
  }
  launcher_ = interpreters_.at("python").front();
  client_ = std::make_unique<EngineClient>(socket, api_timeout_);
  if (warm_pool_ > 0) refiller_ = std::thread([this] { refill_loop(); });
}

ContainerBackend::~ContainerBackend() {
  if (refiller_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(pool_mutex_);
      stopping_ = true;
    }
    pool_wakeup_.notify_all();
    refiller_.join();
  }
  pool_.clear();  // removes the warm containers while the client is alive
  std::error_code ec;
  if (!seccomp_profile_path_.empty()) std::filesystem::remove(seccomp_profile_path_, ec);
}

Availability ContainerBackend::probe() {
  std::lock_guard<std::mutex> lock(probe_mutex_);
  Availability a = check_engine();
  available_ = a.available;
  if (a.available && !reaped_) {
    reap_leftovers();
    reaped_ = true;
  }
  return a;
}

Availability ContainerBackend::check_engine() {
  Availability a;
  try {
    auto version = client_->checked("GET", "/version").json();
    a.tool_version = engine_name() + " " + version.value("Version", "?");
    if (engine_ == Engine::kDocker) {
      std::string api = version.value("ApiVersion", "");
      int major = 0, minor = 0;
      if (std::sscanf(api.c_str(), "%d.%d", &major, &minor) != 2 || major != 1 ||
          minor < kMinDockerApiMinor) {
        a.reason = "Docker Engine API " + api + " is older than 1." +
                   std::to_string(kMinDockerApiMinor) + ", which warden needs";
        return a;
      }
      api_prefix_ = "/v1." + std::to_string(std::min(minor, kMaxDockerApiMinor));
      auto image = client_->request("GET", api_prefix_ + "/images/" + url_encode(image_) + "/json");
      if (image.status == 404) {
        a.reason = "image '" + image_ + "' is not in Docker: run `warden image build`";
        return a;
      }
      if (image.status != 200) {
        a.reason = "docker: cannot inspect image '" + image_ + "': " + engine::error_message(image);
        return a;
      }
    } else {
      int major = 0;
      std::string podman_version = version.value("Version", "");
      if (std::sscanf(podman_version.c_str(), "%d", &major) != 1 || major < 4) {
        a.reason = "Podman " + podman_version + " is older than 4.0, whose libpod API warden needs";
        return a;
      }
      api_prefix_ = kCompatVersion;
      if (!image_.empty()) {
        auto image = client_->request("GET", std::string(kLibpodVersion) + "/libpod/images/" +
                                                 url_encode(image_) + "/exists");
        if (image.status != 204) {
          a.reason = "image '" + image_ + "' is not in Podman: run `warden image build`";
          return a;
        }
      } else {
        for (const auto& [language, argv] : interpreters_)
          if (::access((rootfs_.string() + argv[0]).c_str(), X_OK) != 0) {
            a.reason = "root filesystem " + rootfs_.string() + " has no " + argv[0] + " for " +
                       language + ": run `warden image build`";
            return a;
          }
      }
    }
  } catch (const EngineError& e) {
    a.reason = e.what();
    return a;
  }
  try {
    // Once: runs in progress read it.
    if (seccomp_profile_.empty()) {
      std::string profile = derive_seccomp_profile(seccomp_source_);
      std::error_code ec;
      std::filesystem::create_directories(staging_dir_, ec);
      seccomp_profile_path_ = staging_dir_ / (owner_ + "-seccomp.json");
      std::ofstream(seccomp_profile_path_) << profile;
      seccomp_profile_ = std::move(profile);
    }
  } catch (const std::exception& e) {
    a.reason = std::string(e.what()) +
               " (install containers-common, or name one with the seccomp_profile setting)";
    return a;
  }
  if (::geteuid() != 0) {
    a.reason = "the " + engine_name() +
               " backend needs root to give each container a cgroup of warden's own";
    return a;
  }
  if (std::string why = sandboxing::Cgroup::unusable_reason(cgroup_parent_); !why.empty()) {
    a.reason = why;
    return a;
  }
  a.available = true;
  a.cache_key = client_->socket_path().string() + "|" + image_ + "|" + rootfs_.string();
  return a;
}

void ContainerBackend::reap_leftovers() {
  nlohmann::json filters = {{"label", {kOwnerLabel}}};
  try {
    auto list = client_
                    ->checked("GET", api_prefix_ + "/containers/json?all=true&filters=" +
                                         url_encode(filters.dump()))
                    .json();
    for (const auto& container : list) {
      std::string owner =
          container.value("Labels", nlohmann::json::object()).value(kOwnerLabel, "");
      if (sandboxing::owner_alive(owner)) continue;
      client_->request("DELETE", api_prefix_ + "/containers/" + container.value("Id", "") +
                                     "?force=true&v=true");
    }
  } catch (const EngineError&) {
    // Reaping is best effort; the engine's own error shows at the next run.
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(staging_dir_, ec)) {
    // Staging folders are named "<owner pid>.<start>-...".
    std::string name = entry.path().filename().string();
    if (sandboxing::owner_alive(name.substr(0, name.find('-')))) continue;
    if (entry.path().extension() == ".tmp") ScratchMount::unmount(entry.path());
    std::filesystem::remove_all(entry.path(), ec);
  }
  // Cgroups are named "warden-<engine>-<owner pid>_<start>-<n>".
  sandboxing::remove_dead_owners_cgroups(cgroup_parent_, "warden-" + engine_name() + "-");
}

std::string ContainerBackend::container_target(const std::string& id) const {
  return api_prefix_ + "/containers/" + id;
}

nlohmann::json ContainerBackend::docker_spec(const RunSpec& spec, const std::string& cgroup_parent,
                                             const std::string& staging,
                                             const std::string& scratch) const {
  const Limits& l = spec.limits;
  auto ulimit = [](const char* name, std::uint64_t soft, std::uint64_t hard) {
    return nlohmann::json{{"Name", name}, {"Soft", soft}, {"Hard", hard}};
  };
  nlohmann::json host = {
      {"NetworkMode", spec.network == NetworkMode::kNone ? "none" : "bridge"},
      {"CapDrop", {"ALL"}},
      {"SecurityOpt", {"no-new-privileges", "seccomp=" + seccomp_profile_}},
      {"ReadonlyRootfs", spec.read_only_root},
      {"Binds", {staging + ":/sandbox:ro", scratch + ":/tmp", scratch + ":/dev/shm"}},
      {"Ulimits",
       {ulimit("nofile", l.open_files, l.open_files), ulimit("msgqueue", 0, 0),
        ulimit("core", 0, 0)}},
      {"Init", true},
      {"LogConfig", {{"Type", "none"}, {"Config", nlohmann::json::object()}}},
      {"CgroupParent", cgroup_parent},
      {"IpcMode", "private"},
      {"AutoRemove", false},
  };
  return {{"Image", image_},
          {"Cmd", {launcher_, "-I", "-S", "-c", kLauncher}},
          {"Env", nlohmann::json::array()},
          {"User", std::to_string(spec.uid) + ":" + std::to_string(spec.gid)},
          {"WorkingDir", "/tmp"},
          {"Hostname", "sandbox"},
          {"AttachStdin", true},
          {"AttachStdout", true},
          {"AttachStderr", true},
          {"OpenStdin", true},
          {"StdinOnce", true},
          {"Tty", false},
          {"Labels", {{kOwnerLabel, owner_}}},
          {"HostConfig", host}};
}

nlohmann::json ContainerBackend::podman_spec(const RunSpec& spec, const std::string& name,
                                             const std::string& cgroup_parent,
                                             const std::string& staging,
                                             const std::string& scratch) const {
  const Limits& l = spec.limits;
  auto limit_entry = [](const char* type, std::uint64_t soft, std::uint64_t hard) {
    return nlohmann::json{{"type", type}, {"soft", soft}, {"hard", hard}};
  };
  nlohmann::json s = {
      {"name", name},
      {"command", {launcher_, "-I", "-S", "-c", kLauncher}},
      {"env", nlohmann::json::object()},
      {"unsetenvall", true},
      {"user", std::to_string(spec.uid) + ":" + std::to_string(spec.gid)},
      {"work_dir", "/tmp"},
      {"hostname", "sandbox"},
      {"stdin", true},
      {"terminal", false},
      {"labels", {{kOwnerLabel, owner_}}},
      {"netns", {{"nsmode", spec.network == NetworkMode::kNone ? "none" : "bridge"}}},
      {"read_only_filesystem", spec.read_only_root},
      {"read_only_tmpfs", false},
      {"mounts",
       {{{"destination", "/tmp"}, {"type", "bind"}, {"source", scratch}, {"options", {"rbind"}}},
        {{"destination", "/dev/shm"},
         {"type", "bind"},
         {"source", scratch},
         {"options", {"rbind"}}},
        {{"destination", "/sandbox"},
         {"type", "bind"},
         {"source", staging},
         {"options", {"ro", "rbind"}}}}},
      {"r_limits",
       {limit_entry("nofile", l.open_files, l.open_files), limit_entry("msgqueue", 0, 0),
        limit_entry("core", 0, 0),
        // Podman would otherwise raise nproc past what its runtime may set. The
        // pids cgroup limit is what holds; nproc counts the user across the host.
        limit_entry("nproc", kPodmanNproc, kPodmanNproc)}},
      {"cap_drop", {"all"}},
      {"no_new_privileges", true},
      {"seccomp_profile_path", seccomp_profile_path_.string()},
      {"init", true},
      {"ipcns", {{"nsmode", "private"}}},
      {"log_configuration", {{"driver", "none"}}},
      {"cgroup_parent", cgroup_parent},
      {"cgroups_mode", "no-conmon"},
  };
  if (image_.empty())
    s["rootfs"] = rootfs_.string();
  else
    s["image"] = image_;
  return s;
}

std::unique_ptr<Prepared> ContainerBackend::prepare(const RunSpec& spec) {
  auto c = std::make_unique<Prepared>();
  // Unique across the backends of this process, which share the owner (each
  // engine's plugin has its own copy of this counter).
  static std::atomic<std::uint64_t> sequence{0};
  std::string name =
      "warden-" + engine_name() + "-" + sanitized(owner_) + "-" + std::to_string(++sequence);
  try {
    c->cgroup =
        std::make_unique<sandboxing::Cgroup>(cgroup_parent_, name, sandboxing::CgroupLimits{});
  } catch (const std::exception& e) {
    throw PluginError(WARDEN_ERR_UNSUPPORTED, e.what());
  }
  RunSpec shaped = spec;
  try {
    if (uid_range_.count > 0) {
      c->uid = std::make_unique<sandboxing::RunUid>(uid_range_);
      shaped.uid = shaped.gid = c->uid->uid();
    }
  } catch (const std::exception& e) {
    throw PluginError(WARDEN_ERR_UNAVAILABLE, e.what());
  }
  c->staging = std::make_unique<StagingFolder>(staging_dir_ / (owner_ + "-" + name));
  std::string staging = c->staging->dir().string();
  c->scratch = std::make_unique<ScratchMount>(staging_dir_ / (owner_ + "-" + name + ".tmp"),
                                              spec.limits.tmpfs_bytes);
  std::string scratch = c->scratch->dir().string();
  auto created =
      engine_ == Engine::kDocker
          ? client_->request("POST", api_prefix_ + "/containers/create?name=" + url_encode(name),
                             docker_spec(shaped, c->cgroup->path(), staging, scratch))
          : client_->request("POST", std::string(kLibpodVersion) + "/libpod/containers/create",
                             podman_spec(shaped, name, c->cgroup->path(), staging, scratch));
  if (created.status < 200 || created.status > 299)
    throw PluginError(
        created.status == 400 || created.status == 500 ? WARDEN_ERR_UNSUPPORTED
                                                       : WARDEN_ERR_INTERNAL,
        engine_name() + " refused to create the container: " + engine::error_message(created));
  auto body = created.json();
  c->id = body.value("Id", "");
  if (c->id.empty())
    throw PluginError(WARDEN_ERR_INTERNAL, engine_name() + " created a container without an Id");
  c->guard = std::make_unique<ContainerGuard>(*client_, container_target(c->id));
  auto warnings = body.value("Warnings", nlohmann::json::array());
  if (warnings.is_array() && !warnings.empty())
    throw PluginError(WARDEN_ERR_UNSUPPORTED,
                      engine_name() + " would drop a limit on this host, so the run is refused: " +
                          warnings.dump());
  // Podman's compatible API refuses to attach to a container not yet started; libpod's does.
  std::string attach_target = engine_ == Engine::kDocker
                                  ? container_target(c->id)
                                  : std::string(kLibpodVersion) + "/libpod/containers/" + c->id;
  c->stream =
      client_->attach(attach_target + "/attach?stream=true&stdin=true&stdout=true&stderr=true");
  client_->checked("POST", container_target(c->id) + "/start");

  // The launcher is ready once it has the FIFO open for reading.
  auto deadline = Clock::now() + api_timeout_;
  std::string fifo = c->staging->fifo().string();
  while ((c->go_fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
    if (errno != ENXIO)
      throw PluginError(WARDEN_ERR_INTERNAL, "cannot open " + fifo + ": " + std::strerror(errno));
    if (!c->alive() || Clock::now() > deadline) {
      Demultiplexer said(4096);
      std::string early = c->stream->take_already_read();
      said.feed(early.data(), early.size());
      char buffer[4096];
      ssize_t n = ::recv(c->stream->fd(), buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0) said.feed(buffer, static_cast<std::size_t>(n));
      throw PluginError(WARDEN_ERR_INTERNAL,
                        engine_name() + ": the container's launcher (" + launcher_ +
                            ") did not start: " + (said.err + said.out).substr(0, 1000));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (sandboxing::write_without_sigpipe(c->go_fd, "r", 1) != 1)
    throw PluginError(WARDEN_ERR_INTERNAL, engine_name() + ": the container's launcher (" +
                                               launcher_ + ") went away as it started");
  return c;
}

int ContainerBackend::exit_status(const std::string& id) {
  // Podman's wait answers a quarter of a second late; its inspection and
  // Docker's know at once.
  std::string target = engine_ == Engine::kDocker
                           ? container_target(id) + "/json"
                           : std::string(kLibpodVersion) + "/libpod/containers/" + id + "/json";
  auto deadline = Clock::now() + api_timeout_;
  while (true) {
    auto state = client_->checked("GET", target).json().value("State", nlohmann::json::object());
    std::string status = state.value("Status", "");
    if (status == "exited" || status == "stopped" || status == "dead")
      return state.value("ExitCode", -1);
    if (Clock::now() > deadline)
      throw PluginError(WARDEN_ERR_INTERNAL, engine_name() + ": the container is still '" + status +
                                                 "' after its output ended");
    std::this_thread::sleep_for(kExitPollInterval);
  }
}

RunResult ContainerBackend::run(const RunRequest& request) {
  const RunSpec& spec = request.spec;
  if (!interpreters_.count(spec.language))
    throw PluginError(WARDEN_ERR_UNSUPPORTED,
                      "language '" + spec.language + "': no interpreter configured for it");
  {
    std::unique_lock<std::mutex> lock(probe_mutex_);
    if (!available_) {
      lock.unlock();
      if (Availability a = probe(); !a.available)
        throw PluginError(WARDEN_ERR_UNAVAILABLE, engine_name() + ": " + a.reason);
    }
  }
  sandboxing::refuse_unenforceable(spec, "the container's init and warden's launcher");
  try {
    std::string shape = shape_of(spec);
    std::unique_ptr<Prepared> container = take_warm(shape);
    if (!container) container = prepare(spec);
    // The pool is refilled once the run is over, not beside it: a container
    // the engine is half way through making when the host dies (a `runc
    // init`, no program in it yet) would stay until the next host reaps it.
    RunResult result;
    try {
      result = run_in(*container, request);
    } catch (...) {
      refill_later(shape, spec);
      throw;
    }
    refill_later(shape, spec);
    return result;
  } catch (const EngineError& e) {
    std::lock_guard<std::mutex> lock(probe_mutex_);
    if (e.kind() == EngineError::Kind::kUnreachable) available_ = false;
    throw PluginError(
        e.kind() == EngineError::Kind::kUnreachable ? WARDEN_ERR_UNAVAILABLE : WARDEN_ERR_INTERNAL,
        engine_name() + ": " + e.what());
  }
}

RunResult ContainerBackend::run_in(Prepared& c, const RunRequest& request) {
  const RunSpec& spec = request.spec;
  const Limits& limits = spec.limits;
  try {
    c.cgroup->set_limits({.memory_bytes = limits.memory_bytes,
                          .cpus = limits.cpus,
                          .pids = static_cast<std::uint32_t>(limits.pids)});
  } catch (const std::exception& e) {
    throw PluginError(WARDEN_ERR_UNSUPPORTED, e.what());
  }
  c.cgroup->begin_measuring();
  std::vector<std::string> argv = interpreters_.at(spec.language);
  argv.push_back(std::string("/sandbox/") + kProgram);
  c.staging->write(kProgram, request.code);
  c.staging->write(kLaunchMessage, launch_message(spec, argv));
  std::string target = container_target(c.id);

  auto start = Clock::now();
  if (sandboxing::write_without_sigpipe(c.go_fd, "g", 1) != 1)
    throw PluginError(WARDEN_ERR_INTERNAL,
                      engine_name() + ": cannot start the program: " + std::strerror(errno));
  Demultiplexer output(limits.output_bytes);
  // The kill goes out beside the pump: the engine may not finish it while
  // the container's output is not being read.
  std::future<void> kill;
  Pumped pumped = pump(
      *c.stream, request.stdin_data, output, start, limits.wall_time_ms, request.cancellation,
      [&] { return c.cgroup->cpu_time_ms() >= limits.cpu_time_ms; },
      [&] {
        kill = std::async(std::launch::async, [&] {
          try {
            client_->request("POST", target + "/kill?signal=KILL");
          } catch (const EngineError&) {
            // Removal at the end force-kills it anyway.
          }
        });
      });
  if (pumped.cancelled) throw PluginError(WARDEN_ERR_CANCELLED, "the host cancelled the run");
  int status = exit_status(c.id);
  sandboxing::CgroupUsage usage = c.cgroup->usage();
  if (status == kLauncherFailed && output.err.rfind(kLauncherPrefix, 0) == 0)
    throw PluginError(WARDEN_ERR_UNSUPPORTED,
                      engine_name() + ": " + output.err.substr(0, output.err.find('\n')));

  // The container's init exits with the program's status, or 128 + the
  // signal that killed it.
  RunResult result = sandboxing::run_result({.status = status,
                                             .timed_out = pumped.timed_out,
                                             .cpu_time_exceeded = pumped.cpu_time_exceeded,
                                             .output_truncated = output.truncated(),
                                             .wall_time_ms = pumped.wall_time_ms},
                                            usage, limits);
  result.backend_run_id = c.id;
  result.stdout_data = std::move(output.out);
  result.stderr_data = std::move(output.err);
  return result;
}

std::unique_ptr<Prepared> ContainerBackend::take_warm(const std::string& shape) {
  std::vector<std::unique_ptr<Prepared>> dead;  // removed outside the lock
  std::lock_guard<std::mutex> lock(pool_mutex_);
  auto it = pool_.find(shape);
  while (it != pool_.end() && !it->second.empty()) {
    std::unique_ptr<Prepared> c = std::move(it->second.front());
    it->second.pop_front();
    if (c->alive()) return c;
    dead.push_back(std::move(c));
  }
  return nullptr;
}

void ContainerBackend::refill_later(const std::string& shape, const RunSpec& spec) {
  if (warm_pool_ == 0) return;
  std::vector<std::unique_ptr<Prepared>> evicted;  // removed outside the lock
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    pool_shapes_[shape] = spec;
    std::erase(recent_shapes_, shape);
    recent_shapes_.push_back(shape);
    while (recent_shapes_.size() > kMaxWarmShapes) {
      std::string oldest = recent_shapes_.front();
      recent_shapes_.pop_front();
      for (auto& c : pool_[oldest]) evicted.push_back(std::move(c));
      pool_.erase(oldest);
      pool_shapes_.erase(oldest);
      std::erase(refills_, oldest);
    }
    refills_.push_back(shape);
  }
  pool_wakeup_.notify_one();
}

void ContainerBackend::refill_loop() {
  std::unique_lock<std::mutex> lock(pool_mutex_);
  while (true) {
    pool_wakeup_.wait(lock, [&] { return stopping_ || !refills_.empty(); });
    if (stopping_) return;
    std::string shape = refills_.front();
    refills_.pop_front();
    auto spec = pool_shapes_.find(shape);
    if (spec == pool_shapes_.end() || pool_[shape].size() + filling_[shape] >= warm_pool_) continue;
    ++filling_[shape];
    RunSpec copy = spec->second;
    lock.unlock();
    std::unique_ptr<Prepared> c;
    try {
      c = prepare(copy);
    } catch (const std::exception&) {
      // The engine is down or refuses: runs prepare their own and say why.
    }
    lock.lock();
    --filling_[shape];
    if (!c || !pool_shapes_.count(shape) || stopping_) {
      lock.unlock();
      c.reset();
      lock.lock();
      if (stopping_) return;
      continue;
    }
    pool_[shape].push_back(std::move(c));
    if (pool_[shape].size() + filling_[shape] < warm_pool_) refills_.push_back(shape);
  }
}

}  // namespace warden::containers
