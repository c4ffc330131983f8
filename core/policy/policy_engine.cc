#include "policy/policy_engine.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <warden/error.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

#include "common/text.h"
#include "common/units.h"
#include "deps/requirements.h"

namespace warden::policy {
namespace fs = std::filesystem;

namespace {

constexpr const char* kRequiredFunctions[] = {"classify", "trust", "limits", "may_override"};

// A signature of the folder's Lua files (recursively: modules count) that
// changes when any of them changes, appears or disappears.
std::string folder_signature(const fs::path& dir) {
  std::string sig;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->path().extension() != ".lua") continue;
    struct stat st {};
    if (::stat(it->path().c_str(), &st) != 0) continue;
    sig += it->path().string() + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_size) + ";";
  }
  return sig;
}

}  // namespace

struct PolicyEngine::Sources {
  fs::path directory;
  std::uint64_t generation = 0;
  std::string signature;
  PolicyFiles files;
};

namespace {
// Each file of a policy version with the SHA-256 of its text, by path.
nlohmann::json file_hashes(const PolicyFiles& sources) {
  std::vector<const PolicyModule*> modules;
  for (const auto& [name, module] : sources.modules) modules.push_back(&module);
  std::sort(modules.begin(), modules.end(),
            [](const PolicyModule* a, const PolicyModule* b) { return a->path < b->path; });
  nlohmann::json files = nlohmann::json::array();
  for (const PolicyModule* m : modules)
    files.push_back({{"path", m->path}, {"sha256", sha256_hex(m->text)}});
  return files;
}

// What a policy record says of the policy in force: its folder, generation,
// the SHA-256 of each file's text, and the version's SHA-256 over that list
// (the `policy_sha256` of every decision it makes), so the records name
// exactly the code that decided, not only a folder whose files may have
// changed since.
nlohmann::json describe(const fs::path& directory, std::uint64_t generation,
                        const PolicyFiles& sources) {
  nlohmann::json files = file_hashes(sources);
  return {{"directory", directory.string()},
          {"generation", generation},
          {"files", files},
          {"sha256", sha256_hex(files.dump())}};
}
}  // namespace

struct PolicySession::Evaluator {
  std::uint64_t generation;
  std::string sha256;  // the version's, as describe() gives it
  LuaSandbox sandbox;
  bool has_alert = false;         // alert() is optional
  bool has_dependencies = false;  // so is dependencies()
  Evaluator(const PolicyEngine::Sources& sources, const Budget& budget)
      : generation(sources.generation),
        sha256(sha256_hex(file_hashes(sources.files).dump())),
        sandbox(budget) {
    sandbox.set_modules(&sources.files.modules);
    for (const auto& name : sources.files.policy_files) sandbox.load_module(name);
    for (const char* fn : kRequiredFunctions)
      if (!sandbox.has_function(fn))
        throw PolicyFailure(sources.directory.string() + ": no policy file defines function '" +
                            fn + "' (required: classify, trust, limits, may_override)");
    has_alert = sandbox.has_function("alert");
    has_dependencies = sandbox.has_function("dependencies");
    sandbox.freeze();
    sandbox.set_modules(nullptr);  // loaded: require() only returns what it loaded
  }
};

PolicyFiles read_policy_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorKind::kConfig,
                dir.string() + ": policy folder does not exist (policies.directory)");
  fs::path root = fs::canonical(dir, ec);
  std::vector<std::tuple<fs::path, std::string, bool>> found;  // (path, module, policy file)
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const fs::path& p = it->path();
    std::string name = p.filename();
    std::error_code file_ec;
    if (p.extension() != ".lua" || name.ends_with("_test.lua") || !it->is_regular_file(file_ec))
      continue;
    fs::path real = fs::canonical(p, file_ec);
    auto [end, _] = std::mismatch(root.begin(), root.end(), real.begin(), real.end());
    if (file_ec || end != root.end())
      throw Error(ErrorKind::kConfig, p.string() + ": leads outside the policy folder " +
                                          root.string() +
                                          "; policy files and modules must be inside it");
    std::string module = p.lexically_relative(dir).replace_extension("").generic_string();
    std::replace(module.begin(), module.end(), '/', '.');
    found.emplace_back(p, module, it.depth() == 0);
  }
  std::sort(found.begin(), found.end());
  PolicyFiles files;
  for (const auto& [path, module, policy_file] : found) {
    if (files.modules.count(module))
      throw Error(ErrorKind::kConfig, path.string() + ": module '" + module + "' is given by " +
                                          files.modules.at(module).path + " already");
    files.modules.emplace(module, PolicyModule{path.string(), read_whole_file(path).value_or("")});
    if (policy_file) files.policy_files.push_back(module);
  }
  if (files.policy_files.empty())
    throw Error(ErrorKind::kConfig, dir.string() + ": no policy files (*.lua) found");
  return files;
}

PolicyEngine::PolicyEngine(const PolicyConfig& config, const Limits& ceilings)
    : config_(config), ceilings_(ceilings) {
  budget_ = Budget{config.instruction_budget, config.memory_bytes, config.wall_time_ms};
  auto sources = std::make_shared<Sources>();
  sources->directory = config.directory;
  sources->signature = folder_signature(config.directory);
  sources->files = read_policy_files(config.directory);
  sources->generation = 1;
  try {
    release(std::make_unique<Evaluator>(*sources, budget_));
  } catch (const PolicyFailure& e) {
    throw Error(ErrorKind::kConfig, std::string("policy: ") + e.what());
  }
  sources_ = sources;
  next_reload_check_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
}

PolicyEngine::~PolicyEngine() = default;

void PolicyEngine::set_event_sink(PolicyEventSink sink) {
  std::lock_guard lock(mutex_);
  sink_ = std::move(sink);
  emit("policy_load", describe(sources_->directory, sources_->generation, sources_->files));
}

void PolicyEngine::emit(const std::string& event, const nlohmann::json& details) {
  if (sink_) sink_(event, details);
}

fs::path PolicyEngine::directory() const {
  std::lock_guard lock(mutex_);
  return sources_->directory;
}

std::shared_ptr<const PolicyEngine::Sources> PolicyEngine::current() {
  std::lock_guard lock(mutex_);
  return sources_;
}

void PolicyEngine::maybe_reload() {
  if (!config_.hot_reload) return;
  std::shared_ptr<const Sources> now;
  {
    std::lock_guard lock(mutex_);
    auto t = std::chrono::steady_clock::now();
    if (t < next_reload_check_) return;
    next_reload_check_ = t + std::chrono::milliseconds(500);
    now = sources_;
  }
  std::string signature = folder_signature(now->directory);
  if (signature == now->signature) return;
  auto next = std::make_shared<Sources>();
  next->directory = now->directory;
  next->signature = signature;
  next->generation = now->generation + 1;
  try {
    next->files = read_policy_files(now->directory);
    auto evaluator = std::make_unique<Evaluator>(*next, budget_);
    std::lock_guard lock(mutex_);
    sources_ = next;
    idle_.clear();
    idle_.push_back(std::move(evaluator));
    spdlog::info("policy reloaded from {} (generation {})", next->directory.string(),
                 next->generation);
    emit("policy_reload", describe(next->directory, next->generation, next->files));
  } catch (const std::exception& e) {
    std::lock_guard lock(mutex_);
    // Remember the broken signature so the same broken files are not retried every call.
    auto kept = std::make_shared<Sources>(*sources_);
    kept->signature = signature;
    sources_ = kept;
    spdlog::warn("policy change in {} not applied, the last good policy stays in force: {}",
                 now->directory.string(), e.what());
    emit("policy_failure", {{"directory", now->directory.string()},
                            {"error", e.what()},
                            {"kept_generation", now->generation}});
  }
}

void PolicyEngine::replace(const fs::path& directory) {
  auto next = std::make_shared<Sources>();
  next->directory = fs::absolute(directory);
  next->signature = folder_signature(next->directory);
  next->files = read_policy_files(next->directory);
  {
    std::lock_guard lock(mutex_);
    next->generation = sources_->generation + 1;
  }
  std::unique_ptr<Evaluator> evaluator;
  try {
    evaluator = std::make_unique<Evaluator>(*next, budget_);
  } catch (const PolicyFailure& e) {
    throw Error(ErrorKind::kConfig, std::string("policy: ") + e.what());
  }
  std::lock_guard lock(mutex_);
  sources_ = next;
  idle_.clear();
  idle_.push_back(std::move(evaluator));
  emit("policy_reload", describe(next->directory, next->generation, next->files));
}

std::unique_ptr<PolicyEngine::Evaluator> PolicyEngine::acquire() {
  maybe_reload();
  std::shared_ptr<const Sources> sources;
  {
    std::lock_guard lock(mutex_);
    sources = sources_;
    while (!idle_.empty()) {
      auto e = std::move(idle_.back());
      idle_.pop_back();
      if (e->generation == sources->generation) return e;
    }
  }
  return std::make_unique<Evaluator>(*sources, budget_);
}

void PolicyEngine::release(std::unique_ptr<Evaluator> evaluator) {
  std::lock_guard lock(mutex_);
  if (!sources_ || evaluator->generation == sources_->generation)
    idle_.push_back(std::move(evaluator));
}

void PolicyEngine::report_failure(const char* function, const std::string& error) {
  spdlog::error("policy failure: {}", error);
  std::lock_guard lock(mutex_);
  emit("policy_failure", {{"function", function}, {"error", error}});
}

PolicySession PolicyEngine::session(const nlohmann::json& assessment,
                                    const nlohmann::json& request) {
  return PolicySession(*this, assessment, request);
}

Classification PolicyEngine::classify(const nlohmann::json& assessment,
                                      const nlohmann::json& request) {
  return session(assessment, request).classify();
}

TrustDecision PolicyEngine::trust(const Classification& decision, const nlohmann::json& request) {
  static const nlohmann::json kNoAssessment;  // trust() does not see the assessment
  return session(kNoAssessment, request).trust(decision);
}

LimitsDecision PolicyEngine::limits(TrustLevel trust, const nlohmann::json& assessment,
                                    const nlohmann::json& request, const nlohmann::json& system,
                                    const std::vector<std::string>& backends) {
  return session(assessment, request).limits(trust, system, backends);
}

OverrideVerdict PolicyEngine::may_override(const Classification& decision,
                                           const nlohmann::json& request) {
  static const nlohmann::json kNoAssessment;  // may_override() does not see the assessment
  return session(kNoAssessment, request).may_override(decision);
}

AlertVerdict PolicyEngine::alert(const nlohmann::json& event,
                                 const std::vector<std::string>& sinks) {
  static const nlohmann::json kNone;  // alert() sees the event only
  return session(kNone, kNone).alert(event, sinks);
}

std::string PolicyStop::describe() const {
  return denied() ? "denied by the policy (" + function + "): " + reason
                  : "policy failed, failing closed: " + reason;
}

PolicySession::PolicySession(PolicyEngine& engine, const nlohmann::json& assessment,
                             const nlohmann::json& request)
    : engine_(&engine), assessment_(&assessment), request_(&request) {}

PolicySession::PolicySession(PolicySession&& other) noexcept
    : engine_(other.engine_),
      assessment_(other.assessment_),
      request_(other.request_),
      evaluator_(std::move(other.evaluator_)),
      policy_sha256_(std::move(other.policy_sha256_)),
      assessment_ref_(std::exchange(other.assessment_ref_, LUA_NOREF)),
      request_ref_(std::exchange(other.request_ref_, LUA_NOREF)) {}

PolicySession::~PolicySession() {
  if (!evaluator_) return;
  for (int ref : {assessment_ref_, request_ref_})
    if (ref != LUA_NOREF) evaluator_->sandbox.unpin(ref);
  engine_->release(std::move(evaluator_));
}

LuaSandbox& PolicySession::sandbox() {
  if (!evaluator_) {
    evaluator_ = engine_->acquire();
    assessment_ref_ = LUA_NOREF;
    request_ref_ = LUA_NOREF;
  }
  policy_sha256_ = evaluator_->sha256;
  return evaluator_->sandbox;
}

LuaSandbox::Arg PolicySession::pinned(const nlohmann::json& value, int& ref) {
  LuaSandbox& lua = sandbox();
  if (ref == LUA_NOREF) ref = lua.pin(value);
  return LuaSandbox::Arg::pinned(ref);
}

// Calls `function` and hands its answer to `read`, which throws PolicyFailure
// when the answer is nonsense. Returns how the call stopped, if it did.
template <typename Read>
std::optional<PolicyStop> PolicySession::run(const char* function, LuaSandbox::Args args,
                                             Notes& notes, Read read) {
  try {
    LuaSandbox::Answer answer;
    try {
      answer = sandbox().call(function, args);
    } catch (const PolicyFailure&) {
      // A state whose call failed is dropped: it may hold half-built garbage,
      // and a fresh one costs little.
      evaluator_.reset();
      throw;
    }
    notes = evaluator_->sandbox.take_notes();
    if (answer.denial) return PolicyStop{PolicyStop::Kind::kDenied, function, *answer.denial};
    read(answer.value);
    return std::nullopt;
  } catch (const PolicyFailure& e) {
    engine_->report_failure(function, e.what());
    return PolicyStop{PolicyStop::Kind::kFailed, function, e.what()};
  }
}

nlohmann::json PolicyEngine::decision_json(const Classification& c) {
  return {{"level", to_string(c.level)},
          {"score", c.score},
          {"reasons", c.reasons},
          {"policy_failed", c.policy_failed()}};
}

nlohmann::json PolicyEngine::request_input(const ExecutionRequest& request) {
  nlohmann::json files = nlohmann::json::array();
  for (const RunFile& f : request.files)
    files.push_back({{"path", f.path}, {"size", f.content.size()}});
  return {{"user", request.user},
          {"user_verified", request.user_verified},
          {"args", request.args},
          {"files", std::move(files)},
          {"confirmed", request.confirmed},
          {"metadata", request.metadata},
          {"backend", request.backend ? nlohmann::json(*request.backend) : nlohmann::json(nullptr)},
          {"override", request.override_blocked
                           ? nlohmann::json{{"explanation", request.override_explanation},
                                            {"user", request.user}}
                           : nlohmann::json(nullptr)}};
}

Classification PolicySession::classify() {
  Classification c;
  auto read = [&c](const nlohmann::json& r) {
    if (!r.is_object())
      throw PolicyFailure("in function 'classify': must return a table {level=, score=, reasons=}");
    if (!r.contains("level") || !r["level"].is_string())
      throw PolicyFailure(
          "in function 'classify': 'level' must be one of LOW, MEDIUM, HIGH, BLOCKED");
    try {
      c.level = risk_level_from_string(r["level"].get<std::string>());
    } catch (const std::invalid_argument& e) {
      throw PolicyFailure(std::string("in function 'classify': ") + e.what());
    }
    if (r.contains("score")) {
      if (!r["score"].is_number() || !std::isfinite(r["score"].get<double>()))
        throw PolicyFailure("in function 'classify': 'score' must be a number");
      c.score = r["score"].get<double>();
    }
    if (r.contains("reasons")) {
      if (!r["reasons"].is_array())
        throw PolicyFailure("in function 'classify': 'reasons' must be a list of strings");
      for (const auto& reason : r["reasons"]) {
        if (!reason.is_string())
          throw PolicyFailure("in function 'classify': 'reasons' must be a list of strings");
        c.reasons.push_back(reason.get<std::string>());
      }
    }
  };
  Notes notes;
  std::optional<PolicyStop> stop =
      run("classify", {pinned(*assessment_, assessment_ref_), pinned(*request_, request_ref_)},
          notes, read);
  if (stop) {
    c = Classification{};
    c.level = stop->denied() ? RiskLevel::kBlocked : engine_->config_.on_error;
    c.reasons = {stop->describe()};
    c.stop = std::move(stop);
  }
  c.notes = std::move(notes);
  return c;
}

TrustDecision PolicySession::trust(const Classification& decision) {
  TrustDecision t;
  auto read = [&t](const nlohmann::json& r) {
    if (!r.is_string())
      throw PolicyFailure(
          "in function 'trust': must return \"trusted\", \"standard\" or \"untrusted\"");
    try {
      t.trust = trust_level_from_string(r.get<std::string>());
    } catch (const std::invalid_argument& e) {
      throw PolicyFailure(std::string("in function 'trust': ") + e.what());
    }
  };
  t.stop = run("trust", {PolicyEngine::decision_json(decision), pinned(*request_, request_ref_)},
               t.notes, read);
  if (t.stop) t.trust = TrustLevel::kUntrusted;
  return t;
}

namespace {

// A limit's value as people write it: "2 GiB", "300000 ms", "512", "2".
template <typename T>
std::string show_limit(const LimitName& n, T value) {
  switch (n.unit) {
    case LimitUnit::kBytes: return format_size(static_cast<std::uint64_t>(value));
    case LimitUnit::kMilliseconds: return std::to_string(value) + " ms";
    default: return std::to_string(value);
  }
}

// Reads one limit from the policy's table: a number in the field's unit or a
// string with units. Throws PolicyFailure naming the field.
std::uint64_t read_amount(const nlohmann::json& r, const char* field, bool duration,
                          std::uint64_t fallback) {
  if (!r.contains(field)) return fallback;
  const auto& v = r[field];
  std::optional<std::uint64_t> value;
  if (v.is_number()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d >= 1 && d < 1e18) value = static_cast<std::uint64_t>(d);
  } else if (v.is_string()) {
    value = duration ? parse_duration_ms(v.get<std::string>()) : parse_size(v.get<std::string>());
    if (value && *value == 0) value.reset();
  }
  if (!value)
    throw PolicyFailure(
        std::string("in function 'limits': '") + field + "' must be a positive " +
        (duration ? "duration (milliseconds, or \"30s\")" : "size (bytes, or \"256MiB\")") +
        ", got " + v.dump());
  return *value;
}

std::uint64_t read_count(const nlohmann::json& r, const char* field, std::uint64_t fallback) {
  if (!r.contains(field)) return fallback;
  const auto& v = r[field];
  if (!v.is_number_integer() || v.get<std::int64_t>() < 1)
    throw PolicyFailure(std::string("in function 'limits': '") + field +
                        "' must be a positive integer, got " + v.dump());
  return static_cast<std::uint64_t>(v.get<std::int64_t>());
}

}  // namespace

LimitsDecision PolicySession::limits(TrustLevel trust, const nlohmann::json& system,
                                     const std::vector<std::string>& backends) {
  LimitsDecision d;
  d.stop = run("limits",
               {nlohmann::json(to_string(trust)), pinned(*assessment_, assessment_ref_), system,
                pinned(*request_, request_ref_)},
               d.notes, [&](const nlohmann::json& r) { read_limits(r, backends, d); });
  if (d.stop) {
    Notes notes = std::move(d.notes);
    std::optional<PolicyStop> stop = std::move(d.stop);
    d = LimitsDecision{};
    d.notes = std::move(notes);
    d.stop = std::move(stop);
  }
  return d;
}

void PolicySession::read_limits(const nlohmann::json& r, const std::vector<std::string>& backends,
                                LimitsDecision& d) {
  if (!r.is_object()) throw PolicyFailure("in function 'limits': must return a table of limits");
  for (const auto& [key, value] : r.items()) {
    bool known = key == "backend" || key == "network";
    for_each_limit(d.limits, [&](const LimitName& n, auto&) { known |= key == n.name; });
    if (!known)
      throw PolicyFailure("in function 'limits': unknown field '" + key + "' (backend, network, " +
                          limit_names() + ")");
  }
  if (!r.contains("backend") || !r["backend"].is_string())
    throw PolicyFailure("in function 'limits': 'backend' must name a loaded backend");
  d.backend = r["backend"].get<std::string>();
  if (std::find(backends.begin(), backends.end(), d.backend) == backends.end()) {
    std::string names;
    for (const auto& b : backends) names += (names.empty() ? "" : ", ") + b;
    throw PolicyFailure("in function 'limits': backend '" + d.backend +
                        "' is not loaded (loaded: " + (names.empty() ? "none" : names) + ")");
  }
  Limits& l = d.limits;  // what the policy leaves out keeps its built-in default
  for_each_limit(l, [&r](const LimitName& n, auto& field) {
    using Field = std::remove_reference_t<decltype(field)>;
    switch (n.unit) {
      case LimitUnit::kBytes:
      case LimitUnit::kMilliseconds:
        field = static_cast<Field>(read_amount(r, n.name, n.unit == LimitUnit::kMilliseconds,
                                               static_cast<std::uint64_t>(field)));
        break;
      case LimitUnit::kCount:
        field = static_cast<Field>(std::min<std::uint64_t>(
            read_count(r, n.name, static_cast<std::uint64_t>(field)), 1u << 30));
        break;
      case LimitUnit::kCpus:
        if (r.contains(n.name)) {
          const auto& v = r[n.name];
          if (!v.is_number() || !(v.get<double>() > 0) || !std::isfinite(v.get<double>()))
            throw PolicyFailure(std::string("in function 'limits': '") + n.name +
                                "' must be a positive number, got " + v.dump());
          field = static_cast<Field>(v.get<double>());
        }
        break;
    }
  });
  if (r.contains("network")) {
    // "egress" is the install phase's alone: a program never gets the proxy.
    if (!r["network"].is_string() || (r["network"] != "none" && r["network"] != "open"))
      throw PolicyFailure("in function 'limits': 'network' must be \"none\" or \"open\", got " +
                          r["network"].dump());
    d.network = network_mode_from_string(r["network"].get<std::string>());
  }
  // Clamped to the ceilings, each clamp reported.
  for_each_limit(l, engine_->ceilings_, [&d](const LimitName& n, auto& value, auto ceiling) {
    if (value <= ceiling) return;
    d.clamped.push_back(std::string(n.name) + ": " + show_limit(n, value) +
                        " clamped to the ceiling of " + show_limit(n, ceiling));
    value = ceiling;
  });
}

OverrideVerdict PolicySession::may_override(const Classification& decision) {
  OverrideVerdict v;
  auto read = [&v](const nlohmann::json& r) {
    if (r.is_boolean()) {
      v.allowed = r.get<bool>();
    } else if (r.is_object() && r.contains("allowed") && r["allowed"].is_boolean()) {
      v.allowed = r["allowed"].get<bool>();
      if (r.contains("reason") && r["reason"].is_string())
        v.reason = r["reason"].get<std::string>();
    } else {
      throw PolicyFailure(
          "in function 'may_override': must return true/false or {allowed=, reason=}");
    }
  };
  v.stop =
      run("may_override", {PolicyEngine::decision_json(decision), pinned(*request_, request_ref_)},
          v.notes, read);
  if (v.stop) {
    v.allowed = false;
    v.reason = v.stop->denied() ? v.stop->reason : v.stop->describe();
  } else if (!v.allowed && v.reason.empty()) {
    v.reason = "the policy does not allow overriding this decision";
  }
  return v;
}

bool PolicySession::has_state(const char* function, std::optional<PolicyStop>& stop) {
  try {
    sandbox();  // a fresh state, when the last call failed
    return true;
  } catch (const PolicyFailure& e) {
    engine_->report_failure(function, e.what());
    stop = PolicyStop{PolicyStop::Kind::kFailed, function, e.what()};
    return false;
  }
}

DependenciesDecision PolicySession::dependencies(const nlohmann::json& packages, TrustLevel trust,
                                                 const nlohmann::json& configured) {
  DependenciesDecision d;
  if (!has_state("dependencies", d.stop)) return d;
  if (!evaluator_->has_dependencies) {
    d.defined = false;
    return d;
  }
  auto fail = [](const std::string& why) {
    throw PolicyFailure("in function 'dependencies': " + why);
  };
  auto strings = [&fail](const nlohmann::json& list, const char* field) {
    std::vector<std::string> out;
    if (!list.is_array()) fail(std::string("'") + field + "' must be a list of strings");
    for (const auto& item : list) {
      if (!item.is_string()) fail(std::string("'") + field + "' must be a list of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  };
  auto read = [&](const nlohmann::json& r) {
    if (!r.is_object())
      fail("must return a table {indexes=, hosts=, packages=} or deny with warden.deny");
    for (const auto& [key, value] : r.items())
      if (key != "indexes" && key != "hosts" && key != "packages")
        fail("unknown field '" + key + "' (indexes, hosts, packages)");
    d.indexes = strings(r.value("indexes", nlohmann::json::array()), "indexes");
    if (d.indexes.empty()) fail("'indexes' must name at least one package index");
    for (const auto& index : d.indexes) {
      std::string why;
      if (!parse_http_url(index, why)) fail("index '" + index + "': " + why);
    }
    d.hosts = strings(r.value("hosts", nlohmann::json::array()), "hosts");
    const nlohmann::json& allowed = r.value("packages", nlohmann::json::object());
    bool empty_table = allowed.is_array() && allowed.empty();  // {} reads as an empty list
    if (!allowed.is_object() && !empty_table)
      fail("'packages' must be a table of name = version specifier (\"\" for any)");
    for (const auto& [name, specifier] : allowed.items()) {
      if (!specifier.is_string())
        fail("'packages." + name + "' must be a version specifier string (\"\" for any)");
      try {
        d.packages[deps::normalize_name(name)] =
            deps::parse_specifier(specifier.get<std::string>());
      } catch (const std::invalid_argument& e) {
        fail("'packages." + name + "': " + e.what());
      }
    }
  };
  const nlohmann::json trust_name = to_string(trust);
  d.stop = run("dependencies", {packages, trust_name, pinned(*request_, request_ref_), configured},
               d.notes, read);
  if (d.stop) d = DependenciesDecision{.stop = std::move(d.stop), .notes = std::move(d.notes)};
  return d;
}

AlertVerdict PolicySession::alert(const nlohmann::json& event,
                                  const std::vector<std::string>& sinks) {
  AlertVerdict v;
  if (!has_state("alert", v.stop)) return v;
  if (!evaluator_->has_alert) {
    v.defined = false;
    return v;
  }
  auto read = [&v, &sinks](const nlohmann::json& r) {
    if (r.is_null() || r == false) return;
    bool empty_table = r.is_array() && r.empty();  // {} reads as an empty list
    if (!r.is_object() && !empty_table)
      throw PolicyFailure(
          "in function 'alert': must return false, nil or a table {severity=, message=, sinks=}");
    for (const auto& [key, value] : r.items())
      if (key != "severity" && key != "message" && key != "sinks")
        throw PolicyFailure("in function 'alert': unknown field '" + key +
                            "' (severity, message, sinks)");
    v.severity = "warning";
    if (r.contains("severity")) {
      const auto& given = r["severity"];
      auto known = std::find_if(kAlertSeverities.begin(), kAlertSeverities.end(),
                                [&given](const char* s) { return given == s; });
      if (known == kAlertSeverities.end())
        throw PolicyFailure(
            "in function 'alert': 'severity' must be one of emergency, alert, critical, error, "
            "warning, notice, info, debug, got " +
            given.dump());
      v.severity = *known;
    }
    if (r.contains("message")) {
      if (!r["message"].is_string())
        throw PolicyFailure("in function 'alert': 'message' must be a string");
      v.message = r["message"].get<std::string>();
    }
    if (r.contains("sinks")) {
      if (!r["sinks"].is_array())
        throw PolicyFailure("in function 'alert': 'sinks' must be a list of sink names");
      v.sinks.emplace();
      for (const auto& sink : r["sinks"]) {
        if (!sink.is_string() || std::find(sinks.begin(), sinks.end(), sink) == sinks.end()) {
          std::string names;
          for (const auto& name : sinks) names += (names.empty() ? "" : ", ") + name;
          throw PolicyFailure("in function 'alert': 'sinks' names " + sink.dump() +
                              ", which is not a sink (" + names + ")");
        }
        v.sinks->push_back(sink.get<std::string>());
      }
    }
    v.raise = true;
  };
  v.stop = run("alert", {event}, v.notes, read);
  if (v.stop && v.stop->denied()) {
    // alert() has nothing to refuse: a denial is a failure like any other.
    std::string why =
        "in function 'alert': warden.deny has no meaning here (" + v.stop->reason + ")";
    engine_->report_failure("alert", why);
    v.stop = PolicyStop{PolicyStop::Kind::kFailed, "alert", why};
  }
  if (v.stop)
    v = AlertVerdict{.raise = false, .stop = std::move(v.stop), .notes = std::move(v.notes)};
  return v;
}

}  // namespace warden::policy
