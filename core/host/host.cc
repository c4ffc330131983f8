// warden::Host: the request pipeline — validate, assess, classify, gate,
// trust, limits, execute, audit — behind the embedding API (warden/host.h).
#include <warden/host.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>

#include "assess/assessment.h"
#include "audit/audit_log.h"
#include "audit/audit_reader.h"
#include "audit/log_format.h"
#include "audit/note_signer.h"
#include "audit/report.h"
#include "common/logging.h"
#include "common/paths.h"
#include "common/text.h"
#include "common/units.h"
#include "config/config.h"
#include "pipeline/request_check.h"
#include "plugin/plugin_set.h"
#include "policy/policy_engine.h"
#include "policy/system_info.h"

namespace warden {
namespace {

namespace kind = audit::kind;

std::string new_request_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char id[20];
  std::snprintf(id, sizeof id, "r-%016llx", static_cast<unsigned long long>(rng()));
  return id;
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

nlohmann::json findings_summary(const std::vector<Finding>& findings) {
  nlohmann::json by_severity = nlohmann::json::object();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& f : findings) {
    by_severity[to_string(f.severity)] = by_severity.value(to_string(f.severity), 0) + 1;
    list.push_back({{"assessor", f.assessor},
                    {"rule_id", f.rule_id},
                    {"severity", to_string(f.severity)},
                    {"line", f.line},
                    {"category", f.category}});
  }
  return {{"count", findings.size()}, {"by_severity", by_severity}, {"findings", list}};
}

class HostImpl final : public Host {
 public:
  explicit HostImpl(const std::string& config_path)
      : config_(load_config(resolve_config_path(config_path))) {
    init_logging_once(config_.log_level);
    plugins_ = std::make_unique<PluginSet>(config_);
    stage_ = std::make_unique<AssessmentStage>(*plugins_, config_.assessors);
    policy_ = std::make_unique<policy::PolicyEngine>(config_.policies, config_.ceilings);
    audit_ = audit::AuditLog::open(config_.audit);
    policy_->set_event_sink([this](const std::string& event, const nlohmann::json& details) {
      try {
        audit_->append(event, details);
      } catch (const std::exception& e) {
        spdlog::error("could not audit {}: {}", event, e.what());
      }
    });
    nlohmann::json plugins = nlohmann::json::array();
    for (const auto& r : plugins_->catalog().records())
      plugins.push_back(
          {{"name", r.name}, {"kind", r.kind}, {"version", r.version}, {"loaded", r.loaded}});
    audit_->append(kind::kSystemStart, {{"config", config_.file.string()},
                                        {"plugins", plugins},
                                        {"policies", config_.policies.directory.string()}});
  }

  ~HostImpl() override {
    try {
      audit_->append(kind::kSystemStop, nlohmann::json::object());
    } catch (const std::exception& e) {
      spdlog::warn("could not audit the stop: {}", e.what());
    }
    stage_.reset();
    audit_->close();
  }

  ExecutionResult assess_and_execute(const ExecutionRequest& request) override {
    auto started = std::chrono::steady_clock::now();
    std::optional<std::uint64_t> last_ticket;
    ExecutionResult r = run_pipeline(request, last_ticket);
    // The caller learns the outcome only once every record of it is durable.
    if (last_ticket) audit_->wait_durable(*last_ticket);
    r.total_ms = milliseconds_since(started);
    return r;
  }

  nlohmann::json assess_code_only(const std::string& code, const std::string& language) override {
    pipeline::check_code(code, config_.requests);
    require_writable_audit();
    Assessment assessment = stage_->assess(code, language, "main.py");
    nlohmann::json aj = assessment.to_json();
    ExecutionRequest request;
    request.code = code;
    request.language = language;
    policy::Classification c = policy_->classify(aj, policy::PolicyEngine::request_input(request));
    std::string id =
        audit_
            ->append(kind::kAssessment, {{"code_sha256", assessment.code_sha256},
                                         {"level", to_string(c.level)},
                                         {"score", c.score},
                                         {"summary", findings_summary(assessment.findings)},
                                         {"assess_only", true}})
            .id;
    return {{"level", to_string(c.level)},
            {"score", c.score},
            {"reasons", c.reasons},
            {"findings", assessment.findings},
            {"metrics", assessment.metrics},
            {"assessors", aj["assessors"]},
            {"assessment", aj},
            {"can_execute", c.level != RiskLevel::kBlocked},
            {"needs_confirmation", c.level == RiskLevel::kHigh},
            {"policy_failed", c.policy_failed()},
            {"assessed_at", utc_timestamp()},
            {"audit_id", id}};
  }

  nlohmann::json get_execution_history(int limit) override {
    if (limit < 1) throw Error(ErrorKind::kInvalidInput, "Limit must be a positive integer");
    return audit::history(audit::scan_log(config_.audit.directory, config_.audit.origin).records,
                          limit);
  }

  nlohmann::json get_security_status() override {
    nlohmann::json components = nlohmann::json::object();
    bool degraded = false;
    for (const auto& s : plugins_->status()) {
      components[s.kind + ":" + s.name] = {
          {"available", s.available}, {"reason", s.reason}, {"version", s.version}};
      if (s.kind == "sandbox")
        components[s.kind + ":" + s.name]["default"] = s.name == config_.backends.default_backend;
      if (!s.available && (s.kind == "assessor" || s.name == config_.backends.default_backend))
        degraded = true;
    }
    components["policy"] = {{"directory", policy_->directory().string()}, {"available", true}};
    components["audit_log"] = {{"writable", audit_->writable()},
                               {"reason", audit_->unwritable_reason()}};
    if (!audit_->writable()) degraded = true;
    audit_->checkpoint_now();  // cover everything written so far
    audit::VerifyReport report = audit::verify_log(config_.audit.directory, config_.audit.origin,
                                                   audit_->verifier_key(), std::nullopt);
    nlohmann::json integrity = report.to_json();
    integrity["valid"] = report.intact;
    if (!report.intact) degraded = true;
    return {{"system_status", degraded ? "degraded" : "operational"},
            {"components", components},
            {"system_resources", policy::system_snapshot()},
            {"audit_integrity", integrity},
            {"status_checked_at", utc_timestamp()}};
  }

  nlohmann::json configure_policies(const PolicyUpdate& update) override {
    std::filesystem::path dir;
    if (!update.directory.empty()) {
      dir = update.directory;
    } else if (!update.files.empty()) {
      dir = config_.audit.directory.parent_path() / "policies" / new_request_id();
      std::filesystem::create_directories(dir);
      for (const auto& [name, source] : update.files) {
        if (name.find('/') != std::string::npos || !name.ends_with(".lua"))
          throw Error(ErrorKind::kInvalidInput,
                      "policy file name '" + name + "' must be a plain *.lua name");
        std::ofstream(dir / name, std::ios::binary) << source;
      }
    } else {
      throw Error(ErrorKind::kInvalidInput, "Policies must name a directory or give files");
    }
    policy_->replace(dir);  // validates first; audits policy_reload through the event sink
    return {{"updated_policies", {dir.string()}},
            {"failed_updates", nlohmann::json::array()},
            {"validation_errors", nlohmann::json::array()},
            {"updated_at", utc_timestamp()}};
  }

  nlohmann::json get_audit_report(int hours) override {
    if (hours < 0)
      throw Error(ErrorKind::kInvalidInput, "time_range_hours must be a positive integer");
    audit_->checkpoint_now();  // cover everything written so far
    return audit::report(config_.audit.directory, config_.audit.origin, audit_->verifier_key(),
                         hours);
  }

 private:
  // Records are queued as the request goes. Before the code runs they are
  // written to the log file (so a crash of warden during the run loses none
  // of them), and the caller makes them durable, with the run's result,
  // before the result is returned: one sync per request, not one per record.
  // With durability "every-record" each record is synced as it is queued.
  ExecutionResult run_pipeline(const ExecutionRequest& request,
                               std::optional<std::uint64_t>& last_ticket) {
    pipeline::check_request(request, config_.requests, config_.ceilings, plugins_->backend_names());
    require_writable_audit();
    ExecutionResult r;
    r.request_id = new_request_id();
    r.timestamp = utc_timestamp();
    auto record = [&](const char* record_kind, nlohmann::json data) {
      data["request_id"] = r.request_id;
      audit::QueuedRecord queued = audit_->enqueue(record_kind, std::move(data));
      r.audit_ids.push_back(queued.id);
      last_ticket = queued.ticket;
    };

    Assessment assessment = stage_->assess(request.code, request.language, request.file_name);
    r.assessment = assessment.to_json();
    nlohmann::json request_json = policy::PolicyEngine::request_input(request);
    policy::PolicySession policy = policy_->session(r.assessment, request_json);
    policy::Classification c = policy.classify();
    r.level = c.level;
    r.score = c.score;
    r.reasons = c.reasons;
    r.findings = assessment.findings;
    nlohmann::json assessment_record = {
        {"file", request.file_name},     {"code_sha256", assessment.code_sha256},
        {"level", to_string(c.level)},   {"score", c.score},
        {"reasons", c.reasons},          {"summary", findings_summary(assessment.findings)},
        {"metrics", assessment.metrics}, {"assessors", r.assessment["assessors"]},
        {"user", request.user},          {"metadata", request.metadata}};
    if (config_.audit.include_code) assessment_record["code"] = request.code;
    record(kind::kAssessment, assessment_record);

    auto decide = [&](Outcome outcome, const std::string& reason) {
      r.decision = outcome;
      r.reason = reason;
      record(kind::kDecision, {{"outcome", to_string(outcome)},
                               {"level", to_string(c.level)},
                               {"score", c.score},
                               {"reasons", c.reasons},
                               {"reason", reason},
                               {"user", request.user},
                               {"policy_sha256", policy.policy_sha256()}});
      return r;
    };

    if (c.denied()) return decide(Outcome::kBlocked, c.stop->describe());  // not overridable
    if (c.level == RiskLevel::kHigh) {
      if (!request.confirmed)
        return decide(
            Outcome::kNeedsConfirmation,
            "judged HIGH risk: it runs only when the user confirms (--confirm, confirm=True)");
      record(kind::kConfirmation, {{"user", request.user}, {"level", "HIGH"}, {"score", c.score}});
    }
    if (c.level == RiskLevel::kBlocked) {
      if (!request.override_blocked)
        return decide(Outcome::kBlocked,
                      "Code blocked by security assessment" +
                          std::string(c.reasons.empty() ? "" : ": " + c.reasons.front()));
      policy::OverrideVerdict verdict = policy.may_override(c);
      record(kind::kOverride, {{"user", request.user},
                               {"explanation", request.override_explanation},
                               {"allowed", verdict.allowed},
                               {"reason", verdict.reason},
                               {"score", c.score}});
      if (!verdict.allowed)
        return decide(Outcome::kBlocked, "override refused by the policy: " + verdict.reason);
      r.override_used = true;
    }

    r.trust = TrustLevel::kUntrusted;  // an overridden BLOCKED run, whatever trust() says
    if (!r.override_used) {
      policy::TrustDecision trust = policy.trust(c);
      if (trust.denied()) return decide(Outcome::kRefused, trust.stop->describe());
      r.trust = trust.trust;
    }
    nlohmann::json system = policy::system_snapshot();
    system["loaded_backends"] = plugins_->backend_names();
    system["default_backend"] = config_.backends.default_backend;
    system["requested_backend"] =
        request.backend ? nlohmann::json(*request.backend) : nlohmann::json(nullptr);
    policy::LimitsDecision limits = policy.limits(r.trust, system, plugins_->backend_names());
    if (limits.stop)
      return decide(Outcome::kRefused,
                    limits.stop->denied() ? limits.stop->describe()
                                          : "the policy could not decide limits, failing closed: " +
                                                limits.stop->reason);
    if (!r.override_used && !request.limits.empty())
      limits.limits =
          pipeline::apply_requested_limits(limits.limits, request.limits, config_.ceilings);
    r.backend = limits.backend;
    r.limits = limits.limits;
    r.network = limits.network;
    if (c.level != RiskLevel::kLow) r.warnings = c.reasons;
    for (const auto& note : limits.clamped) r.warnings.push_back(note);
    r.decision = Outcome::kRan;
    record(kind::kDecision, {{"outcome", "run"},
                             {"level", to_string(c.level)},
                             {"score", c.score},
                             {"trust", to_string(r.trust)},
                             {"backend", r.backend},
                             {"limits", r.limits},
                             {"network", to_string(r.network)},
                             {"reasons", c.reasons},
                             {"clamped", limits.clamped},
                             {"override_used", r.override_used},
                             {"user", request.user},
                             {"policy_sha256", policy.policy_sha256()}});

    RunSpec spec;
    spec.run_id = r.request_id;
    spec.language = request.language;
    spec.limits = r.limits;
    spec.network = r.network;
    for (const auto& name : config_.requests.env_allowlist)
      if (const char* value = std::getenv(name.c_str())) spec.env[name] = value;
    record(kind::kRunStart, {{"backend", r.backend},
                             {"limits", r.limits},
                             {"network", to_string(r.network)},
                             {"trust", to_string(r.trust)}});
    const SandboxBackend* backend = plugins_->backend(r.backend);
    audit_->write_queued();  // in the log file before the code runs
    auto sandbox_started = std::chrono::steady_clock::now();
    try {
      r.run = backend->run(spec, request.code, request.stdin_data, request.cancelled);
      r.sandbox_ms = milliseconds_since(sandbox_started);
    } catch (const PluginCallError& e) {
      r.sandbox_ms = milliseconds_since(sandbox_started);
      r.decision = Outcome::kRefused;
      if (e.status() == WARDEN_ERR_CANCELLED) {
        // The program was killed part way: its run ends here, on the record.
        r.reason = "cancelled: warden was asked to stop during the run";
        record(kind::kRunResult,
               {{"backend", r.backend}, {"cancelled", true}, {"reason", r.reason}});
        record(kind::kResourceViolation,
               {{"violations", {"cancelled"}}, {"backend", r.backend}, {"limits", r.limits}});
        return r;
      }
      r.reason = "backend " + r.backend + " did not run it: " + e.what();
      record(kind::kRunResult, {{"backend", r.backend}, {"refused", true}, {"reason", r.reason}});
      return r;
    }
    const RunResult& run = *r.run;
    nlohmann::json result_record = run;
    result_record["backend"] = r.backend;
    result_record["stdout_bytes"] = run.stdout_data.size();
    result_record["stderr_bytes"] = run.stderr_data.size();
    record(kind::kRunResult, result_record);
    nlohmann::json violations = nlohmann::json::array();
    if (run.timed_out) violations.push_back("wall_time");
    if (run.cpu_time_exceeded) violations.push_back("cpu_time");
    if (run.oom_killed) violations.push_back("memory");
    if (run.output_truncated) violations.push_back("output");
    for (const auto& hit : run.limits_hit) violations.push_back(hit);
    if (!violations.empty())
      record(kind::kResourceViolation, {{"violations", violations},
                                        {"backend", r.backend},
                                        {"limits", r.limits},
                                        {"peak_memory_bytes", run.peak_memory_bytes},
                                        {"cpu_time_ms", run.cpu_time_ms},
                                        {"wall_time_ms", run.wall_time_ms}});
    return r;
  }

  void require_writable_audit() {
    if (!audit_->writable())
      throw Error(ErrorKind::kEnvironment,
                  "refusing to run code: the audit log cannot be written (" +
                      audit_->unwritable_reason() + ")");
  }

  Config config_;
  std::unique_ptr<PluginSet> plugins_;
  std::unique_ptr<AssessmentStage> stage_;
  std::unique_ptr<policy::PolicyEngine> policy_;
  std::unique_ptr<audit::AuditLog> audit_;
};

}  // namespace

Host::~Host() = default;

std::unique_ptr<Host> Host::open(const std::string& config_path) {
  return std::make_unique<HostImpl>(config_path);
}

}  // namespace warden
