#include "container_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "attach_pump.h"
#include "engine/engine_defaults.h"
#include "engine_specs.h"
#include "leftovers.h"
#include "seccomp_profile.h"
#include "shared/cgroup.h"
#include "shared/launcher.h"
#include "shared/owner.h"
#include "shared/pipe_write.h"
#include "shared/run_files.h"
#include "shared/run_mounts.h"
#include "shared/run_result.h"
#include "shared/sandbox_limits.h"
#include "shared/sandbox_settings.h"
#include "shared/staging.h"

namespace warden::containers {
namespace {

using engine::EngineClient;
using engine::EngineError;
using Clock = std::chrono::steady_clock;
using sandboxing::kLauncherFailed;
using sandboxing::kLauncherPrefix;
using sandboxing::kLaunchMessage;
using sandboxing::kProgram;
using sandboxing::StagingFolder;

// How often the exit of a container is looked for once its output ended.
constexpr auto kExitPollInterval = std::chrono::milliseconds(2);

std::string sanitized(const std::string& id) {
  std::string out;
  for (char c : id)
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_');
  return out.substr(0, 64);
}

// What a container fixes at creation: tmpfs size, open files, network,
// read-only root, uid/gid. Runs of one shape can share a pool. (Runs with
// mounts of their own, has_own_mounts(), never use the pool.)
std::string shape_of(const RunSpec& spec) {
  const Limits& l = spec.limits;
  return std::to_string(l.tmpfs_bytes) + "|" + std::to_string(l.open_files) + "|" +
         engine_network_mode(spec.network) + "|" + (spec.read_only_root ? "ro" : "rw") + "|" +
         std::to_string(spec.uid) + ":" + std::to_string(spec.gid);
}

}  // namespace

ContainerBackend::ContainerBackend(Engine engine, const nlohmann::json& settings)
    : engine_(engine), owner_(sandboxing::this_owner()) {
  SettingsReader read(settings, engine_ == Engine::kDocker ? "docker" : "podman");
  bool docker = engine_ == Engine::kDocker;
  std::string socket = read.text("socket", docker ? engine::kDockerSocket : engine::kPodmanSocket);
  image_ = read.text("image", docker ? engine::kDefaultImage : "");
  if (docker && settings.contains("rootfs"))
    throw settings_error("/rootfs", "docker runs images only: name one with 'image'");
  rootfs_ = docker ? "" : read.text("rootfs", image_.empty() ? engine::kDefaultRootfs : "");
  staging_dir_ = read.absolute_path("staging_dir", "/var/lib/warden/staging", "a staging folder");
  seccomp_source_ = read.absolute_path("seccomp_profile", "/usr/share/containers/seccomp.json",
                                       "a seccomp profile");
  cgroup_parent_ = sandboxing::cgroup_parent_setting(read);
  api_timeout_ =
      std::chrono::milliseconds(read.whole_number("api_timeout_ms", 30'000, 1, 3'600'000));
  auto warm_pool = static_cast<std::size_t>(read.whole_number("warm_pool", 2, 0, 16));
  uid_range_ = sandboxing::uid_range_setting(read);
  interpreters_ = sandboxing::interpreters_setting(read);
  read.finish();
  client_ = std::make_unique<EngineClient>(socket, api_timeout_);
  pool_ = std::make_unique<sandboxing::WarmPool<PreparedContainer>>(
      warm_pool, [this](const RunSpec& spec) { return prepare(spec); });
}

ContainerBackend::~ContainerBackend() {
  pool_.reset();  // stops its thread and removes the warm containers while the client is alive
  std::error_code ec;
  if (!seccomp_profile_path_.empty()) std::filesystem::remove(seccomp_profile_path_, ec);
}

Availability ContainerBackend::probe() {
  std::lock_guard<std::mutex> lock(probe_mutex_);
  Availability a = check_engine();
  available_ = a.available;
  if (a.available && !reaped_) {
    reap_leftovers(*client_, engine_, api_prefix_, staging_dir_, cgroup_parent_);
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

std::string ContainerBackend::container_target(const std::string& id) const {
  return api_prefix_ + "/containers/" + id;
}

std::unique_ptr<PreparedContainer> ContainerBackend::prepare(const RunSpec& spec) {
  auto c = std::make_unique<PreparedContainer>();
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
  c->scratch = std::make_unique<sandboxing::ScratchMount>(
      staging_dir_ / (owner_ + "-" + name + ".tmp"), spec.limits.tmpfs_bytes);
  std::string scratch = c->scratch->dir().string();
  ContainerPlaces places{.name = name,
                         .image = image_,
                         .rootfs = rootfs_.string(),
                         .owner = owner_,
                         .cgroup_parent = c->cgroup->path(),
                         .staging = staging,
                         .scratch = scratch,
                         .seccomp_profile = seccomp_profile_,
                         .seccomp_profile_path = seccomp_profile_path_.string()};
  auto created =
      engine_ == Engine::kDocker
          ? client_->request("POST", api_prefix_ + "/containers/create?name=" + url_encode(name),
                             docker_create_spec(shaped, places))
          : client_->request("POST", std::string(kLibpodVersion) + "/libpod/containers/create",
                             podman_create_spec(shaped, places));
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
      throw PluginError(WARDEN_ERR_INTERNAL, engine_name() +
                                                 ": the container's launcher did not start: " +
                                                 (said.err + said.out).substr(0, 1000));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (sandboxing::write_without_sigpipe(c->go_fd, "r", 1) != 1)
    throw PluginError(WARDEN_ERR_INTERNAL,
                      engine_name() + ": the container's launcher went away as it started");
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
  sandboxing::check_run_mounts(spec);
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
    // A warm container's mounts are fixed at its creation: a run that binds
    // an egress socket or a site folder gets a container of its own, and
    // keeps no pool warm.
    if (sandboxing::has_own_mounts(spec)) return run_in(*prepare(spec), request);
    std::string shape = shape_of(spec);
    std::unique_ptr<PreparedContainer> container = pool_->take(shape);
    if (!container) container = prepare(spec);
    // The pool is refilled once the run is over, not beside it: a container
    // the engine is half way through making when the host dies (a `runc
    // init`, no program in it yet) would stay until the next host reaps it.
    RunResult result;
    try {
      result = run_in(*container, request);
    } catch (...) {
      pool_->refill_later(shape, spec);
      throw;
    }
    pool_->refill_later(shape, spec);
    return result;
  } catch (const EngineError& e) {
    std::lock_guard<std::mutex> lock(probe_mutex_);
    if (e.kind() == EngineError::Kind::kUnreachable) available_ = false;
    throw PluginError(
        e.kind() == EngineError::Kind::kUnreachable ? WARDEN_ERR_UNAVAILABLE : WARDEN_ERR_INTERNAL,
        engine_name() + ": " + e.what());
  }
}

RunResult ContainerBackend::run_in(PreparedContainer& c, const RunRequest& request) {
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
  std::vector<std::string> argv = sandboxing::program_argv(
      interpreters_.at(spec.language), std::string("/sandbox/") + kProgram, spec);
  c.staging->write(kProgram, request.code);
  c.staging->write(kLaunchMessage, sandboxing::launch_message(spec, argv));
  sandboxing::place_input_files(c.scratch->dir(), request.input_files);
  std::string target = container_target(c.id);

  auto start = Clock::now();
  if (sandboxing::write_without_sigpipe(c.go_fd, "g", 1) != 1)
    throw PluginError(WARDEN_ERR_INTERNAL,
                      engine_name() + ": cannot start the program: " + std::strerror(errno));
  Demultiplexer output(limits.output_bytes, &request.output);
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
  RunResult result = sandboxing::interpret_run({.status = status,
                                                .timed_out = pumped.timed_out,
                                                .cpu_time_exceeded = pumped.cpu_time_exceeded,
                                                .output_truncated = output.truncated(),
                                                .wall_time_ms = pumped.wall_time_ms,
                                                .usage = usage},
                                               limits);
  result.backend_run_id = c.id;
  result.stdout_data = std::move(output.out);
  result.stderr_data = std::move(output.err);
  sandboxing::hand_back_output_files(c.scratch->dir(), request, result);
  return result;
}

}  // namespace warden::containers
