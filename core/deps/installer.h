// The install phase of a request that declares packages: pip, run by the
// request's backend in a sandbox whose only way out is warden's egress proxy
// (core/egress), installs the set the policy allowed into the sandbox's
// scratch folder; the host checks what came back and keeps it in the cache,
// one read-only folder per resolved set, which later runs of any process
// reuse without the network (docs/dependencies.md).
//
// Thread-safety: install() may be called from many threads and processes at
// once; two that install the same set both install it and the first to
// finish is the one kept.
#pragma once

#include <warden/types.h>

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"
#include "deps/requirements.h"
#include "egress/egress_proxy.h"
#include "plugin/loader.h"

namespace warden::deps {

// One egress decision as results and the audit log show it: kind, host,
// port, sni, address, allowed, reason, bytes_up, bytes_down.
nlohmann::json to_json(const egress::EgressDecision& decision);

// What may be installed for one request: the declared requirements and the
// policy's dependencies() answer.
struct InstallPlan {
  std::vector<Requirement> requirements;
  std::vector<std::string> indexes;             // PEP 503 URLs, the first one pip's index
  std::vector<std::string> hosts;               // more host names, "host" or "host:port"
  std::map<std::string, std::string> packages;  // PEP 503 name -> specifier ("" any)
  TrustLevel trust = TrustLevel::kUntrusted;
  std::string backend;  // the backend that runs the install and the program
};

// One installed distribution, from pip's report, checked against the tree.
struct InstalledPackage {
  std::string name;     // PEP 503 name
  std::string version;  // as the wheel's metadata gives it
  std::string sha256;   // of the wheel pip downloaded (its index's hash when it gave one)
  std::string url;      // where it came from
};

struct InstallResult {
  std::string key;                         // the request's key: what was asked (hex)
  std::string set;                         // the key of what pip resolved: the tree's (hex)
  std::filesystem::path site_dir;          // the installed tree, read-only, in the cache
  bool cached = false;                     // reused: no install phase, no network
  std::vector<InstalledPackage> packages;  // in name order
  // Files in the tree that Python runs by itself at start-up (*.pth,
  // sitecustomize.py, usercustomize.py); refused unless trusted.
  std::vector<std::string> hooks;
  std::vector<egress::EgressDecision> egress;  // the install phase's, in order
  double install_ms = 0;                       // the install phase, 0 when cached
  nlohmann::json to_json() const;              // for results and the audit log
};

// A set that cannot be installed for this request: a package the policy does
// not allow, an install hook, pip's failure, limits. The message says which.
class InstallRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  std::vector<egress::EgressDecision> egress;  // what the install phase reached before
};

class Installer {
 public:
  explicit Installer(const DependenciesConfig& config);

  // The request key of `plan`: the same requirements, indexes, hosts and
  // allowed packages on the same backend resolve to the same set, which the
  // cache remembers, so that a request seen before needs no network.
  static std::string key_of(const InstallPlan& plan);

  // The installed set of `plan`, from the cache or installed now on
  // `backend`. `run_id` names the install run. Throws InstallRefused, or
  // Error(kEnvironment) when pip or the cache folder is missing.
  InstallResult install(const InstallPlan& plan, const SandboxBackend& backend,
                        const std::string& run_id, const std::function<bool()>& cancelled) const;

  // What one run in the install phase's sandbox did: the backend's result and
  // the egress proxy's decisions.
  struct PhaseRun {
    RunResult run;
    std::vector<egress::EgressDecision> egress;
  };
  // Runs `program` (Python) with `args` and `inputs` where install() runs
  // pip: on `backend`, under dependencies.install_limits, with no network
  // but the egress proxy, which allows the hosts of `plan`. install() uses
  // it; the tests use it to attack the phase from inside. Throws
  // PluginCallError when the backend refuses the run.
  PhaseRun run_install_phase(const InstallPlan& plan, const SandboxBackend& backend,
                             const std::string& run_id, std::string_view program,
                             std::vector<std::string> args, const std::vector<RunFile>& inputs,
                             const std::function<bool()>& cancelled) const;

 private:
  std::filesystem::path pip_wheel() const;
  DependenciesConfig config_;
};

}  // namespace warden::deps
