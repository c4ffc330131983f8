#include "assess/assessment.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <future>
#include <thread>

#include "common/text.h"

namespace warden {

nlohmann::json Assessment::assessors_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : assessors)
    out.push_back({{"name", a.name},
                   {"version", a.version},
                   {"tool_version", a.tool_version},
                   {"status", a.status},
                   {"reason", a.reason},
                   {"duration_ms", a.duration_ms},
                   {"cached", a.cached},
                   {"findings", a.findings}});
  return out;
}

nlohmann::json Assessment::to_json() const {
  return {{"file", file},         {"language", language},         {"code_sha256", code_sha256},
          {"findings", findings}, {"metrics", metrics},           {"imports", imports},
          {"calls", calls},       {"assessors", assessors_json()}};
}

std::vector<Finding> merge_findings(std::vector<Finding> findings) {
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    if (a.line != b.line) return a.line < b.line;
    return a.severity > b.severity;  // the most severe of a line first
  });
  std::vector<Finding> out;
  for (auto& f : findings) {
    bool folded = false;
    for (auto& kept : out) {
      if (kept.line != f.line) continue;
      if (kept.assessor == f.assessor && kept.rule_id == f.rule_id && kept.column == f.column &&
          kept.message == f.message) {
        folded = true;  // an exact duplicate
        break;
      }
      if (kept.assessor != f.assessor && kept.category == f.category) {
        kept.also_reported_by.push_back(f.assessor + " " + f.rule_id);
        kept.confidence = std::max(kept.confidence, f.confidence);
        folded = true;
        break;
      }
    }
    if (!folded) out.push_back(std::move(f));
  }
  return out;
}

AssessmentStage::AssessmentStage(const PluginSet& plugins, const AssessorsConfig& config)
    : plugins_(plugins), config_(config) {
  if (config_.cache_enabled && config_.cache_max_bytes > 0 && !config_.cache_directory.empty())
    disk_cache_ = std::make_unique<DiskCache>(config_.cache_directory, config_.cache_max_bytes);
}

AssessmentStage::~AssessmentStage() {
  // Calls abandoned at their deadline still use the plugins: let them finish.
  for (int i = 0; i < 3000 && in_flight_->load() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

bool AssessmentStage::cache_get(const std::string& key, const std::string& disk_key,
                                std::vector<Finding>& findings) {
  if (!config_.cache_enabled) return false;
  if (config_.cache_max_entries > 0) {
    std::lock_guard lock(cache_mutex_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      findings = it->second->findings;
      return true;
    }
  }
  if (disk_cache_ && disk_cache_->get(disk_key, findings)) {
    cache_put(key, "", findings);
    return true;
  }
  return false;
}

void AssessmentStage::cache_put(const std::string& key, const std::string& disk_key,
                                const std::vector<Finding>& findings) {
  if (!config_.cache_enabled) return;
  if (!disk_key.empty() && disk_cache_) disk_cache_->put(disk_key, findings);
  if (config_.cache_max_entries == 0) return;
  std::lock_guard lock(cache_mutex_);
  if (auto it = index_.find(key); it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front({key, findings});
  index_[key] = lru_.begin();
  while (lru_.size() > config_.cache_max_entries) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

std::string AssessmentStage::plugin_identity(const Assessor& assessor) {
  std::lock_guard lock(identity_mutex_);
  auto it = identities_.find(assessor.name());
  if (it != identities_.end()) return it->second;
  struct stat st {};
  std::string id = assessor.origin().string();
  if (::stat(assessor.origin().c_str(), &st) == 0)
    id += ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
          std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ino);
  return identities_[assessor.name()] = id;
}

bool AssessmentStage::remembered_probe(const Assessor& assessor, Availability& a) {
  std::lock_guard lock(probe_mutex_);
  auto it = probes_.find(assessor.name());
  if (it == probes_.end() || it->second.second <= std::chrono::steady_clock::now()) return false;
  a = it->second.first;
  return true;
}

Availability AssessmentStage::availability(const Assessor& assessor) {
  auto now = std::chrono::steady_clock::now();
  if (Availability a; remembered_probe(assessor, a)) return a;
  Availability a = assessor.probe();
  std::lock_guard lock(probe_mutex_);
  probes_[assessor.name()] = {a, now + std::chrono::seconds(5)};
  return a;
}

Assessment AssessmentStage::assess(std::string_view code, std::string_view language,
                                   std::string_view file_name) {
  Assessment out;
  out.file = std::string(file_name);
  out.language = std::string(language);
  out.code_sha256 = sha256_hex(code);
  out.metrics = python::compute_metrics(code);
  if (language == "python") {
    heuristics::Analysis analysis = heuristics::analyze(code);
    out.imports = std::move(analysis.imports);
    out.calls = std::move(analysis.calls);
  }

  using Clock = std::chrono::steady_clock;
  struct Job {
    std::promise<std::vector<Finding>> promise;
    std::atomic<bool> cancelled{false};
    std::string code, language, file;
    // The assessor's own time, measured on the thread that calls it (not the
    // time the job waited to be started or collected): when the call began
    // (nanoseconds of Clock, 0 until then) and how long it took, written
    // before the promise is fulfilled.
    std::atomic<Clock::rep> started{0};
    Clock::duration took{};
  };
  struct Pending {
    std::size_t slot;
    std::shared_ptr<Job> job;
    std::future<std::vector<Finding>> future;
    std::string cache_key, disk_key;
  };
  std::vector<Pending> pending;
  std::vector<std::vector<Finding>> per_assessor;
  auto deadline_ms = std::chrono::milliseconds(config_.deadline_ms);

  for (const auto& name : config_.enabled) {
    AssessorResult r;
    r.name = name;
    out.assessors.push_back(r);
    per_assessor.emplace_back();
  }
  // Probes not remembered (the first request of a process, or every 5 s)
  // run at once: Bandit's starts a worker, Semgrep's runs its engine, and
  // one after the other they added up before even the cache could answer.
  std::vector<std::future<Availability>> probes(config_.enabled.size());
  {
    std::vector<std::size_t> unknown;
    for (std::size_t slot = 0; slot < config_.enabled.size(); ++slot) {
      const Assessor* assessor = plugins_.assessor(config_.enabled[slot]);
      if (Availability a; assessor != nullptr && !remembered_probe(*assessor, a))
        unknown.push_back(slot);
    }
    if (unknown.size() > 1)
      for (std::size_t slot : unknown)
        probes[slot] = std::async(std::launch::async, [this, slot] {
          return availability(*plugins_.assessor(config_.enabled[slot]));
        });
  }
  for (std::size_t slot = 0; slot < config_.enabled.size(); ++slot) {
    AssessorResult& r = out.assessors[slot];
    const Assessor* assessor = plugins_.assessor(r.name);
    if (assessor == nullptr) {
      r.status = "unavailable";
      r.reason = plugins_.missing_reason(r.name);
      continue;
    }
    r.version = assessor->version();
    Availability a = probes[slot].valid() ? probes[slot].get() : availability(*assessor);
    r.tool_version = a.tool_version;
    if (!a.available) {
      r.status = "unavailable";
      r.reason = a.reason;
      continue;
    }
    std::string key = out.code_sha256 + "|" + std::string(language) + "|" + r.name + "|" +
                      r.version + "|" + a.cache_key;
    std::string disk_key = key + "|plugin=" + plugin_identity(*assessor);
    if (cache_get(key, disk_key, per_assessor[slot])) {
      r.cached = true;
      continue;
    }
    auto job = std::make_shared<Job>();
    job->code = std::string(code);
    job->language = std::string(language);
    job->file = std::string(file_name);
    Pending p{slot, job, job->promise.get_future(), key, disk_key};
    ++*in_flight_;
    std::thread([assessor, job, deadline_ms, in_flight = in_flight_] {
      auto start = Clock::now();
      job->started = start.time_since_epoch().count();
      try {
        auto findings = assessor->assess(job->code, job->language, job->file, deadline_ms,
                                         [&job] { return job->cancelled.load(); });
        job->took = Clock::now() - start;
        job->promise.set_value(std::move(findings));
      } catch (...) {
        job->took = Clock::now() - start;
        job->promise.set_exception(std::current_exception());
      }
      --*in_flight;
    }).detach();
    pending.push_back(std::move(p));
  }
  auto deadline = Clock::now() + deadline_ms;
  auto to_ms = [](Clock::duration d) {
    return static_cast<std::uint64_t>(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
  };
  for (auto& p : pending) {
    AssessorResult& r = out.assessors[p.slot];
    if (p.future.wait_until(deadline) != std::future_status::ready) {
      p.job->cancelled = true;
      r.status = "timeout";
      r.reason = "no answer within the deadline of " + std::to_string(config_.deadline_ms) + " ms";
      // Still running: its time so far (0 if its thread never got to call it).
      Clock::rep started = p.job->started.load();
      r.duration_ms =
          started == 0 ? 0 : to_ms(Clock::now() - Clock::time_point(Clock::duration(started)));
    } else {
      r.duration_ms = to_ms(p.job->took);  // the promise made `took` visible
      try {
        per_assessor[p.slot] = p.future.get();
        cache_put(p.cache_key, p.disk_key, per_assessor[p.slot]);
      } catch (const PluginCallError& e) {
        r.status = e.status() == WARDEN_ERR_UNAVAILABLE ? "unavailable"
                   : e.status() == WARDEN_ERR_TIMEOUT   ? "timeout"
                                                        : "failed";
        r.reason = e.what();
      } catch (const std::exception& e) {
        r.status = "failed";
        r.reason = e.what();
      }
    }
  }
  std::vector<Finding> all;
  for (std::size_t slot = 0; slot < per_assessor.size(); ++slot) {
    out.assessors[slot].findings = per_assessor[slot].size();
    for (auto& f : per_assessor[slot]) {
      f.assessor = out.assessors[slot].name;
      all.push_back(std::move(f));
    }
    if (out.assessors[slot].status != "ok")
      spdlog::warn("assessor {} {}: {}", out.assessors[slot].name, out.assessors[slot].status,
                   out.assessors[slot].reason);
  }
  out.findings = merge_findings(std::move(all));
  return out;
}

}  // namespace warden
