// The warden command line program: shared state of one invocation and the
// registration functions of each command group (one file per group).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "config/config.h"
#include "service/client.h"

namespace warden::cli {

// Global options and lazily loaded configuration.
class Context {
 public:
  std::string config_option;  // --config
  int verbosity = 0;          // -v adds one, -q removes one

  // Loads the configuration on first use (and sets up logging from it).
  const Config& config();
  // The path that config() reads or read.
  std::string config_path() const;
  // The running `warden serve` of this configuration, connected on first
  // use, or nullptr when none runs (or service.cli is "never"): the command
  // then works in process. -v says which.
  service::Client* service();

 private:
  std::optional<Config> config_;
  std::optional<std::unique_ptr<service::Client>> service_;
};

// A command's body returns the process exit code. Errors thrown as
// warden::Error are turned into the documented exit codes by main().
using Handler = std::function<int()>;

// Runs `handler` when `command` is chosen; main() calls the one chosen.
void set_handler(CLI::App* command, Handler handler);

void add_plugin_commands(CLI::App& app, Context& context);
void add_status_command(CLI::App& app, Context& context);
void add_policy_commands(CLI::App& app, Context& context);
// Reads at most max_bytes of path; a file (or FIFO, device) with more is
// refused with an error naming it and the limit (`limit_name`, the
// configuration field), before it can exhaust memory.
std::string read_input_file(const std::string& path, const std::string& what,
                            std::uint64_t max_bytes,
                            const char* limit_name = "requests.max_code_size");
// Prints `j` indented, and a line break, to stdout. Strings that are not UTF-8
// (a program's output) are printed with U+FFFD in place of their bad bytes.
void print_json(const nlohmann::json& j);
void add_audit_commands(CLI::App& app, Context& context);
void add_run_commands(CLI::App& app, Context& context);
void add_assess_command(CLI::App& app, Context& context);
void add_image_commands(CLI::App& app, Context& context);
void add_serve_command(CLI::App& app, Context& context);
// warden mcp: execs the Python MCP server (warden.mcp_server) with this --config.
void add_mcp_command(CLI::App& app, Context& context);

}  // namespace warden::cli
