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

namespace warden::cli {
namespace {

// Run with `python -c`: imports the server, and says which piece is missing
// (the warden module or the MCP SDK) and how to install it, instead of a
// traceback, when it cannot. sys.argv[1:] are the server's arguments.
constexpr const char* kBootstrap = R"PY(import sys
try:
    from warden.mcp_server import main
except ModuleNotFoundError as e:
    name = e.name or ""
    what = ("the MCP Python SDK (mcp)" if name.split(".")[0] == "mcp"
            else "the warden Python module" if name.split(".")[0] == "warden"
            else "the Python module " + repr(name))
    sys.exit("warden mcp: " + sys.executable + " cannot import " + what + " (" + str(e) + "): "
             "install warden with its mcp extra there (pip install 'warden[mcp]', Python 3.10 or "
             "newer), or name a Python that has it with --python or $WARDEN_PYTHON")
main(sys.argv[1:])
)PY";

}  // namespace

void add_mcp_command(CLI::App& app, Context& context) {
  auto* mcp = app.add_subcommand(
      "mcp",
      "Serve MCP (Model Context Protocol) on stdin/stdout: tools run_code, assess_code, history");
  static std::string python;
  mcp->add_option("--python", python,
                  "Python interpreter with warden[mcp] installed (default: $WARDEN_PYTHON, "
                  "else python3 on PATH)");
  set_handler(mcp, [&context]() -> int {
    if (python.empty()) {
      const char* env = std::getenv("WARDEN_PYTHON");
      python = env != nullptr && *env != '\0' ? env : "python3";
    }
    std::vector<std::string> args = {python, "-c", kBootstrap, "--config", context.config_path()};
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
