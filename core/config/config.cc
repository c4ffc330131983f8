#include "config/config.h"

#include <cstdlib>
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
  Limits l = defaults;
  for_each_limit(l, [&map](const LimitName& n, auto& field) {
    using Field = std::remove_reference_t<decltype(field)>;
    switch (n.unit) {
      case LimitUnit::kBytes: field = static_cast<Field>(map.get_size(n.name, field)); break;
      case LimitUnit::kMilliseconds:
        field = static_cast<Field>(map.get_duration_ms(n.name, field));
        break;
      case LimitUnit::kCount:
        field = static_cast<Field>(map.get_int(n.name, static_cast<std::int64_t>(field),
                                               static_cast<std::int64_t>(n.min),
                                               static_cast<std::int64_t>(n.max)));
        break;
      case LimitUnit::kCpus:
        field =
            static_cast<Field>(map.get_double(n.name, static_cast<double>(field), n.min, n.max));
        break;
    }
  });
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
        cache.get_path("directory", AssessorsConfig::kDefaultCacheDirectory, base);
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
    config.policies.directory = p.get_path("directory", default_policy_directory().string(), base);
    config.policies.on_error = risk_level_from_string(p.get_choice(
        "on_error", to_string(config.policies.on_error), {"LOW", "MEDIUM", "HIGH", "BLOCKED"}));
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
    audit.directory = a.get_path("directory", AuditConfig::kDefaultDirectory, base);
    audit.signing_key = a.get_path("signing_key", AuditConfig::kDefaultSigningKey, base);
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
  config.ceilings = read_limits(top.get_map("ceilings"), config.ceilings);
  {
    YamlMap r = top.get_map("requests");
    config.requests.max_code_bytes = r.get_size("max_code_size", config.requests.max_code_bytes);
    config.requests.max_input_bytes = r.get_size("max_input_size", config.requests.max_input_bytes);
    config.requests.max_explanation_chars = static_cast<std::uint64_t>(
        r.get_int("max_explanation_chars",
                  static_cast<std::int64_t>(config.requests.max_explanation_chars), 1, 100'000));
    config.requests.env_allowlist =
        r.get_string_list("env_allowlist", config.requests.env_allowlist);
    r.finish();
  }
  {
    YamlMap d = top.get_map("dependencies");
    DependenciesConfig& deps = config.dependencies;
    deps.indexes = d.get_string_list("indexes", deps.indexes);
    for (const auto& index : deps.indexes) {
      std::string why;
      if (!parse_http_url(index, why)) d.fail(d.node()["indexes"], "indexes", why);
    }
    deps.hosts = d.get_string_list("hosts", deps.hosts);
    deps.packages = d.get_string_map("packages", deps.packages);
    deps.max_requirements = static_cast<std::uint64_t>(
        d.get_int("max_requirements", static_cast<std::int64_t>(deps.max_requirements), 1, 1000));
    deps.cache = d.get_path("cache", DependenciesConfig::kDefaultCache, base);
    deps.pip = d.get_string("pip", "").empty() ? fs::path() : d.get_path("pip", "", base);
    deps.ca_file =
        d.get_string("ca_file", "").empty() ? fs::path() : d.get_path("ca_file", "", base);
    deps.install_limits = read_limits(d.get_map("install_limits"), deps.install_limits);
    YamlMap e = d.get_map("egress");
    deps.resolve = e.get_string_map("resolve", deps.resolve);
    deps.allow_networks = e.get_string_list("allow_networks", deps.allow_networks);
    e.finish();
    d.finish();
  }
  {
    YamlMap a = top.get_map("alerts");
    AlertsConfig& alerts = config.alerts;
    alerts.max_queued = static_cast<std::uint64_t>(
        a.get_int("max_queued", static_cast<std::int64_t>(alerts.max_queued), 1, 1'000'000));
    alerts.flush_timeout_ms = a.get_duration_ms("flush_timeout", alerts.flush_timeout_ms);
    YamlMap s = a.get_map("syslog");
    alerts.syslog.enabled = s.get_bool("enabled", alerts.syslog.enabled);
    alerts.syslog.socket = s.get_path("socket", alerts.syslog.socket.string(), base);
    alerts.syslog.facility =
        s.get_choice("facility", alerts.syslog.facility,
                     {"kern",   "user",   "mail",   "daemon",   "auth",   "syslog", "lpr",
                      "news",   "uucp",   "cron",   "authpriv", "ftp",    "local0", "local1",
                      "local2", "local3", "local4", "local5",   "local6", "local7"});
    alerts.syslog.ident = s.get_string("ident", alerts.syslog.ident);
    if (alerts.syslog.ident.empty() || alerts.syslog.ident.size() > 48 ||
        alerts.syslog.ident.find_first_of(" :[]\n") != std::string::npos)
      s.fail(s.node()["ident"], "ident",
             "must be 1 to 48 characters without spaces, ':' or brackets");
    s.finish();
    YamlMap w = a.get_map("webhook");
    alerts.webhook.url = w.get_string("url", alerts.webhook.url);
    if (!alerts.webhook.url.empty()) {
      std::string why;
      std::optional<HttpUrl> target = parse_http_url(alerts.webhook.url, why);
      if (!target) w.fail(w.node()["url"], "url", why);
      alerts.webhook.target = *target;
    }
    alerts.webhook.timeout_ms = w.get_duration_ms("timeout", alerts.webhook.timeout_ms);
    alerts.webhook.retries = static_cast<std::uint64_t>(
        w.get_int("retries", static_cast<std::int64_t>(alerts.webhook.retries), 0, 100));
    alerts.webhook.backoff_ms = w.get_duration_ms("backoff", alerts.webhook.backoff_ms);
    alerts.webhook.ca_file =
        w.get_string("ca_file", "").empty() ? fs::path() : w.get_path("ca_file", "", base);
    w.finish();
    a.finish();
  }
  {
    YamlMap s = top.get_map("service");
    ServiceConfig& service = config.service;
    service.socket = s.get_path("socket", ServiceConfig::kDefaultSocket, base);
    std::string mode = s.get_string("socket_mode", "0600");
    char* end = nullptr;
    unsigned long bits = std::strtoul(mode.c_str(), &end, 8);
    if (mode.empty() || *end != '\0' || bits > 0777)
      s.fail(s.node()["socket_mode"], "socket_mode",
             "'" + mode + "' is not an octal permission such as 0600 or 0660");
    service.socket_mode = static_cast<std::uint32_t>(bits);
    service.socket_group = s.get_string("socket_group", service.socket_group);
    service.delegates = s.get_string_list("delegates", service.delegates);
    service.max_clients = static_cast<std::uint64_t>(
        s.get_int("max_clients", static_cast<std::int64_t>(service.max_clients), 1, 4096));
    service.idle_timeout_ms = s.get_duration_ms("idle_timeout", service.idle_timeout_ms);
    service.cli_uses_service = s.get_choice("cli", service.cli_uses_service ? "auto" : "never",
                                            {"auto", "never"}) == "auto";
    service.mcp = s.get_choice("mcp", service.mcp ? "auto" : "never", {"auto", "never"}) == "auto";
    s.finish();
  }
  top.finish();
  return config;
}

std::optional<HttpUrl> parse_http_url(const std::string& url, std::string& why) {
  HttpUrl out;
  out.tls = url.rfind("https://", 0) == 0;
  if (!out.tls && url.rfind("http://", 0) != 0) {
    why = "must be an http:// or https:// URL, got '" + url + "'";
    return std::nullopt;
  }
  if (out.tls) out.port = "443";
  std::string rest = url.substr(url.find("//") + 2);
  std::size_t slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos)
    out.target = rest[slash] == '/' ? rest.substr(slash) : "/" + rest.substr(slash);
  std::size_t colon = authority.rfind(':');
  bool bracketed = !authority.empty() && authority.front() == '[';
  if (colon != std::string::npos && (!bracketed || authority[colon - 1] == ']')) {
    out.port = authority.substr(colon + 1);
    authority.resize(colon);
    bool digits = !out.port.empty() && out.port.size() <= 5 &&
                  out.port.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoul(out.port) == 0 || std::stoul(out.port) > 65535) {
      why = "the port of '" + url + "' must be a number from 1 to 65535";
      return std::nullopt;
    }
  }
  if (bracketed) {
    if (authority.size() < 3 || authority.back() != ']') {
      why = "'" + url + "' has a malformed IPv6 address";
      return std::nullopt;
    }
    authority = authority.substr(1, authority.size() - 2);
  }
  if (authority.empty() || authority.find_first_of("@ ") != std::string::npos) {
    why = "'" + url + "' must name a host (and no user)";
    return std::nullopt;
  }
  out.host = authority;
  return out;
}

fs::path default_policy_directory() {
  return data_directory() / "policies" / "default";
}

nlohmann::json to_json(const Config& c) {
  auto strings = [](const auto& paths) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : paths) out.push_back(fs::path(p).string());
    return out;
  };
  auto settings = [](const std::map<std::string, JsonWithMarks>& by_plugin) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [name, given] : by_plugin) out[name] = given.value;
    return out;
  };
  auto limits = [](const Limits& l) {
    nlohmann::json out = nlohmann::json::object();
    for_each_limit(l, [&out](const LimitName& n, auto value) { out[n.name] = value; });
    return out;
  };
  const AuditConfig& a = c.audit;
  return {{"log_level", c.log_level},
          {"plugins",
           {{"directories", strings(c.plugin_directories)}, {"in_process", c.plugins_in_process}}},
          {"assessors",
           {{"enabled", c.assessors.enabled},
            {"deadline_ms", c.assessors.deadline_ms},
            {"cache",
             {{"enabled", c.assessors.cache_enabled},
              {"max_entries", c.assessors.cache_max_entries},
              {"directory", c.assessors.cache_directory.string()},
              {"max_bytes", c.assessors.cache_max_bytes}}},
            {"settings", settings(c.assessors.settings)}}},
          {"backends",
           {{"enabled", c.backends.enabled},
            {"default", c.backends.default_backend},
            {"settings", settings(c.backends.settings)}}},
          {"policies",
           {{"directory", c.policies.directory.string()},
            {"on_error", to_string(c.policies.on_error)},
            {"budget",
             {{"instructions", c.policies.instruction_budget},
              {"memory", c.policies.memory_bytes},
              {"wall_time_ms", c.policies.wall_time_ms}}},
            {"hot_reload", c.policies.hot_reload}}},
          {"audit",
           {{"directory", a.directory.string()},
            {"signing_key", a.signing_key.string()},
            {"public_key", a.public_key.string()},
            {"create_key_if_missing", a.create_key_if_missing},
            {"origin", a.origin},
            {"durability", a.durability},
            {"group_commit_delay_ms", a.group_commit_delay_ms},
            {"segment_size", a.segment_bytes},
            {"checkpoint_interval_ms", a.checkpoint_interval_ms},
            {"include_code", a.include_code},
            {"redact", a.redact_patterns},
            {"retention",
             {{"max_age_ms", a.retention_max_age_ms}, {"max_bytes", a.retention_max_bytes}}}}},
          {"ceilings", limits(c.ceilings)},
          {"requests",
           {{"max_code_size", c.requests.max_code_bytes},
            {"max_input_size", c.requests.max_input_bytes},
            {"max_explanation_chars", c.requests.max_explanation_chars},
            {"env_allowlist", c.requests.env_allowlist}}},
          {"dependencies",
           {{"indexes", c.dependencies.indexes},
            {"hosts", c.dependencies.hosts},
            {"packages", c.dependencies.packages},
            {"max_requirements", c.dependencies.max_requirements},
            {"cache", c.dependencies.cache.string()},
            {"pip", c.dependencies.pip.string()},
            {"ca_file", c.dependencies.ca_file.string()},
            {"install_limits", limits(c.dependencies.install_limits)},
            {"egress",
             {{"resolve", c.dependencies.resolve},
              {"allow_networks", c.dependencies.allow_networks}}}}},
          {"alerts",
           {{"max_queued", c.alerts.max_queued},
            {"flush_timeout_ms", c.alerts.flush_timeout_ms},
            {"syslog",
             {{"enabled", c.alerts.syslog.enabled},
              {"socket", c.alerts.syslog.socket.string()},
              {"facility", c.alerts.syslog.facility},
              {"ident", c.alerts.syslog.ident}}},
            {"webhook",
             {{"url", c.alerts.webhook.url},
              {"timeout_ms", c.alerts.webhook.timeout_ms},
              {"retries", c.alerts.webhook.retries},
              {"backoff_ms", c.alerts.webhook.backoff_ms},
              {"ca_file", c.alerts.webhook.ca_file.string()}}}}},
          {"service",
           {{"socket", c.service.socket.string()},
            {"socket_mode", c.service.socket_mode},
            {"socket_group", c.service.socket_group},
            {"delegates", c.service.delegates},
            {"max_clients", c.service.max_clients},
            {"idle_timeout_ms", c.service.idle_timeout_ms},
            {"cli", c.service.cli_uses_service ? "auto" : "never"},
            {"mcp", c.service.mcp ? "auto" : "never"}}}};
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
