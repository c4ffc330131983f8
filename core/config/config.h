// warden.yaml, read strictly into one typed structure. Every default lives
// here beside its field; config/warden.yaml shows each key with that default
// and says what it does (tests/unit/config_test.cc holds the two equal).
#pragma once

#include <warden/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/yaml_reader.h"

namespace warden {

struct AssessorsConfig {
  std::vector<std::string> enabled = {"heuristics", "bandit", "semgrep"};
  std::uint64_t deadline_ms = 20'000;  // per assessor, per request
  bool cache_enabled = true;
  std::uint64_t cache_max_entries = 4096;  // in memory, per process; 0: none
  // The cache on disk, shared by processes (docs/assessment.md); off when
  // cache_max_bytes is 0 (or the directory is empty).
  static constexpr const char* kDefaultCacheDirectory =
      "${XDG_CACHE_HOME:-~/.cache}/warden/assessments";
  std::filesystem::path cache_directory;  // default: kDefaultCacheDirectory, expanded
  std::uint64_t cache_max_bytes = 16ull << 20;
  std::map<std::string, JsonWithMarks> settings;  // per plugin name
};

struct BackendsConfig {
  std::vector<std::string> enabled = {"native"};
  std::string default_backend = "native";
  std::map<std::string, JsonWithMarks> settings;
};

struct PolicyConfig {
  std::filesystem::path directory;           // default: default_policy_directory()
  RiskLevel on_error = RiskLevel::kBlocked;  // the level when a policy fails
  std::uint64_t instruction_budget = 1'000'000;
  std::uint64_t memory_bytes = 32ull << 20;
  std::uint64_t wall_time_ms = 100;
  bool hot_reload = true;
};

struct AuditConfig {
  static constexpr const char* kDefaultDirectory = "${XDG_STATE_HOME:-~/.local/state}/warden/audit";
  static constexpr const char* kDefaultSigningKey =
      "${XDG_STATE_HOME:-~/.local/state}/warden/keys/audit.key";
  std::filesystem::path directory;    // default: kDefaultDirectory, expanded
  std::filesystem::path signing_key;  // default: kDefaultSigningKey, expanded
  std::filesystem::path public_key;   // default: signing_key + ".pub"
  bool create_key_if_missing = true;
  std::string origin = "warden.local/audit";
  std::string durability = "group";  // "group" or "every-record"
  std::uint64_t group_commit_delay_ms = 0;
  std::uint64_t segment_bytes = 64ull << 20;
  std::uint64_t checkpoint_interval_ms = 1000;
  bool include_code = true;
  std::vector<std::string> redact_patterns;  // ECMAScript regexes
  // Automatic retention (0: off): whole old segments are deleted under a
  // signed retention anchor when the log passes these, checked at each new
  // segment.
  std::uint64_t retention_max_age_ms = 0;
  std::uint64_t retention_max_bytes = 0;
};

struct RequestsConfig {
  std::uint64_t max_code_bytes = 100 * 1024;
  std::uint64_t max_explanation_chars = 500;
  // Input files of one request, all together (their count is bounded by
  // kMaxInputFiles in pipeline/request_check.h).
  std::uint64_t max_input_bytes = 16ull << 20;
  std::vector<std::string> env_allowlist = {"LANG", "LC_ALL", "TZ"};
};

// Where a webhook alert goes: http[s]://host[:port]/path.
struct HttpUrl {
  bool tls = false;  // https
  std::string host;
  std::string port = "80";   // 443 for https
  std::string target = "/";  // path and query
};

// Parses an http:// or https:// URL; nullopt (and `why`) when it is not one
// warden can POST to.
std::optional<HttpUrl> parse_http_url(const std::string& url, std::string& why);

// Alerts on critical events (docs/alerts.md): the sinks, each off unless
// configured, and the bound on what waits for delivery.
struct SyslogAlertsConfig {
  bool enabled = false;
  std::filesystem::path socket = "/dev/log";  // a unix datagram socket (journald reads /dev/log)
  std::string facility = "auth";              // RFC 5424 name
  std::string ident = "warden";               // the tag before the message
};

struct WebhookAlertsConfig {
  std::string url;  // empty: off
  HttpUrl target;   // url, parsed
  // For https: the certificates (PEM) the receiver's must chain to; empty:
  // the system's trust store.
  std::filesystem::path ca_file;
  std::uint64_t timeout_ms = 5000;  // per attempt: connect, send, answer
  std::uint64_t retries = 3;        // attempts after the first
  std::uint64_t backoff_ms = 1000;  // before the first retry; doubles for each next one
};

struct AlertsConfig {
  // Alerts waiting to be decided, and waiting for each sink, at most; when a
  // queue is full its oldest is dropped (and counted).
  std::uint64_t max_queued = 256;
  // How long the host's destructor waits for the alerts still queued.
  std::uint64_t flush_timeout_ms = 2000;
  SyslogAlertsConfig syslog;
  WebhookAlertsConfig webhook;
};

// Programs that declare packages (PEP 723, ExecutionRequest::dependencies):
// what the shipped policy's dependencies() allows, the install phase and its
// egress proxy, and the cache of installed sets (docs/dependencies.md).
struct DependenciesConfig {
  // PEP 503 index URLs ("https://pypi.org/simple"); empty: nothing installs.
  std::vector<std::string> indexes;
  // More host names the indexes send pip to ("files.pythonhosted.org").
  std::vector<std::string> hosts;
  // Packages allowed, by name, with a version specifier ("" for any version).
  std::map<std::string, std::string> packages;
  std::uint64_t max_requirements = 64;  // declared by one request, at most
  static constexpr const char* kDefaultCache = "${XDG_CACHE_HOME:-~/.cache}/warden/dependencies";
  // Installed sets, one folder per set; default: kDefaultCache, expanded.
  std::filesystem::path cache;
  // The pip wheel the install phase runs; empty: the newest
  // /usr/share/python-wheels/pip-*.whl (Debian's python3-pip-whl).
  std::filesystem::path pip;
  // Certificates (PEM) pip trusts in the install phase; empty: pip's own.
  std::filesystem::path ca_file;
  // The install phase's limits (not clamped to `ceilings`: it runs pip, not
  // the program).
  Limits install_limits{.memory_bytes = 1ull << 30,
                        .cpus = 1.0,
                        .wall_time_ms = 300'000,
                        .cpu_time_ms = 300'000,
                        .pids = 128,
                        .file_size_bytes = 256ull << 20,
                        .open_files = 1024,
                        .tmpfs_bytes = 1ull << 30,
                        .output_bytes = 1ull << 20,
                        .output_files = 4096,
                        .output_files_bytes = 256ull << 20};
  // The egress proxy: addresses to use for host names instead of the
  // system's resolver, and private networks (CIDR) it may reach.
  std::map<std::string, std::string> resolve;
  std::vector<std::string> allow_networks;
};

// `warden serve` and the CLI's use of it (docs/service.md).
struct ServiceConfig {
  static constexpr const char* kDefaultSocket =
      "${XDG_RUNTIME_DIR:-~/.local/state}/warden/warden.sock";
  std::filesystem::path socket;      // default: kDefaultSocket, expanded
  std::uint32_t socket_mode = 0600;  // permissions of the socket file
  std::string socket_group;          // its group (empty: the service's own)
  // Users (by name) trusted to speak for others: only their requests may name
  // another user (`warden run --as`). Everyone else is who the socket's peer
  // credentials say.
  std::vector<std::string> delegates;
  std::uint64_t max_clients = 64;          // connections served at once; more wait
  std::uint64_t idle_timeout_ms = 60'000;  // an idle connection is closed after this
  bool cli_uses_service = true;            // the CLI sends requests to a running service
  // `auto`: `warden serve` runs the Python MCP server as its child and relays
  // /mcp to it (MCP's Streamable HTTP on the service's socket); `never`: no
  // /mcp (404).
  bool mcp = true;
};

struct Config {
  std::filesystem::path file;  // absolute path of the file read, empty for defaults
  std::string log_level = "info";
  std::vector<std::filesystem::path> plugin_directories;  // default: the installed folder
  // Plugins loaded into warden's own process (each from <name>.so); every
  // other assessor plugin runs in warden-plugin-host. Default: the shipped ones.
  std::vector<std::string> plugins_in_process = {"heuristics", "bandit", "semgrep",
                                                 "native",     "docker", "podman"};
  AssessorsConfig assessors;
  BackendsConfig backends;
  PolicyConfig policies;
  AuditConfig audit;
  // Hard caps on whatever a policy or a request asks for.
  Limits ceilings{.memory_bytes = 2ull << 30,
                  .cpus = 2.0,
                  .wall_time_ms = 300'000,
                  .cpu_time_ms = 300'000,
                  .pids = 512,
                  .file_size_bytes = 256ull << 20,
                  .open_files = 1024,
                  .tmpfs_bytes = 512ull << 20,
                  .output_bytes = 16ull << 20,
                  .output_files = 256,
                  .output_files_bytes = 64ull << 20};
  RequestsConfig requests;
  DependenciesConfig dependencies;
  AlertsConfig alerts;
  ServiceConfig service;
};

// The policies installed with warden: <data>/policies/default.
std::filesystem::path default_policy_directory();

// Every field of `config`, by its warden.yaml name (plugin settings as given).
nlohmann::json to_json(const Config& config);

// Reads and validates a configuration file. Throws warden::Error(kConfig)
// with "file:line:column: field: what is wrong" for any problem, including
// unknown keys. Relative paths in the file are relative to its folder.
Config load_config(const std::filesystem::path& file);

// Parses configuration text; `file_name` is used in messages and `base` for
// relative paths.
Config parse_config(const std::string& text, const std::string& file_name,
                    const std::filesystem::path& base);

}  // namespace warden
