#include "assess/sarif.h"

#include "common/text.h"

#include <warden/version.h>
#include <map>

namespace warden {
namespace {

const char* sarif_level(Severity s) {
  switch (s) {
    case Severity::kCritical:
    case Severity::kHigh: return "error";
    case Severity::kMedium: return "warning";
    default: return "note";
  }
}

}  // namespace

nlohmann::json to_sarif(const std::vector<nlohmann::json>& files) {
  struct Run {
    std::string version;
    std::vector<std::string> rule_ids;
    nlohmann::json results = nlohmann::json::array();
    nlohmann::json notifications = nlohmann::json::array();
    bool successful = true;
  };
  std::map<std::string, Run> runs;
  for (const auto& file : files) {
    std::string path = file.value("file", "");
    for (const auto& a : file.at("assessors")) {
      Run& run = runs[a.at("name").get<std::string>()];
      if (!a.value("version", "").empty()) run.version = a.value("version", "");
      if (a.value("status", "") != "ok") {
        run.successful = false;
        run.notifications.push_back(
            {{"level", "error"},
             {"message",
              {{"text", path + ": " + a.value("status", "") + ": " + a.value("reason", "")}}}});
      }
    }
    for (const Finding& f : file.at("findings").get<std::vector<Finding>>()) {
      std::vector<std::pair<std::string, std::string>> reporters = {{f.assessor, f.rule_id}};
      for (const auto& other : f.also_reported_by) {
        auto space = other.find(' ');
        reporters.emplace_back(other.substr(0, space),
                               space == std::string::npos ? "" : other.substr(space + 1));
      }
      for (const auto& [assessor, rule_id] : reporters) {
        Run& run = runs[assessor];
        auto it = std::find(run.rule_ids.begin(), run.rule_ids.end(), rule_id);
        std::size_t rule_index = static_cast<std::size_t>(it - run.rule_ids.begin());
        if (it == run.rule_ids.end()) run.rule_ids.push_back(rule_id);
        nlohmann::json region = {{"startLine", std::max(1, f.line)}};
        if (f.column > 0) region["startColumn"] = f.column;
        if (!f.source_line.empty()) region["snippet"] = {{"text", f.source_line}};
        run.results.push_back(
            {{"ruleId", rule_id},
             {"ruleIndex", rule_index},
             {"level", sarif_level(f.severity)},
             {"message", {{"text", f.message}}},
             {"locations",
              {{{"physicalLocation",
                 {{"artifactLocation", {{"uri", path}}}, {"region", region}}}}}},
             {"partialFingerprints",
              {{"primaryLocationLineHash",
                sha256_hex(rule_id + "|" + path + "|" + f.source_line).substr(0, 16)}}},
             {"properties",
              {{"severity", to_string(f.severity)},
               {"confidence", to_string(f.confidence)},
               {"category", f.category},
               {"cwe", f.cwe}}}});
      }
    }
  }
  nlohmann::json out_runs = nlohmann::json::array();
  for (auto& [name, run] : runs) {
    nlohmann::json rules = nlohmann::json::array();
    for (const auto& id : run.rule_ids)
      rules.push_back({{"id", id}, {"shortDescription", {{"text", id}}}});
    nlohmann::json driver = {{"name", name}, {"rules", rules}};
    if (!run.version.empty()) driver["version"] = run.version;
    out_runs.push_back({{"tool", {{"driver", driver}}},
                        {"results", run.results},
                        {"invocations",
                         {{{"executionSuccessful", run.successful},
                           {"toolExecutionNotifications", run.notifications}}}}});
  }
  return {{"$schema",
           "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
           "sarif-schema-2.1.0.json"},
          {"version", "2.1.0"},
          {"runs", out_runs}};
}

}  // namespace warden
