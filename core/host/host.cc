// warden::Host: the request pipeline — validate, assess, classify, gate,
// trust, limits, execute, audit — behind the embedding API (warden/host.h).
#include <warden/host.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>

#include "alert/alerter.h"
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
#include "deps/installer.h"
#include "deps/requirements.h"
#include "pipeline/alert_events.h"
#include "pipeline/audit_records.h"
#include "pipeline/decision.h"
#include "pipeline/explain.h"
#include "pipeline/request_check.h"
#include "plugin/plugin_set.h"
#include "policy/policy_engine.h"
#include "policy/system_info.h"

namespace warden {
namespace {

namespace kind = audit::kind;

std::string new_request_id() {
  return "r-" + random_hex_id();
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

class HostImpl final : public Host {
 public:
  explicit HostImpl(const std::string& config_path)
      : config_(load_config(resolve_config_path(config_path))) {
    init_logging_once(config_.log_level);
    plugins_ = std::make_unique<PluginSet>(config_);
    stage_ = std::make_unique<AssessmentStage>(*plugins_, config_.assessors);
    policy_ = std::make_unique<policy::PolicyEngine>(config_.policies, config_.ceilings);
    bool alerts = !alert::Alerter::enabled_sinks(config_.alerts).empty();
    try {
      audit_ = audit::AuditLog::open(config_.audit);
    } catch (const Error& e) {
      if (alerts && e.kind() == ErrorKind::kRefused) {  // damaged: tell someone, then refuse
        alert::Alerter(config_.alerts, *policy_, nullptr)
            .raise(pipeline::alert_events::audit_damage("open", e.what()));
      }
      throw;
    }
    if (alerts) alerter_ = std::make_unique<alert::Alerter>(config_.alerts, *policy_, audit_.get());
    policy_->set_event_sink([this](const std::string& event, const nlohmann::json& details) {
      try {
        audit_->append(event, details);
      } catch (const std::exception& e) {
        spdlog::error("could not audit {}: {}", event, e.what());
      }
      // A request's own policy failures are raised with the request (run_pipeline).
      bool outside_a_request = !details.contains("function") || details["function"] == "alert";
      if (event == audit::kind::kPolicyFailure && outside_a_request)
        raise(pipeline::alert_events::policy_failure(details));
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
    alerter_.reset();  // flushes, bounded, while the log still takes its records
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

  nlohmann::json assess_code_only(const std::string& code, const std::string& language,
                                  const std::string& file_name) override {
    ExecutionRequest request;
    request.code = code;
    request.language = language;
    request.file_name = file_name;
    pipeline::check_code(code, config_.requests);
    require_writable_audit();
    Assessment assessment = stage_->assess(code, language, file_name);
    nlohmann::json aj = assessment.to_json();
    policy::Classification c = policy_->classify(aj, policy::PolicyEngine::request_input(request));
    nlohmann::json record =
        pipeline::records::assessment(assessment, c, request, config_.audit.include_code);
    record["assess_only"] = true;
    std::string id = audit_->append(kind::kAssessment, std::move(record)).id;
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

  nlohmann::json explain(const ExecutionRequest& request) override {
    pipeline::check_request(request, config_.requests, config_.ceilings, plugins_->backend_names());
    std::vector<deps::Requirement> declared = declared_dependencies(request);
    Assessment assessment = stage_->assess(request.code, request.language, request.file_name);
    nlohmann::json aj = assessment.to_json();
    nlohmann::json request_json = policy::PolicyEngine::request_input(request);
    policy::PolicySession policy = policy_->session(aj, request_json);
    pipeline::Decision decision = pipeline::decide(policy, decision_inputs(request, declared));
    std::optional<pipeline::Decision> if_allowed;
    bool gated = decision.outcome == Outcome::kNeedsConfirmation ||
                 (decision.outcome == Outcome::kBlocked && !decision.classification.denied() &&
                  !request.override_blocked);
    if (gated) {  // the same request, confirmed or overridden
      ExecutionRequest allowed = request;
      allowed.confirmed = true;
      if (decision.outcome == Outcome::kBlocked) {
        allowed.override_blocked = true;
        allowed.override_explanation = "(asked by warden explain)";
      }
      nlohmann::json allowed_json = policy::PolicyEngine::request_input(allowed);
      policy::PolicySession allowed_policy = policy_->session(aj, allowed_json);
      if_allowed = pipeline::decide(allowed_policy, decision_inputs(allowed, declared));
    }
    nlohmann::json e = pipeline::explanation(policy_->directory().string(), aj, decision,
                                             if_allowed ? &*if_allowed : nullptr);
    e["assessment"] = std::move(aj);
    return e;
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
    if (!audit_->writable()) {
      degraded = true;
      raise_audit_damage("status", audit_->unwritable_reason());
    }
    audit_->checkpoint_now();  // cover everything written so far
    audit::VerifyReport report = audit::verify_log(config_.audit.directory, config_.audit.origin,
                                                   audit_->verifier_key(), std::nullopt);
    nlohmann::json integrity = report.to_json();
    integrity["valid"] = report.intact;
    if (!report.intact) {
      degraded = true;
      raise_audit_damage(
          "status",
          report.reason +
              (report.bad_index ? " (record " + std::to_string(*report.bad_index) + ")" : ""));
    }
    if (alerter_) {
      alert::Alerter::Counts n = alerter_->counts();
      components["alerts"] = {{"sinks", alert::Alerter::enabled_sinks(config_.alerts)},
                              {"events", n.events},
                              {"alerts", n.alerts},
                              {"delivered", n.delivered},
                              {"failed", n.failed},
                              {"dropped", n.dropped},
                              {"queued", n.queued}};
    }
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
    std::vector<deps::Requirement> declared = declared_dependencies(request);
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
    r.findings = assessment.findings;
    nlohmann::json request_json = policy::PolicyEngine::request_input(request);
    policy::PolicySession policy = policy_->session(r.assessment, request_json);
    pipeline::Decision d = pipeline::decide(policy, decision_inputs(request, declared));
    const policy::Classification& c = d.classification;
    r.level = c.level;
    r.score = c.score;
    r.reasons = c.reasons;
    r.decision = d.outcome;
    r.reason = d.reason;
    r.trust = d.trust_level;
    r.override_used = d.override_used;
    record(kind::kAssessment,
           pipeline::records::assessment(assessment, c, request, config_.audit.include_code));
    if (d.confirmed_high) record(kind::kConfirmation, pipeline::records::confirmation(d, request));
    if (d.override_verdict) record(kind::kOverride, pipeline::records::override_asked(d, request));
    record(kind::kDecision, pipeline::records::decision(d, request, policy.policy_sha256()));
    raise_decision_alerts(d, {request, r.request_id});
    if (d.outcome != Outcome::kRan) return r;
    r.backend = d.backend;
    r.limits = d.plan;
    r.network = d.network;
    r.warnings = d.warnings;

    RunSpec spec;
    spec.run_id = r.request_id;
    spec.language = request.language;
    spec.args = request.args;
    spec.limits = r.limits;
    spec.network = r.network;
    for (const auto& name : config_.requests.env_allowlist)
      if (const char* value = std::getenv(name.c_str())) spec.env[name] = value;
    const SandboxBackend* backend = plugins_->backend(r.backend);
    if (d.dependencies) {
      deps::InstallPlan plan{declared,
                             d.dependencies->indexes,
                             d.dependencies->hosts,
                             d.dependencies->packages,
                             d.trust_level,
                             d.backend};
      std::optional<deps::InstallResult> installed;
      std::string refused;
      std::vector<egress::EgressDecision> egress;
      try {
        installed =
            installer_.install(plan, *backend, r.request_id + "-install", request.cancelled);
        egress = installed->egress;
      } catch (const deps::InstallRefused& e) {
        refused = e.what();
        egress = e.egress;
      } catch (const Error& e) {
        refused = e.what();
      }
      for (const auto& decision : egress)
        record(kind::kEgress, pipeline::records::egress(decision));
      record(kind::kDependencies,
             pipeline::records::dependencies(d, plan, installed ? &*installed : nullptr, refused));
      if (!installed) {
        r.dependencies = {{"declared", deps::to_json(declared)}, {"refused", refused}};
        r.decision = Outcome::kRefused;
        r.reason = "the packages it declares were not installed: " + refused;
        return r;
      }
      r.dependencies = installed->to_json();
      r.dependencies["declared"] = deps::to_json(declared);
      spec.site_dir = installed->site_dir.string();
      spec.env["PYTHONPATH"] = kSiteDirPath;
    }
    record(kind::kRunStart, pipeline::records::run_start(d));
    audit_->write_queued();  // in the log file before the code runs
    auto sandbox_started = std::chrono::steady_clock::now();
    try {
      r.run = backend->run(spec, request.code, request.stdin_data, request.cancelled,
                           request.on_output, request.files);
      for (RunFile& f : r.run->files) f.sha256 = sha256_hex(f.content);
      r.sandbox_ms = milliseconds_since(sandbox_started);
    } catch (const PluginCallError& e) {
      r.sandbox_ms = milliseconds_since(sandbox_started);
      r.decision = Outcome::kRefused;
      bool cancelled = e.status() == WARDEN_ERR_CANCELLED;
      r.reason = cancelled ? "cancelled: warden was asked to stop during the run"
                           : "backend " + r.backend + " did not run it: " + e.what();
      record(kind::kRunResult, pipeline::records::run_not_finished(r.backend, cancelled, r.reason));
      if (cancelled)  // the program was killed part way: its run ends here, on the record
        record(kind::kResourceViolation, pipeline::records::cancelled(d));
      return r;
    }
    record(kind::kRunResult, pipeline::records::run_result(r.backend, *r.run));
    if (nlohmann::json violations = pipeline::records::violations(d, *r.run);
        !violations.is_null()) {
      raise(pipeline::alert_events::resource_violation(d, violations, {request, r.request_id}));
      record(kind::kResourceViolation, std::move(violations));
    }
    return r;
  }

  // The alerts a decision may raise: its policy failures, a blocked attempt,
  // an override used.
  void raise_decision_alerts(const pipeline::Decision& d,
                             const pipeline::alert_events::RequestContext& context) {
    if (!alerter_) return;
    for (const std::optional<policy::PolicyStop>* stop :
         {&d.classification.stop, d.override_verdict ? &d.override_verdict->stop : nullptr,
          d.trust ? &d.trust->stop : nullptr, d.limits ? &d.limits->stop : nullptr})
      if (stop != nullptr && *stop && !(*stop)->denied())
        raise(pipeline::alert_events::policy_failure(d, **stop, context));
    if (d.outcome == Outcome::kBlocked) raise(pipeline::alert_events::blocked(d, context));
    if (d.override_used) raise(pipeline::alert_events::override_used(d, context));
  }

  void raise(nlohmann::json event) {
    if (alerter_) alerter_->raise(std::move(event));
  }

  // Once per distinct finding: a status asked every minute of a damaged log
  // is one alert, not one a minute.
  void raise_audit_damage(const char* where, const std::string& reason) {
    {
      std::lock_guard lock(damage_mutex_);
      if (reason == damage_alerted_) return;
      damage_alerted_ = reason;
    }
    raise(pipeline::alert_events::audit_damage(where, reason));
  }

  pipeline::DecisionInputs decision_inputs(const ExecutionRequest& request,
                                           const std::vector<deps::Requirement>& declared) const {
    return {request,
            plugins_->backend_names(),
            config_.ceilings,
            [this, &request] {
              return pipeline::system_input(plugins_->backend_names(),
                                            config_.backends.default_backend, request.backend);
            },
            declared,
            configured_dependencies_};
  }

  // The packages the request declares; throws kInvalidInput naming the line
  // of a malformed PEP 723 block or the bad requirement.
  std::vector<deps::Requirement> declared_dependencies(const ExecutionRequest& request) const {
    return deps::declared_dependencies(request.code, request.file_name, request.dependencies,
                                       config_.dependencies.max_requirements);
  }

  void require_writable_audit() {
    if (!audit_->writable()) raise_audit_damage("write", audit_->unwritable_reason());
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
  std::unique_ptr<alert::Alerter> alerter_;  // none when no alert sink is enabled
  deps::Installer installer_{config_.dependencies};
  // warden.yaml's dependencies section as the policy's dependencies() sees it.
  const nlohmann::json configured_dependencies_ = {{"indexes", config_.dependencies.indexes},
                                                   {"hosts", config_.dependencies.hosts},
                                                   {"packages", config_.dependencies.packages}};
  std::mutex damage_mutex_;
  std::string damage_alerted_;  // the audit damage alerted last
};

}  // namespace

Host::~Host() = default;

std::unique_ptr<Host> Host::open(const std::string& config_path) {
  return std::make_unique<HostImpl>(config_path);
}

}  // namespace warden
