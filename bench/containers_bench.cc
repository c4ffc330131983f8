// docker and podman backends: `print(1)` through each backend against the
// engine's own CLI running the same image and command (`docker run --rm`,
// `podman run --rm`), side by side, then 16 concurrent runs per backend.
// The backend is measured as runs meet it: with its warm pool (runs 0.5 s
// apart, untimed, as an assistant's are, so the pool has refilled) and cold
// (warm_pool 0: the run creates and starts its own container).
// Needs root, dockerd, the Podman service and `warden image build`.

#include <cstdio>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "concurrent_runs.h"
#include "plugin/loader.h"

namespace {

using namespace warden;

struct Engine {
  const char* name;
  std::vector<std::string> cli;  // the same program through the engine's CLI
  double target;
};

std::unique_ptr<SandboxBackend> make(const PluginCatalog& catalog, const char* name,
                                     nlohmann::json settings) {
  JsonWithMarks marked;
  marked.value = std::move(settings);
  return catalog.create_sandbox(name, marked, std::string("backends.settings.") + name);
}

void compare(const PluginCatalog& catalog, const Engine& engine) {
  auto backend = make(catalog, engine.name, nlohmann::json::object());
  auto cold = make(catalog, engine.name, {{"warm_pool", 0}});
  if (Availability a = backend->probe(); !a.available) {
    std::printf("%s backend unavailable: %s\n\n", engine.name, a.reason.c_str());
    return;
  }
  RunSpec spec;
  spec.run_id = "bench";
  auto spaced = [](const std::function<void()>& body) {
    return [body] {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      auto start = std::chrono::steady_clock::now();
      body();
      return std::chrono::steady_clock::now() - start;
    };
  };
  std::printf("%s backend, print(1), 20 runs each (warm-up of 3)\n", engine.name);
  bench::Timing cli = bench::time_runs(20, 3, [&] { bench::run_quietly(engine.cli); });
  bench::Timing warm =
      bench::time_self_timed_runs(20, 3, spaced([&] { backend->run(spec, "print(1)\n", "", {}); }));
  bench::Timing cold_t = bench::time_runs(20, 3, [&] { cold->run(spec, "print(1)\n", "", {}); });
  bench::print_timing(std::string(engine.name) + " run --rm (CLI)", cli);
  bench::print_timing(std::string(engine.name) + " backend, warm pool", warm);
  bench::print_timing(std::string(engine.name) + " backend, cold (warm_pool 0)", cold_t);
  bench::print_ratio(std::string(engine.name) + " backend (warm) / CLI", warm.median_us,
                     cli.median_us, engine.target);
  bench::print_ratio(std::string(engine.name) + " backend (cold) / CLI", cold_t.median_us,
                     cli.median_us, engine.target);

  bench::report_concurrent_runs(*backend, spec);
  std::printf("\n");
}

}  // namespace

int main() {
  PluginCatalog catalog;
  for (const char* plugin : {"docker", "podman"})
    catalog.load_file(std::string(WARDEN_BINARY_DIR) + "/lib/warden/plugins/" + plugin + ".so");
  compare(catalog, {"docker",
                    {"/usr/bin/docker", "run", "--rm", "-i", "--network", "none",
                     "warden-python:latest", "/usr/bin/python3", "-c", "print(1)"},
                    0.6});
  compare(catalog, {"podman",
                    {"/usr/bin/podman", "run", "--rm", "-i", "--network", "none", "--rootfs",
                     "/var/lib/warden/rootfs/python", "/usr/bin/python3", "-c", "print(1)"},
                    0.8});
  return 0;
}
