#include "deps/installer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <warden/error.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "common/files.h"
#include "common/text.h"

namespace warden::deps {
namespace {

namespace fs = std::filesystem;

// The install phase's program: relays 127.0.0.1 to the egress proxy's socket
// (the sandbox has no other network) and runs pip from its wheel, into
// /tmp/site, with pip's report of what it installed in /tmp/report.json.
constexpr const char* kInstallProgram = R"(import json, os, socket, sys, threading

plan = json.loads(sys.argv[1])
EGRESS = "/run/warden/egress.sock"


def pump(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def relay(client):
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(EGRESS)
    except OSError:
        client.close()
        upstream.close()
        return
    back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    back.start()
    pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def serve(listener):
    while True:
        client, _ = listener.accept()
        threading.Thread(target=relay, args=(client,), daemon=True).start()


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
threading.Thread(target=serve, args=(listener,), daemon=True).start()

work = "/tmp/.warden-install"
os.makedirs(work)
args = ["install", "--isolated", "--no-input", "--disable-pip-version-check",
        "--no-cache-dir", "--progress-bar", "off", "--only-binary", ":all:",
        "--no-compile", "--no-warn-script-location", "--target", "/tmp/site",
        "--report", "/tmp/report.json",
        "--proxy", "http://127.0.0.1:%d" % listener.getsockname()[1],
        "--index-url", plan["indexes"][0]]
for extra in plan["indexes"][1:]:
    args += ["--extra-index-url", extra]
if plan["cert"]:
    args += ["--cert", "/tmp/ca.pem"]
if plan["constraints"]:
    with open(work + "/constraints.txt", "w") as f:
        f.write("\n".join(plan["constraints"]) + "\n")
    args += ["--constraint", work + "/constraints.txt"]
args += ["--"] + plan["requirements"]

sys.path.insert(0, "/tmp/pip.whl")
from pip._internal.cli.main import main as pip_main

status = pip_main(args)
for name in os.listdir(work):
    os.unlink(os.path.join(work, name))
os.rmdir(work)
sys.exit(status)
)";

constexpr int kCacheFormat = 1;

// "host" or "host:port" (default `port`) into the proxy's rules.
void allow_host(egress::EgressRules& rules, const std::string& entry, std::uint16_t port) {
  std::string host = entry;
  if (std::size_t colon = entry.rfind(':'); colon != std::string::npos) {
    host = entry.substr(0, colon);
    std::string digits = entry.substr(colon + 1);
    if (digits.empty() || digits.size() > 5 ||
        digits.find_first_not_of("0123456789") != std::string::npos || std::stoul(digits) == 0 ||
        std::stoul(digits) > 65535)
      throw InstallRefused("host '" + entry + "': the port is not a number from 1 to 65535");
    port = static_cast<std::uint16_t>(std::stoul(digits));
  }
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  rules.hosts[host].insert(port);
}

// The whole file at `path`; throws Error(kEnvironment) naming it.
std::string readable(const fs::path& path) {
  std::optional<std::string> content = read_whole_file(path);
  if (!content) throw Error(ErrorKind::kEnvironment, path.string() + ": cannot read it");
  return *std::move(content);
}

// Python runs these by itself when the folder is on its path.
bool is_hook(const std::string& path) {
  if (path.find('/') != std::string::npos) return false;  // only top-level files run
  return path.ends_with(".pth") || path == "sitecustomize.py" || path == "usercustomize.py";
}

// Makes `dir` and the missing folders above it up to `top`, each 0755 whatever the
// umask: sandboxes read the tree as another user.
void make_folders(const fs::path& top, const fs::path& dir) {
  if (dir == top || fs::is_directory(dir)) return;
  make_folders(top, dir.parent_path());
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    throw Error(ErrorKind::kEnvironment, dir.string() + ": cannot make it");
  ::chmod(dir.c_str(), 0755);
}

// Writes `files` under `dir` (made here): folders 0755, files 0644.
void write_tree(const fs::path& dir, const std::vector<RunFile>& files) {
  make_folders(dir.root_path(), dir);
  for (const RunFile& f : files) {
    fs::path target = dir / f.path;
    make_folders(dir, target.parent_path());
    int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(ErrorKind::kEnvironment, target.string() + ": cannot write it");
    ::fchmod(fd, 0644);
    bool written = write_all(fd, f.content) && ::fsync(fd) == 0;
    ::close(fd);
    if (!written)
      throw Error(ErrorKind::kEnvironment, target.string() + ": cannot write it (disk full?)");
  }
}

nlohmann::json packages_json(const std::vector<InstalledPackage>& packages) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : packages)
    out.push_back({{"name", p.name}, {"version", p.version}, {"sha256", p.sha256}, {"url", p.url}});
  return out;
}

// The cache (docs/dependencies.md, "The cache"): installed trees by the key
// of the set pip resolved, and what each request key resolved to.
fs::path set_folder(const fs::path& cache, const std::string& set) {
  return cache / "sets" / set;
}
fs::path request_file(const fs::path& cache, const std::string& key) {
  return cache / "requests" / (key + ".json");
}

// The key of a resolved set: the same distributions (name, version, wheel
// hash) for the same backend are the same tree, whatever was asked.
std::string set_key(const std::string& backend, const std::vector<InstalledPackage>& packages) {
  nlohmann::json what = {{"format", kCacheFormat}, {"backend", backend}};
  for (const auto& p : packages) what["packages"].push_back({p.name, p.version, p.sha256});
  return sha256_hex(what.dump());
}

// What request `key` resolved to, when the cache has it whole.
std::optional<InstallResult> cached_set(const fs::path& cache, const std::string& key) {
  try {
    std::ifstream request_in(request_file(cache, key));
    if (!request_in) return std::nullopt;
    nlohmann::json request = nlohmann::json::parse(request_in);
    if (request.at("format") != kCacheFormat || request.at("key") != key) return std::nullopt;
    std::string set = request.at("set");
    fs::path folder = set_folder(cache, set);
    std::ifstream set_in(folder / "set.json");
    if (!set_in || !fs::is_directory(folder / "site")) return std::nullopt;
    nlohmann::json m = nlohmann::json::parse(set_in);
    if (m.at("format") != kCacheFormat || m.at("set") != set) return std::nullopt;
    InstallResult r;
    r.key = key;
    r.set = set;
    r.site_dir = folder / "site";
    r.cached = true;
    for (const auto& p : m.at("packages"))
      r.packages.push_back({p.at("name"), p.at("version"), p.at("sha256"), p.at("url")});
    r.hooks = m.at("hooks").get<std::vector<std::string>>();
    return r;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

void refuse_hooks(const std::vector<std::string>& hooks, TrustLevel trust) {
  if (hooks.empty() || trust == TrustLevel::kTrusted) return;
  std::string names;
  for (const auto& h : hooks) names += (names.empty() ? "" : ", ") + h;
  throw InstallRefused("the installed set has install hooks that Python runs at start-up (" +
                       names + "); only trusted code may install them, this request is " +
                       to_string(trust));
}

// The packages of pip's report, each checked against the policy's allowed
// packages and against the *.dist-info folders of the tree.
std::vector<InstalledPackage> read_report(const std::string& report_text,
                                          const std::vector<RunFile>& site,
                                          const InstallPlan& plan) {
  std::vector<InstalledPackage> packages;
  try {
    nlohmann::json report = nlohmann::json::parse(report_text);
    for (const auto& item : report.at("install")) {
      InstalledPackage p;
      p.name = normalize_name(item.at("metadata").at("name").get<std::string>());
      p.version = item.at("metadata").at("version").get<std::string>();
      const nlohmann::json& download = item.at("download_info");
      p.url = download.value("url", "");
      if (download.contains("archive_info")) {
        const nlohmann::json& archive = download["archive_info"];
        if (archive.contains("hashes") && archive["hashes"].contains("sha256"))
          p.sha256 = archive["hashes"]["sha256"].get<std::string>();
        else if (archive.contains("hash"))
          p.sha256 = archive["hash"].get<std::string>();
      }
      if (p.sha256.starts_with("sha256=")) p.sha256 = p.sha256.substr(7);
      packages.push_back(std::move(p));
    }
  } catch (const std::exception& e) {
    throw InstallRefused(std::string("pip's report of what it installed is not readable: ") +
                         e.what());
  }
  std::sort(packages.begin(), packages.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& p : packages)
    if (!plan.packages.contains(p.name))
      throw InstallRefused(p.name + " " + p.version +
                           " (needed by what the program declares) is not among the packages "
                           "the policy allows");
  std::set<std::string> reported;
  for (const auto& p : packages) reported.insert(p.name + "-" + p.version);
  std::set<std::string> seen;
  for (const RunFile& f : site) {
    std::size_t slash = f.path.find('/');
    if (slash == std::string::npos) continue;
    std::string top = f.path.substr(0, slash);
    if (!top.ends_with(".dist-info") || !seen.insert(top).second) continue;
    std::string stem = top.substr(0, top.size() - 10);
    std::size_t dash = stem.find('-');
    std::string id = dash == std::string::npos
                         ? stem
                         : normalize_name(stem.substr(0, dash)) + "-" + stem.substr(dash + 1);
    if (!reported.contains(id))
      throw InstallRefused("the installed tree has " + top + ", which pip's report does not list");
  }
  return packages;
}

}  // namespace

Installer::PhaseRun Installer::run_install_phase(
    const InstallPlan& plan, const SandboxBackend& backend, const std::string& run_id,
    std::string_view program, std::vector<std::string> args, const std::vector<RunFile>& inputs,
    const std::function<bool()>& cancelled) const {
  egress::EgressRules rules;
  for (const auto& index : plan.indexes) {
    std::string why;
    std::optional<HttpUrl> url = parse_http_url(index, why);
    if (!url) throw InstallRefused("index '" + index + "': " + why);
    allow_host(rules, url->host, static_cast<std::uint16_t>(std::stoul(url->port)));
  }
  for (const auto& host : plan.hosts) allow_host(rules, host, 443);
  rules.resolve = config_.resolve;
  rules.allow_networks = config_.allow_networks;

  // The proxy's socket, in a folder of its own that only this user reaches.
  std::string socket_folder = (fs::temp_directory_path() / "warden-egress.XXXXXX").string();
  if (::mkdtemp(socket_folder.data()) == nullptr)
    throw Error(ErrorKind::kEnvironment, "cannot make a folder for the egress proxy's socket in " +
                                             fs::temp_directory_path().string());
  struct RemoveFolder {
    fs::path path;
    ~RemoveFolder() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } remove_socket_folder{socket_folder};
  egress::EgressProxy proxy(fs::path(socket_folder) / "egress.sock", rules,
                            [](const egress::EgressDecision&) {});

  RunSpec spec;
  spec.run_id = run_id;
  spec.limits = config_.install_limits;
  spec.network = NetworkMode::kEgress;
  spec.egress_socket = proxy.socket_path().string();
  spec.env = {{"HOME", "/tmp"}, {"TMPDIR", "/tmp"}, {"LANG", "C.UTF-8"}, {"PATH", "/usr/bin:/bin"}};
  spec.args = std::move(args);
  PhaseRun phase;
  try {
    phase.run = backend.run(spec, program, "", cancelled, {}, inputs);
  } catch (...) {
    phase.egress = proxy.decisions();
    throw;
  }
  phase.egress = proxy.decisions();
  return phase;
}

nlohmann::json to_json(const egress::EgressDecision& d) {
  return {{"kind", d.kind},     {"host", d.host},         {"port", d.port},
          {"sni", d.sni},       {"address", d.address},   {"allowed", d.allowed},
          {"reason", d.reason}, {"bytes_up", d.bytes_up}, {"bytes_down", d.bytes_down}};
}

nlohmann::json InstallResult::to_json() const {
  nlohmann::json egress_json = nlohmann::json::array();
  for (const auto& d : egress) egress_json.push_back(deps::to_json(d));
  return {{"key", key},           {"set", set},
          {"cached", cached},     {"packages", packages_json(packages)},
          {"hooks", hooks},       {"install_ms", install_ms},
          {"egress", egress_json}};
}

Installer::Installer(const DependenciesConfig& config) : config_(config) {}

std::string Installer::key_of(const InstallPlan& plan) {
  std::vector<std::string> requirements;
  for (const auto& r : plan.requirements) requirements.push_back(r.text());
  std::sort(requirements.begin(), requirements.end());
  nlohmann::json what = {{"format", kCacheFormat},    {"requirements", requirements},
                         {"indexes", plan.indexes},   {"hosts", plan.hosts},
                         {"packages", plan.packages}, {"backend", plan.backend}};
  return sha256_hex(what.dump());
}

fs::path Installer::pip_wheel() const {
  if (!config_.pip.empty()) {
    if (!fs::is_regular_file(config_.pip))
      throw Error(ErrorKind::kEnvironment,
                  config_.pip.string() + ": no pip wheel there (dependencies.pip)");
    return config_.pip;
  }
  fs::path newest;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/share/python-wheels", ec)) {
    std::string name = entry.path().filename();
    if (name.starts_with("pip-") && name.ends_with(".whl") && entry.path() > newest)
      newest = entry.path();
  }
  if (newest.empty())
    throw Error(ErrorKind::kEnvironment,
                "no pip wheel in /usr/share/python-wheels to install packages with (install "
                "python3-pip-whl or set dependencies.pip)");
  return newest;
}

InstallResult Installer::install(const InstallPlan& plan, const SandboxBackend& backend,
                                 const std::string& run_id,
                                 const std::function<bool()>& cancelled) const {
  std::string key = key_of(plan);
  if (std::optional<InstallResult> cached = cached_set(config_.cache, key)) {
    refuse_hooks(cached->hooks, plan.trust);
    return *cached;
  }

  auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(config_.cache, ec);
  ::chmod(config_.cache.c_str(), 0700);
  if (!fs::is_directory(config_.cache))
    throw Error(ErrorKind::kEnvironment, config_.cache.string() +
                                             ": cannot make the dependency cache folder (" +
                                             ec.message() + ")");

  nlohmann::json program_plan = {{"indexes", plan.indexes}, {"cert", !config_.ca_file.empty()}};
  for (const auto& r : plan.requirements) program_plan["requirements"].push_back(r.text());
  program_plan["constraints"] = nlohmann::json::array();
  for (const auto& [name, specifier] : plan.packages)
    if (!specifier.empty()) program_plan["constraints"].push_back(name + specifier);
  std::vector<RunFile> inputs = {{"pip.whl", readable(pip_wheel()), ""}};
  if (!config_.ca_file.empty()) inputs.push_back({"ca.pem", readable(config_.ca_file), ""});

  RunResult run;
  std::vector<egress::EgressDecision> decisions;
  try {
    PhaseRun phase = run_install_phase(plan, backend, run_id, kInstallProgram,
                                       {program_plan.dump()}, inputs, cancelled);
    run = std::move(phase.run);
    decisions = std::move(phase.egress);
  } catch (const PluginCallError& e) {
    throw InstallRefused(std::string("the install phase did not run: ") + e.what());
  }
  auto refuse = [&decisions](std::string why) {
    InstallRefused refused(std::move(why));
    refused.egress = decisions;
    throw refused;
  };
  if (std::vector<std::string> reached = limits_reached(run);
      !reached.empty() || !run.files_skipped.empty()) {
    std::string hit;
    for (const auto& l : reached) hit += (hit.empty() ? "" : ", ") + l;
    refuse("the install phase reached its limits (" + (hit.empty() ? "files" : hit) +
           "; dependencies.install_limits)");
  }
  if (run.exit_code != 0) {
    std::string tail = run.stderr_data.size() > 2000
                           ? run.stderr_data.substr(run.stderr_data.size() - 2000)
                           : run.stderr_data;
    refuse("pip could not install them (exit " +
           (run.exit_code ? std::to_string(*run.exit_code)
                          : "signal " + std::to_string(run.signal.value_or(0))) +
           "): " + tail);
  }

  std::string report;
  std::vector<RunFile> site;
  for (RunFile& f : run.files) {
    if (f.path == "report.json")
      report = std::move(f.content);
    else if (f.path.starts_with("site/"))
      site.push_back({f.path.substr(5), std::move(f.content), ""});
  }
  InstallResult result;
  result.key = key;
  result.egress = decisions;
  try {
    result.packages = read_report(report, site, plan);
  } catch (InstallRefused& e) {
    e.egress = decisions;
    throw;
  }
  for (const RunFile& f : site)
    if (is_hook(f.path)) result.hooks.push_back(f.path);
  try {
    refuse_hooks(result.hooks, plan.trust);
  } catch (InstallRefused& e) {
    e.egress = decisions;
    throw;
  }

  // Into the cache: the tree by the key of what pip resolved, made aside and
  // renamed into place in one step, then what this request key resolved to.
  result.set = set_key(plan.backend, result.packages);
  fs::path folder = set_folder(config_.cache, result.set);
  if (!fs::is_directory(folder / "site")) {
    fs::create_directories(folder.parent_path(), ec);
    fs::path staging =
        folder.parent_path() / (".staging-" + result.set.substr(0, 16) + "-" + random_hex_id());
    try {
      write_tree(staging / "site", site);
      nlohmann::json set = {{"format", kCacheFormat},
                            {"set", result.set},
                            {"backend", plan.backend},
                            {"packages", packages_json(result.packages)},
                            {"hooks", result.hooks}};
      write_file_atomically(staging / "set.json", set.dump(2) + "\n");
    } catch (...) {
      fs::remove_all(staging, ec);  // nothing half-written stays in the cache
      throw;
    }
    if (::rename(staging.c_str(), folder.c_str()) != 0)
      fs::remove_all(staging, ec);  // another process kept the same set first
  }
  fs::create_directories(request_file(config_.cache, key).parent_path(), ec);
  nlohmann::json resolved = {
      {"format", kCacheFormat},  {"key", key},
      {"set", result.set},       {"requirements", deps::to_json(plan.requirements)},
      {"indexes", plan.indexes}, {"packages", plan.packages}};
  write_file_atomically(request_file(config_.cache, key), resolved.dump(2) + "\n");
  std::optional<InstallResult> kept = cached_set(config_.cache, key);
  if (!kept)
    throw Error(ErrorKind::kEnvironment,
                folder.string() + ": cannot keep the installed set in the cache");
  result.site_dir = kept->site_dir;
  result.install_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace warden::deps
