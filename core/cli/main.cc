#include <spdlog/spdlog.h>
#include <warden/plugin_abi.h>
#include <warden/version.h>

#include <iostream>
#include <map>

#include <warden/error.h>
#include "cli/cli.h"
#include "common/logging.h"
#include "common/paths.h"

namespace warden::cli {
namespace {

std::map<CLI::App*, Handler>& handlers() {
  static std::map<CLI::App*, Handler> map;
  return map;
}

}  // namespace

void set_handler(CLI::App* command, Handler handler) {
  handlers()[command] = std::move(handler);
}

void print_json(const nlohmann::json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

const Config& Context::config() {
  if (!config_) {
    config_ = load_config(resolve_config_path(config_option));
    init_logging(config_->log_level, verbosity);
  }
  return *config_;
}

std::string Context::config_path() const {
  return resolve_config_path(config_option).string();
}

service::Client* Context::service() {
  if (!service_) {
    const Config& c = config();
    service_ = c.service.cli_uses_service ? service::Client::connect(c) : nullptr;
    if (*service_)
      spdlog::debug("using the warden service at {}", c.service.socket.string());
    else
      spdlog::debug("no warden service at {}{}: working in process", c.service.socket.string(),
                    c.service.cli_uses_service ? "" : " used (service.cli: never)");
  }
  return service_->get();
}

}  // namespace warden::cli

int main(int argc, char** argv) {
  using namespace warden;
  cli::Context context;
  CLI::App app{"warden: assess untrusted code, run it in a sandbox that fits it, audit all of it"};
  app.set_version_flag("--version", std::string("warden ") + WARDEN_VERSION + " (plugin ABI " +
                                        std::to_string(WARDEN_ABI_MAJOR) + "." +
                                        std::to_string(WARDEN_ABI_MINOR) + ")");
  app.add_option("--config", context.config_option,
                 "Configuration file (default: $WARDEN_CONFIG, then the installed warden.yaml)");
  app.add_flag_function(
      "-v,--verbose", [&](std::int64_t n) { context.verbosity += static_cast<int>(n); },
      "More log output on stderr (repeatable)");
  app.add_flag_function(
      "-q,--quiet", [&](std::int64_t n) { context.verbosity -= static_cast<int>(n); },
      "Less log output on stderr (repeatable)");
  app.require_subcommand(1);

  cli::add_plugin_commands(app, context);
  cli::add_status_command(app, context);
  cli::add_policy_commands(app, context);
  cli::add_audit_commands(app, context);
  cli::add_run_commands(app, context);
  cli::add_assess_command(app, context);
  cli::add_image_commands(app, context);
  cli::add_serve_command(app, context);
  cli::add_mcp_command(app, context);

  init_logging("info", 0);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    for (CLI::App* command = &app; command != nullptr;) {
      auto subcommands = command->get_subcommands();
      CLI::App* chosen = subcommands.empty() ? nullptr : subcommands.front();
      if (chosen == nullptr) break;
      if (auto it = cli::handlers().find(chosen);
          it != cli::handlers().end() && chosen->get_subcommands().empty())
        return it->second();
      command = chosen;
    }
    std::cerr << "warden: error: choose a command; see 'warden --help'\n";
    return 2;
  } catch (const Error& e) {
    std::cerr << "warden: error: " << e.what() << "\n";
    return exit_code_for(e.kind());
  } catch (const std::exception& e) {
    std::cerr << "warden: internal error: " << e.what() << "\n";
    return 3;
  }
}
