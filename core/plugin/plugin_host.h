// Third-party assessor plugins out of process. warden-plugin-host (built from
// plugin_host_main.cc) loads one plugin file, passed as an open descriptor,
// through the same loader and ABI checks as warden, and serves its calls over
// a socket with the framed protocol of plugin_protocol.h. A crash, a hang past
// the deadline or a broken answer of the plugin ends that helper process and
// is a failed call for that assessor; the next call starts a new helper.
// Helpers are kept warm between calls, so a call costs two socket messages,
// not a process start (bench/host_bench.cc measures it).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "plugin/loader.h"

namespace warden {

// The helper program: $WARDEN_PLUGIN_HOST, else
// <root>/lib/warden/warden-plugin-host beside the installed plugins.
std::filesystem::path plugin_host_program();

// One running warden-plugin-host. Not thread-safe: one caller at a time.
class PluginHostProcess {
 public:
  using Clock = std::chrono::steady_clock;
  // Starts the helper on `file`. Throws PluginCallError(WARDEN_ERR_FAILED)
  // when it cannot be started.
  explicit PluginHostProcess(const PluginFile& file);
  // Stops the helper: closes its channel, and kills it if it does not leave.
  ~PluginHostProcess();
  PluginHostProcess(const PluginHostProcess&) = delete;
  PluginHostProcess& operator=(const PluginHostProcess&) = delete;

  // Sends `request` (when not empty) and waits for the answer until
  // `deadline` or until `cancelled` says so. On any failure the helper is
  // killed and PluginCallError is thrown, saying what happened to it:
  // WARDEN_ERR_TIMEOUT, WARDEN_ERR_CANCELLED, or WARDEN_ERR_FAILED for a crash
  // or a broken answer. `what` names the call in that message.
  std::vector<std::string> call(const std::vector<std::string>& request, const std::string& what,
                                Clock::time_point deadline,
                                const std::function<bool()>& cancelled = {});
  bool usable() const { return pid_ > 0; }

 private:
  // Kills and reaps the helper; returns how it ended ("exited with status 3",
  // "killed by signal 11 (Segmentation fault)").
  std::string stop();

  pid_t pid_ = -1;
  int channel_ = -1;
  std::filesystem::path origin_;
};

// An assessor whose plugin runs in warden-plugin-host. Thread-safe: each call
// borrows an idle helper or starts one; a helper that failed is not reused.
class IsolatedAssessor : public Assessor {
 public:
  // Starts a first helper and creates the instance with `settings_json`.
  // Throws Error(kConfig) with the plugin's message when it refuses them
  // (`locate` turns that message into one that points into the file), and
  // PluginCallError when the helper fails.
  IsolatedAssessor(std::shared_ptr<const LoadedPlugin> plugin, std::string settings_json,
                   const std::function<std::string(const std::string&)>& locate);
  Availability probe() const override;
  std::vector<Finding> assess(std::string_view code, std::string_view language,
                              std::string_view file_name, std::chrono::milliseconds deadline,
                              const std::function<bool()>& cancelled) const override;

 private:
  std::unique_ptr<PluginHostProcess> start_helper(
      const std::function<std::string(const std::string&)>& locate) const;
  std::unique_ptr<PluginHostProcess> borrow() const;
  void give_back(std::unique_ptr<PluginHostProcess> helper) const;

  std::string settings_json_;
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<PluginHostProcess>> idle_;
};

}  // namespace warden
