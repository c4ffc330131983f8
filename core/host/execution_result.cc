// The JSON shape of an ExecutionResult: what `warden run --json` prints and
// what the Python module returns as a dict (docs/cli.md).
#include <warden/host.h>

#include "common/text.h"

namespace warden {

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kRan: return "ran";
    case Outcome::kNeedsConfirmation: return "needs_confirmation";
    case Outcome::kBlocked: return "blocked";
    case Outcome::kRefused: return "refused";
  }
  return "refused";
}

nlohmann::json ExecutionResult::to_json() const {
  nlohmann::json j = {
      {"request_id", request_id},
      {"timestamp", timestamp},
      {"decision", to_string(decision)},
      {"reason", reason},
      {"level", to_string(level)},
      {"score", score},
      {"reasons", reasons},
      {"warnings", warnings},
      {"trust", to_string(trust)},
      {"override_used", override_used},
      {"findings", findings},
      {"assessment", assessment},
      {"backend", backend},
      {"limits", limits},
      {"network", to_string(network)},
      {"audit_ids", audit_ids},
      {"dependencies", dependencies},
      {"timings",
       {{"total_ms", total_ms}, {"sandbox_ms", sandbox_ms}, {"host_ms", total_ms - sandbox_ms}}}};
  if (run) {
    j["exit_code"] = run->exit_code ? nlohmann::json(*run->exit_code) : nlohmann::json(nullptr);
    j["signal"] = run->signal ? nlohmann::json(*run->signal) : nlohmann::json(nullptr);
    // JSON holds text: bytes that are not UTF-8 become U+FFFD, and a flag
    // says so (the C++ RunResult keeps the exact bytes).
    for (const auto& [name, bytes] :
         {std::pair<std::string, const std::string&>{"stdout", run->stdout_data},
          std::pair<std::string, const std::string&>{"stderr", run->stderr_data}}) {
      bool replaced = false;
      j[name] = valid_utf8(bytes, replaced);
      j[name + "_replaced"] = replaced;
    }
    j["timed_out"] = run->timed_out;
    j["cpu_time_exceeded"] = run->cpu_time_exceeded;
    j["oom_killed"] = run->oom_killed;
    j["output_truncated"] = run->output_truncated;
    j["limits_hit"] = run->limits_hit;
    j["resource_usage"] = {{"peak_memory_bytes", run->peak_memory_bytes},
                           {"cpu_time_ms", run->cpu_time_ms},
                           {"wall_time_ms", run->wall_time_ms}};
    j["backend_run_id"] = run->backend_run_id;
    j["files"] = nlohmann::json::array();
    for (const RunFile& f : run->files)
      j["files"].push_back({{"path", f.path},
                            {"size", f.content.size()},
                            {"sha256", f.sha256},
                            {"content_base64", to_base64(f.content)}});
    j["files_skipped"] = run->files_skipped;
  } else {
    j["exit_code"] = nullptr;
    j["signal"] = nullptr;
    j["stdout"] = "";
    j["stderr"] = "";
    j["stdout_replaced"] = false;
    j["stderr_replaced"] = false;
    j["timed_out"] = false;
    j["cpu_time_exceeded"] = false;
    j["oom_killed"] = false;
    j["output_truncated"] = false;
    j["limits_hit"] = nlohmann::json::array();
    j["resource_usage"] = nullptr;
    j["backend_run_id"] = "";
    j["files"] = nlohmann::json::array();
    j["files_skipped"] = nlohmann::json::array();
  }
  return j;
}

}  // namespace warden
