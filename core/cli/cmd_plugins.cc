// warden plugins list [--json] and warden status [--json]
#include <warden/plugin_abi.h>

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "plugin/plugin_set.h"

namespace warden::cli {

void add_plugin_commands(CLI::App& app, Context& context) {
  auto* plugins = app.add_subcommand("plugins", "Inspect plugins");
  plugins->require_subcommand(1);
  auto* list =
      plugins->add_subcommand("list", "List every plugin file found and whether it loaded");
  static bool json = false;
  list->add_flag("--json", json, "Print JSON");
  set_handler(list, [&context] {
    PluginSet set(context.config());
    const auto& records = set.catalog().records();
    if (json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : records)
        out.push_back({{"name", r.name},
                       {"kind", r.kind},
                       {"version", r.version},
                       {"abi", r.abi},
                       {"file", r.origin},
                       {"description", r.description},
                       {"status", r.loaded ? "loaded" : "refused"},
                       {"error", r.error}});
      print_json(out);
    } else {
      std::cout << std::left << std::setw(14) << "NAME" << std::setw(10) << "KIND" << std::setw(10)
                << "VERSION" << std::setw(6) << "ABI" << std::setw(9) << "STATUS"
                << "FILE\n";
      for (const auto& r : records) {
        std::cout << std::setw(14) << (r.name.empty() ? "-" : r.name) << std::setw(10) << r.kind
                  << std::setw(10) << (r.version.empty() ? "-" : r.version) << std::setw(6)
                  << (r.abi.empty() ? "-" : r.abi) << std::setw(9)
                  << (r.loaded ? "loaded" : "refused") << r.origin << "\n";
        if (!r.loaded) std::cout << "    " << r.error << "\n";
      }
    }
    return 0;
  });
}

void add_status_command(CLI::App& app, Context& context) {
  auto* status =
      app.add_subcommand("status", "Show the configuration in use and what is available");
  static bool json = false;
  status->add_flag("--json", json, "Print JSON");
  set_handler(status, [&context] {
    const Config& config = context.config();
    PluginSet set(config);
    auto statuses = set.status();
    // The service of this configuration, when one runs: its own figures.
    nlohmann::json service = {{"socket", config.service.socket.string()}, {"running", false}};
    if (auto* client = context.service())
      if (auto answer = client->call("GET", "/v1/status")) {
        service = (*answer)["service"];
        service["running"] = true;
      }
    if (json) {
      nlohmann::json plugins = nlohmann::json::array();
      for (const auto& s : statuses)
        plugins.push_back({{"name", s.name},
                           {"kind", s.kind},
                           {"version", s.version},
                           {"file", s.origin},
                           {"available", s.available},
                           {"reason", s.reason},
                           {"tool_version", s.tool_version}});
      nlohmann::json out = {
          {"config", config.file.string()},
          {"plugin_abi", std::to_string(WARDEN_ABI_MAJOR) + "." + std::to_string(WARDEN_ABI_MINOR)},
          {"default_backend", config.backends.default_backend},
          {"policies", config.policies.directory.string()},
          {"audit_directory", config.audit.directory.string()},
          {"service", service},
          {"plugins", plugins}};
      print_json(out);
    } else {
      std::cout << "config:    " << config.file.string() << "\n"
                << "policies:  " << config.policies.directory.string() << "\n"
                << "audit log: " << config.audit.directory.string() << "\n"
                << "service:   " << config.service.socket.string()
                << (service["running"].get<bool>()
                        ? " (running, pid " + service["pid"].dump() + ", " +
                              service["requests"].dump() + " requests since " +
                              service["started_at"].get<std::string>() + ")"
                        : " (not running)")
                << "\n";
      if (service["running"].get<bool>() && service.contains("mcp")) {
        const nlohmann::json& mcp = service["mcp"];
        std::cout << "mcp:       "
                  << (mcp.value("served", false)
                          ? "served at /mcp on the socket (" + mcp.value("state", "") + ")"
                          : "not served at /mcp: " + mcp.value("reason", mcp.value("state", "")))
                  << "\n";
      }
      std::cout << "\n";
      for (const auto& s : statuses) {
        std::cout << std::left << std::setw(12) << s.name << std::setw(10) << s.kind
                  << std::setw(13) << (s.available ? "available" : "UNAVAILABLE")
                  << (s.tool_version.empty() ? "" : s.tool_version + "  ") << s.reason << "\n";
      }
    }
    return 0;
  });
}

}  // namespace warden::cli
