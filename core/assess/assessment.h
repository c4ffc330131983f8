// The assessment stage: every enabled assessor runs in parallel under its
// deadline; findings are merged, folded and sorted; code metrics are added;
// results are cached per assessor. A missing, failing or late assessor is
// reported as such — never as "no findings" (docs/assessment.md).
//
// Thread safety: assess() may be called from many threads at once.
#pragma once

#include <warden/types.h>

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "assess/disk_cache.h"
#include "config/config.h"
#include "lang/python/analysis.h"
#include "lang/python/metrics.h"
#include "plugin/plugin_set.h"

namespace warden {

struct AssessorResult {
  std::string name;
  std::string version;
  std::string tool_version;
  std::string status = "ok";  // ok | unavailable | failed | timeout
  std::string reason;
  std::uint64_t duration_ms = 0;
  bool cached = false;
  std::size_t findings = 0;
};

struct Assessment {
  std::string file;
  std::string language = "python";
  std::string code_sha256;
  std::vector<Finding> findings;
  python::CodeMetrics metrics;
  // What the program imports and which calls the rules know it makes,
  // resolved through aliases, attribute chains and code in strings
  // (heuristics::analyze, whether or not the heuristics assessor is enabled).
  std::vector<heuristics::Import> imports;
  std::vector<heuristics::Call> calls;
  std::vector<AssessorResult> assessors;

  // The shape policies receive and `warden assess --json` prints.
  nlohmann::json to_json() const;
  // How each assessor answered, as to_json() lists them.
  nlohmann::json assessors_json() const;
};

class AssessmentStage {
 public:
  // `plugins` must outlive the stage.
  AssessmentStage(const PluginSet& plugins, const AssessorsConfig& config);
  // Waits for assessor calls that outlived their deadline to return.
  ~AssessmentStage();

  Assessment assess(std::string_view code, std::string_view language, std::string_view file_name);

 private:
  struct CacheEntry {
    std::string key;
    std::vector<Finding> findings;
  };
  // In memory under `key`, then on disk under `disk_key` (a disk hit is
  // remembered in memory).
  bool cache_get(const std::string& key, const std::string& disk_key,
                 std::vector<Finding>& findings);
  // In memory and, unless `disk_key` is empty, on disk.
  void cache_put(const std::string& key, const std::string& disk_key,
                 const std::vector<Finding>& findings);
  // The assessor's probe, remembered for 5 s.
  Availability availability(const Assessor& assessor);
  // Whether a probe of `assessor` is remembered; if so, it is in `a`.
  bool remembered_probe(const Assessor& assessor, Availability& a);
  // What tells this build of the assessor's plugin from another: the size,
  // time and inode of its file. Added to the key on disk so that an upgraded
  // plugin never gets the results of the one it replaced.
  std::string plugin_identity(const Assessor& assessor);

  const PluginSet& plugins_;
  AssessorsConfig config_;
  std::unique_ptr<DiskCache> disk_cache_;  // null when off
  std::mutex cache_mutex_;
  std::list<CacheEntry> lru_;
  std::unordered_map<std::string, std::list<CacheEntry>::iterator> index_;
  std::mutex identity_mutex_;
  std::unordered_map<std::string, std::string> identities_;
  std::mutex probe_mutex_;
  std::unordered_map<std::string, std::pair<Availability, std::chrono::steady_clock::time_point>>
      probes_;
  std::shared_ptr<std::atomic<int>> in_flight_ = std::make_shared<std::atomic<int>>(0);
};

// Merges per-assessor findings: exact duplicates dropped, the same category
// on the same line from different assessors folded into the most severe one.
std::vector<Finding> merge_findings(std::vector<Finding> findings);

}  // namespace warden
