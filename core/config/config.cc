#include "config/config.h"

#include <fstream>
#include <limits>
#include <sstream>

#include <warden/error.h>
#include "common/paths.h"

namespace warden {
namespace fs = std::filesystem;
namespace {

constexpr std::int64_t kMaxInt = std::numeric_limits<std::int32_t>::max();

void read_plugin_settings(YamlMap& section, const std::string& file,
                          std::map<std::string, JsonWithMarks>& out) {
  YamlMap settings = section.get_map("settings");
  if (!settings.node().IsMap()) return;
  for (auto it = settings.node().begin(); it != settings.node().end(); ++it) {
    const std::string& name = it->first.Scalar();
    if (!it->second.IsNull() && !it->second.IsMap())
      settings.fail(it->second, name, "expected a mapping of the plugin's settings");
    out[name] = yaml_to_json(it->second, file);
    settings.get_map(name);  // marks the key as known
  }
  settings.finish();
}

Limits read_limits(YamlMap map, const Limits& defaults) {
  Limits l;
  l.memory_bytes = map.get_size("memory", defaults.memory_bytes);
  l.cpus = map.get_double("cpus", defaults.cpus, 0.01, 1024);
  l.wall_time_ms = map.get_duration_ms("wall_time", defaults.wall_time_ms);
  l.cpu_time_ms = map.get_duration_ms("cpu_time", defaults.cpu_time_ms);
  l.pids = static_cast<std::uint32_t>(map.get_int("pids", defaults.pids, 1, 1'000'000));
  l.file_size_bytes = map.get_size("file_size", defaults.file_size_bytes);
  l.open_files =
      static_cast<std::uint32_t>(map.get_int("open_files", defaults.open_files, 8, 1'048'576));
  l.tmpfs_bytes = map.get_size("tmpfs", defaults.tmpfs_bytes);
  l.output_bytes = map.get_size("output", defaults.output_bytes);
  map.finish();
  return l;
}

}  // namespace

Config parse_config(const std::string& text, const std::string& file_name, const fs::path& base) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw Error(ErrorKind::kConfig, file_name + ":" + std::to_string(e.mark.line + 1) + ":" +
                                        std::to_string(e.mark.column + 1) +
                                        ": YAML syntax error: " + e.msg);
  }
  Config config;
  config.file = file_name;
  YamlMap top(root, file_name, "");
  if (!root.IsDefined() || root.IsNull())
    throw Error(ErrorKind::kConfig, file_name + ":1:1: the configuration is empty");

  config.log_level = top.get_choice("log_level", config.log_level,
                                    {"trace", "debug", "info", "warn", "error", "off"});

  {
    YamlMap plugins = top.get_map("plugins");
    config.plugin_directories = plugins.get_path_list("directories", base);
    config.plugins_in_process = plugins.get_string_list("in_process", config.plugins_in_process);
    plugins.finish();
  }
  {
    YamlMap a = top.get_map("assessors");
    config.assessors.enabled = a.get_string_list("enabled", config.assessors.enabled);
    config.assessors.deadline_ms = a.get_duration_ms("deadline", config.assessors.deadline_ms);
    YamlMap cache = a.get_map("cache");
    config.assessors.cache_enabled = cache.get_bool("enabled", config.assessors.cache_enabled);
    config.assessors.cache_max_entries = static_cast<std::uint64_t>(cache.get_int(
        "max_entries", static_cast<std::int64_t>(config.assessors.cache_max_entries), 0, kMaxInt));
    config.assessors.cache_directory =
        cache.get_path("directory", "${XDG_CACHE_HOME:-~/.cache}/warden/assessments", base);
    config.assessors.cache_max_bytes =
        cache.get_size("max_bytes", config.assessors.cache_max_bytes);
    cache.finish();
    read_plugin_settings(a, file_name, config.assessors.settings);
    a.finish();
  }
  {
    YamlMap b = top.get_map("backends");
    config.backends.enabled = b.get_string_list("enabled", config.backends.enabled);
    config.backends.default_backend = b.get_string("default", config.backends.default_backend);
    read_plugin_settings(b, file_name, config.backends.settings);
    b.finish();
  }
  {
    YamlMap p = top.get_map("policies");
    config.policies.directory =
        p.get_path("directory", (data_directory() / "policies" / "default").string(), base);
    config.policies.on_error = risk_level_from_string(
        p.get_choice("on_error", "BLOCKED", {"LOW", "MEDIUM", "HIGH", "BLOCKED"}));
    YamlMap budget = p.get_map("budget");
    config.policies.instruction_budget = static_cast<std::uint64_t>(budget.get_int(
        "instructions", static_cast<std::int64_t>(config.policies.instruction_budget), 1000,
        std::numeric_limits<std::int64_t>::max()));
    config.policies.memory_bytes = budget.get_size("memory", config.policies.memory_bytes);
    config.policies.wall_time_ms =
        budget.get_duration_ms("wall_time", config.policies.wall_time_ms);
    budget.finish();
    config.policies.hot_reload = p.get_bool("hot_reload", config.policies.hot_reload);
    p.finish();
  }
  {
    YamlMap a = top.get_map("audit");
    AuditConfig& audit = config.audit;
    audit.directory =
        a.get_path("directory", "${XDG_STATE_HOME:-~/.local/state}/warden/audit", base);
    audit.signing_key =
        a.get_path("signing_key", "${XDG_STATE_HOME:-~/.local/state}/warden/keys/audit.key", base);
    audit.public_key = a.get_string("public_key", "").empty()
                           ? fs::path(audit.signing_key.string() + ".pub")
                           : a.get_path("public_key", "", base);
    audit.create_key_if_missing = a.get_bool("create_key_if_missing", audit.create_key_if_missing);
    audit.origin = a.get_string("origin", audit.origin);
    audit.durability = a.get_choice("durability", audit.durability, {"group", "every-record"});
    audit.group_commit_delay_ms =
        a.get_duration_ms("group_commit_delay", audit.group_commit_delay_ms);
    audit.segment_bytes = a.get_size("segment_size", audit.segment_bytes);
    audit.checkpoint_interval_ms =
        a.get_duration_ms("checkpoint_interval", audit.checkpoint_interval_ms);
    audit.include_code = a.get_bool("include_code", audit.include_code);
    audit.redact_patterns = a.get_string_list("redact", audit.redact_patterns);
    YamlMap retention = a.get_map("retention");
    audit.retention_max_age_ms = retention.get_duration_ms("max_age", audit.retention_max_age_ms);
    audit.retention_max_bytes = retention.get_size("max_bytes", audit.retention_max_bytes);
    retention.finish();
    a.finish();
  }
  config.ceilings = read_limits(top.get_map("ceilings"), Limits{.memory_bytes = 2ull << 30,
                                                                .cpus = 2.0,
                                                                .wall_time_ms = 300'000,
                                                                .cpu_time_ms = 300'000,
                                                                .pids = 512,
                                                                .file_size_bytes = 256ull << 20,
                                                                .open_files = 1024,
                                                                .tmpfs_bytes = 512ull << 20,
                                                                .output_bytes = 16ull << 20});
  {
    YamlMap r = top.get_map("requests");
    config.requests.max_code_bytes = r.get_size("max_code_size", config.requests.max_code_bytes);
    config.requests.max_explanation_chars = static_cast<std::uint64_t>(
        r.get_int("max_explanation_chars",
                  static_cast<std::int64_t>(config.requests.max_explanation_chars), 1, 100'000));
    config.requests.env_allowlist =
        r.get_string_list("env_allowlist", config.requests.env_allowlist);
    r.finish();
  }
  top.finish();
  return config;
}

Config load_config(const fs::path& file) {
  std::ifstream in(file);
  if (!in)
    throw Error(ErrorKind::kConfig, file.string() + ": cannot read the configuration file (" +
                                        (fs::exists(file) ? "permission denied" : "no such file") +
                                        "); pass --config or set WARDEN_CONFIG");
  std::stringstream text;
  text << in.rdbuf();
  fs::path absolute = fs::absolute(file);
  return parse_config(text.str(), absolute.string(), absolute.parent_path());
}

}  // namespace warden
