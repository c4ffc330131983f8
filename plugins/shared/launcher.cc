#include "shared/launcher.h"

#include <map>
#include <nlohmann/json.hpp>

#include "shared/plugin_files.h"
#include "shared/sandbox_limits.h"

namespace warden::sandboxing {
namespace {

// How long after the wall-time limit the launcher ends a run itself: only
// when the host that should have ended it is gone (killed, say).
constexpr std::uint64_t kWatchdogGraceMs = 2000;

std::map<std::string, std::string> program_environment(const RunSpec& spec) {
  std::map<std::string, std::string> env = {
      {"HOME", "/tmp"}, {"PATH", "/usr/bin:/bin"}, {"PWD", "/tmp"}, {"TMPDIR", "/tmp"}};
  for (const auto& [k, v] : spec.env) env[k] = v;
  return env;
}

}  // namespace

std::vector<std::string> launcher_command() {
  return {std::string("/sandbox/") + kLauncher};
}

std::filesystem::path launcher_program() {
  const std::filesystem::path& plugin = tools::plugin_file();
  return plugin.empty() ? plugin : plugin.parent_path().parent_path() / kLauncher;
}

std::string launch_message(const RunSpec& spec, const std::vector<std::string>& argv,
                           const std::vector<LaunchRlimit>& more, int status_fd,
                           const std::vector<int>& stdio) {
  const Limits& l = spec.limits;
  nlohmann::json env = nlohmann::json::object();
  for (const auto& [k, v] : program_environment(spec)) env[k] = v;
  nlohmann::json rlimits = {
      {"FSIZE", l.file_size_bytes, l.file_size_bytes},
      {"CPU", sandboxing::cpu_limit_seconds(l), sandboxing::cpu_limit_seconds(l) + 1},
      {"CORE", 0, 0}};
  for (const auto& [name, soft, hard] : more) rlimits.push_back({name, soft, hard});
  nlohmann::json message{{"argv", argv},       {"env", env},
                         {"cwd", "/tmp"},      {"deadline_ms", l.wall_time_ms + kWatchdogGraceMs},
                         {"rlimits", rlimits}, {"status_fd", status_fd}};
  if (!stdio.empty()) message["stdio"] = stdio;
  return message.dump();
}

}  // namespace warden::sandboxing
