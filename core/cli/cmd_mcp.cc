// warden mcp: warden's MCP server on stdio. The server is the Python module's
// (python/warden/mcp_server.py, on the official MCP Python SDK), so this
// command replaces itself with a Python interpreter running it, with the
// configuration this invocation resolved. See docs/mcp.md.
#include <unistd.h>
#include <warden/error.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "service/mcp_child.h"

namespace warden::cli {

void add_mcp_command(CLI::App& app, Context& context) {
  auto* mcp = app.add_subcommand(
      "mcp",
      "Serve MCP (Model Context Protocol) on stdin/stdout: tools run_code, assess_code, history");
  static std::string python;
  mcp->add_option("--python", python,
                  "Python interpreter with warden[mcp] installed (default: $WARDEN_PYTHON, "
                  "else python3 on PATH)");
  set_handler(mcp, [&context]() -> int {
    python = service::mcp_python(python);
    std::vector<std::string> args = {python, "-c", service::kMcpBootstrap, "--config",
                                     context.config_path()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    int error = errno;
    throw Error(ErrorKind::kEnvironment,
                "mcp: cannot run the Python interpreter '" + python + "' (" + std::strerror(error) +
                    "): name one that has warden[mcp] installed with --python or $WARDEN_PYTHON");
  });
}

}  // namespace warden::cli
