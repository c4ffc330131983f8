// warden-plugin-host: runs one assessor plugin for warden, out of warden's
// process (see plugin_host.h).
//
//   warden-plugin-host ORIGIN
//
// fd 3 is the plugin file, opened and checked by warden; fd 4 is the channel.
// ORIGIN is the file's path, used in messages only. The helper loads the file
// with the same loader and ABI checks as warden, announces what it found, then
// answers create / probe / assess until warden closes the channel.
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "plugin/loader.h"
#include "plugin/plugin_protocol.h"

namespace {

constexpr int kPluginFd = 3;
constexpr int kChannelFd = 4;

// Appends whatever a plugin writes to a sink.
struct Collected {
  std::string text;
  warden_sink sink() {
    return {this, [](void* context, const char* data, std::size_t size) {
              static_cast<Collected*>(context)->text.append(data, size);
            }};
  }
};

// The helper must not outlive warden, even while the plugin hangs: once
// warden's end of the channel is gone, the main loop has a moment to destroy
// the instance, then the process leaves whatever the plugin is doing.
void leave_when_warden_is_gone() {
  std::thread([] {
    pollfd p{kChannelFd, POLLRDHUP, 0};
    while (::poll(&p, 1, -1) < 0) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    _exit(0);
  }).detach();
}

std::string status_field(warden_status status) {
  return std::string(1, static_cast<char>('0' + static_cast<int>(status)));
}

int serve(const warden_plugin_descriptor& d) {
  using warden::plugin_protocol::receive_message;
  using warden::plugin_protocol::send_message;
  const warden_assessor_vtable& v = *d.assessor;
  void* instance = nullptr;
  for (;;) {
    std::vector<std::string> request;
    try {
      request = receive_message(kChannelFd);
    } catch (const std::exception&) {
      break;  // warden closed the channel (or broke it): done
    }
    if (request.empty()) return 2;
    const std::string& op = request[0];
    if (op == "create" && request.size() == 2 && instance == nullptr) {
      Collected error;
      instance = v.create(request[1].c_str(), error.sink());
      send_message(kChannelFd, instance ? std::vector<std::string>{"created"}
                                        : std::vector<std::string>{"refused", error.text});
    } else if (op == "probe" && instance != nullptr) {
      Collected out, error;
      warden_status status = v.probe(instance, out.sink(), error.sink());
      send_message(kChannelFd, {status_field(status), out.text, error.text});
    } else if (op == "assess" && request.size() == 5 && instance != nullptr) {
      warden_assess_request r{};
      r.struct_size = sizeof r;
      r.code = {request[1].data(), request[1].size()};
      r.language = request[2].c_str();
      r.file_name = request[3].c_str();
      r.deadline_ms = std::stoull(request[4]);
      // warden ends this process when it gives up, so the call is never
      // asked to stop from here.
      r.cancel = {nullptr, [](void*) { return 0; }};
      Collected out, error;
      warden_status status = v.assess(instance, &r, out.sink(), error.sink());
      send_message(kChannelFd, {status_field(status), out.text, error.text});
    } else {
      std::fprintf(stderr, "warden-plugin-host: unexpected request '%s'\n", op.c_str());
      return 2;
    }
  }
  if (instance != nullptr) v.destroy(instance);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: warden-plugin-host ORIGIN (started by warden, not by hand)\n");
    return 2;
  }
  leave_when_warden_is_gone();
  // A crashing plugin is expected here; it must not leave core files behind.
  rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  warden::PluginCatalog catalog;
  catalog.load_opened(kPluginFd, argv[1]);
  ::close(kPluginFd);
  const warden::PluginRecord& r = catalog.records().back();
  try {
    warden::plugin_protocol::send_message(
        kChannelFd,
        {"plugin", r.name, r.kind, r.version, r.description, r.abi, r.loaded ? "1" : "0", r.error});
  } catch (const std::exception&) {
    return 1;
  }
  auto plugin = catalog.find(r.name);
  if (!r.loaded || !plugin || plugin->descriptor().kind != WARDEN_KIND_ASSESSOR) {
    // Nothing to serve: wait for warden to close the channel.
    char byte;
    while (::read(kChannelFd, &byte, 1) > 0) {
    }
    return 0;
  }
  return serve(plugin->descriptor());
}
