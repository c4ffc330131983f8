// warden serve: one warm host for every client on a unix socket (docs/service.md).
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <warden/host.h>

#include <cstdlib>
#include <cstring>

#include "cli/cli.h"
#include "service/client.h"
#include "service/server.h"

namespace warden::cli {
namespace {

service::Server* running_server = nullptr;

// SIGTERM and SIGINT stop the service (runs in progress are cancelled and
// answered), SIGHUP reloads its policies. The handlers only write to the
// server's pipe.
void handle_signals() {
  struct sigaction action {};
  action.sa_handler = [](int signal) {
    if (running_server == nullptr) return;
    if (signal == SIGHUP)
      running_server->reload_policies();
    else
      running_server->stop();
  };
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signal : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(signal, &action, nullptr);
}

// Tells systemd (Type=notify) that the socket is ready: "READY=1" to
// $NOTIFY_SOCKET, a datagram socket ('@' for the abstract namespace).
void notify_ready() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::size_t length = std::strlen(path);
  if (length >= sizeof address.sun_path) return;
  std::memcpy(address.sun_path, path, length);
  if (path[0] == '@') address.sun_path[0] = '\0';
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  const char ready[] = "READY=1";
  ::sendto(fd, ready, sizeof ready - 1, 0, reinterpret_cast<sockaddr*>(&address),
           static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length));
  ::close(fd);
}

}  // namespace

void add_serve_command(CLI::App& app, Context& context) {
  auto* serve = app.add_subcommand(
      "serve",
      "Serve assess/run/history/... on service.socket for every client, until SIGTERM or SIGINT");
  static std::string python;
  serve->add_option("--python", python,
                    "Python interpreter with warden[mcp] installed, for MCP at /mcp "
                    "(service.mcp: auto; default: $WARDEN_PYTHON, else python3 on PATH)");
  set_handler(serve, [&context] {
    const Config& config = context.config();
    // Before a host writes its start and stop into the log: the Server
    // checks again, for a service that starts meanwhile.
    if (service::Client::connect(config))
      throw Error(ErrorKind::kEnvironment,
                  "a warden service already listens on " + config.service.socket.string());
    auto host = Host::open(context.config_path());
    service::Server server(*host, config, python);
    running_server = &server;
    handle_signals();
    notify_ready();
    std::cerr << "warden: serving on " << server.socket_path().string() << " (pid " << ::getpid()
              << "); SIGTERM or Ctrl-C stops, SIGHUP reloads the policies\n";
    server.run();
    running_server = nullptr;
    return 0;
  });
}

}  // namespace warden::cli
