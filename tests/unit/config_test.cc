#include <pwd.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>

#include <warden/error.h>
#include "config/config.h"
#include "support/process.h"

using namespace warden;

namespace {

std::string config_error(const std::string& text) {
  try {
    parse_config(text, "/etc/w.yaml", "/etc");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kConfig);
    return e.what();
  }
  FAIL("expected a configuration error for:\n" << text);
  return "";
}

}  // namespace

TEST_CASE("the shipped configuration shows every built-in default, field by field") {
  Config shipped_config = load_config(std::string(WARDEN_SOURCE_DIR) + "/config/warden.yaml");
  Config defaults_config = parse_config("log_level: info\n", "x.yaml", "/");
  nlohmann::json shipped = to_json(shipped_config), defaults = to_json(defaults_config);
  // Where they differ by design: the shipped file names the policies beside
  // it (relative to itself), and shows the backends' own settings as examples.
  CHECK(shipped_config.policies.directory ==
        std::filesystem::path(WARDEN_SOURCE_DIR) / "policies/default");
  CHECK(defaults_config.policies.directory == default_policy_directory());
  for (auto* j : {&shipped, &defaults}) {
    (*j)["policies"].erase("directory");
    (*j)["backends"].erase("settings");
  }
  CHECK(shipped["backends"]["enabled"] == nlohmann::json{"native"});
  for (const auto& [section, value] : defaults.items()) {
    INFO("section " << section << ":\n  shipped  " << shipped[section].dump() << "\n  built in "
                    << value.dump());
    CHECK(shipped[section] == value);
  }
  CHECK(shipped.size() == defaults.size());
}

TEST_CASE("the system service's configuration names every path absolutely") {
  Config service = load_config(std::string(WARDEN_SOURCE_DIR) + "/config/service.yaml");
  CHECK(service.service.socket == "/run/warden/warden.sock");
  CHECK(service.audit.directory == "/var/lib/warden/audit");
  CHECK(service.assessors.cache_directory == "/var/cache/warden/assessments");
  CHECK(service.policies.directory ==
        std::filesystem::path(WARDEN_SOURCE_DIR) / "policies/default");
}

TEST_CASE("service settings are read strictly") {
  CHECK_THAT(config_error("service:\n  socket_mode: \"0999\"\n"),
             Catch::Contains("service.socket_mode: '0999' is not an octal permission"));
  CHECK_THAT(config_error("service:\n  cli: sometimes\n"), Catch::Contains("service.cli"));
  CHECK_THAT(config_error("service:\n  mcp: sometimes\n"), Catch::Contains("service.mcp"));
  CHECK_FALSE(parse_config("service:\n  mcp: never\n", "x.yaml", "/").service.mcp);
  CHECK(parse_config("service:\n  socket_mode: \"0660\"\n", "x.yaml", "/").service.socket_mode ==
        0660);
}

TEST_CASE("an unknown key names file, line, column and the field") {
  std::string msg = config_error("assessors:\n  enabled: [heuristics]\n  dedline: 5s\n");
  CHECK(msg == "/etc/w.yaml:3:3: assessors.dedline: unknown key");
}

TEST_CASE("a wrong type names file, line, column and the field") {
  CHECK(config_error("assessors:\n  deadline: [1, 2]\n") ==
        "/etc/w.yaml:2:13: assessors.deadline: expected a single value, got a list or mapping");
  CHECK(config_error("ceilings:\n  memory: lots\n") ==
        "/etc/w.yaml:2:11: ceilings.memory: expected a size such as 256MiB or 4096, got 'lots'");
  CHECK(config_error("policies:\n  hot_reload: maybe\n") ==
        "/etc/w.yaml:2:15: policies.hot_reload: expected true or false, got 'maybe'");
  CHECK(config_error("backends: [native]\n") == "/etc/w.yaml:1:11: backends: expected a mapping");
}

TEST_CASE("a bad value names the allowed ones") {
  CHECK(config_error("policies:\n  on_error: PANIC\n") ==
        "/etc/w.yaml:2:13: policies.on_error: must be one of LOW, MEDIUM, HIGH, BLOCKED, got "
        "'PANIC'");
  CHECK(config_error("ceilings:\n  pids: 0\n") ==
        "/etc/w.yaml:2:9: ceilings.pids: must be between 1 and 1000000, got 0");
}

TEST_CASE("a YAML syntax error names file, line and column") {
  std::string msg = config_error("assessors:\n  enabled: [heuristics\n");
  CHECK_THAT(msg, Catch::StartsWith("/etc/w.yaml:"));
  CHECK_THAT(msg, Catch::Contains("YAML syntax error"));
  CHECK(config_error("") == "/etc/w.yaml:1:1: the configuration is empty");
}

TEST_CASE("relative paths are relative to the configuration file") {
  Config c = parse_config("plugins:\n  directories: [plugins, /abs]\naudit:\n  directory: a/../b\n",
                          "/srv/w/warden.yaml", "/srv/w");
  REQUIRE(c.plugin_directories.size() == 2);
  CHECK(c.plugin_directories[0] == "/srv/w/plugins");
  CHECK(c.plugin_directories[1] == "/abs");
  CHECK(c.audit.directory == "/srv/w/b");
}

TEST_CASE("plugin settings keep their positions for messages") {
  Config c =
      parse_config("assessors:\n  settings:\n    bandit:\n      timeout: 5\n      rules: [a, b]\n",
                   "w.yaml", "/");
  const JsonWithMarks& s = c.assessors.settings.at("bandit");
  CHECK(s.value["timeout"] == 5);
  CHECK(s.value["rules"][1] == "b");
  CHECK(s.locate("/timeout: must be positive", "assessors.settings.bandit") ==
        "w.yaml:4:16: assessors.settings.bandit.timeout: must be positive");
  CHECK(config_error("assessors:\n  settings:\n    bandit: 5\n") ==
        "/etc/w.yaml:3:13: assessors.settings.bandit: expected a mapping of the plugin's settings");
}

TEST_CASE("an unset variable in a path is an error naming it") {
  unsetenv("WARDEN_SURELY_UNSET");
  CHECK(config_error("audit:\n  directory: ${WARDEN_SURELY_UNSET}/x\n") ==
        "/etc/w.yaml:2:14: audit.directory: environment variable 'WARDEN_SURELY_UNSET' is not set");
}

TEST_CASE("a variable with a fallback uses it when unset or empty") {
  unsetenv("WARDEN_SURELY_UNSET");
  Config unset = parse_config("audit:\n  directory: ${WARDEN_SURELY_UNSET:-/srv/state}/audit\n",
                              "/etc/w.yaml", "/etc");
  CHECK(unset.audit.directory == "/srv/state/audit");
  setenv("WARDEN_TEST_STATE", "", 1);
  Config empty =
      parse_config("audit:\n  directory: ${WARDEN_TEST_STATE:-rel}/audit\n", "/etc/w.yaml", "/etc");
  CHECK(empty.audit.directory == "/etc/rel/audit");
  setenv("WARDEN_TEST_STATE", "/var/lib/x", 1);
  Config set = parse_config("audit:\n  directory: ${WARDEN_TEST_STATE:-/srv/state}/audit\n",
                            "/etc/w.yaml", "/etc");
  CHECK(set.audit.directory == "/var/lib/x/audit");
  unsetenv("WARDEN_TEST_STATE");
}

TEST_CASE("without HOME, ~ is the home folder of the user's passwd entry") {
  std::optional<std::string> home;
  if (const char* h = std::getenv("HOME")) home = h;
  unsetenv("HOME");
  Config c = parse_config("audit:\n  directory: ~/state/audit\n", "/etc/w.yaml", "/etc");
  if (home) setenv("HOME", home->c_str(), 1);
  const passwd* entry = getpwuid(getuid());
  REQUIRE(entry != nullptr);
  CHECK(c.audit.directory == std::filesystem::path(entry->pw_dir) / "state/audit");
}

TEST_CASE("audit retention limits are read, and off unless set") {
  Config off = parse_config("audit:\n  origin: x\n", "/etc/w.yaml", "/etc");
  CHECK(off.audit.retention_max_age_ms == 0);
  CHECK(off.audit.retention_max_bytes == 0);
  Config c = parse_config("audit:\n  retention:\n    max_age: 720h\n    max_bytes: 2GiB\n",
                          "/etc/w.yaml", "/etc");
  CHECK(c.audit.retention_max_age_ms == 720ull * 3600 * 1000);
  CHECK(c.audit.retention_max_bytes == 2ull << 30);
  CHECK_THAT(config_error("audit:\n  retention:\n    max_bytes: lots\n"),
             Catch::StartsWith("/etc/w.yaml:3:16: audit.retention.max_bytes:"));
}

TEST_CASE("alert sinks are off unless configured, and a webhook URL is read strictly") {
  Config off = parse_config("log_level: info\n", "/etc/w.yaml", "/etc");
  CHECK_FALSE(off.alerts.syslog.enabled);
  CHECK(off.alerts.webhook.url.empty());
  Config c = parse_config(
      "alerts:\n  syslog: {enabled: true, socket: run/log, facility: local3}\n"
      "  webhook: {url: 'http://127.0.0.1:8088/hooks/warden?x=1', retries: 0, backoff: 50ms}\n",
      "/etc/w.yaml", "/etc");
  CHECK(c.alerts.syslog.socket == "/etc/run/log");
  CHECK(c.alerts.syslog.facility == "local3");
  CHECK(c.alerts.webhook.target.host == "127.0.0.1");
  CHECK(c.alerts.webhook.target.port == "8088");
  CHECK(c.alerts.webhook.target.target == "/hooks/warden?x=1");
  CHECK(c.alerts.webhook.retries == 0);
  CHECK(c.alerts.webhook.backoff_ms == 50);
  Config plain = parse_config("alerts: {webhook: {url: 'http://alerts.example'}}\n", "w.yaml", "/");
  CHECK(plain.alerts.webhook.target.port == "80");
  CHECK(plain.alerts.webhook.target.target == "/");
  Config tls = parse_config("alerts: {webhook: {url: 'https://x.example/a', ca_file: ca.pem}}\n",
                            "/etc/w.yaml", "/etc");
  CHECK(tls.alerts.webhook.target.tls);
  CHECK(tls.alerts.webhook.target.port == "443");
  CHECK(tls.alerts.webhook.ca_file == "/etc/ca.pem");
  CHECK(config_error("alerts:\n  webhook:\n    url: ftp://x.example/\n") ==
        "/etc/w.yaml:3:10: alerts.webhook.url: must be an http:// or https:// URL, got "
        "'ftp://x.example/'");
  CHECK_THAT(config_error("alerts:\n  webhook: {url: 'http://x:99999/'}\n"),
             Catch::Contains("alerts.webhook.url: the port of 'http://x:99999/' must be"));
  CHECK_THAT(config_error("alerts:\n  syslog: {facility: security}\n"),
             Catch::Contains("alerts.syslog.facility: must be one of kern"));
  CHECK_THAT(config_error("alerts:\n  syslog: {ident: 'a b'}\n"),
             Catch::Contains("alerts.syslog.ident: must be 1 to 48 characters"));
}
