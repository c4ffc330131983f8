#include "backends.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "support/process.h"

namespace warden::abuse {
namespace {

struct Loaded {
  PluginCatalog catalog;
  std::vector<std::unique_ptr<SandboxBackend>> available;
  std::vector<std::string> skipped;  // "name: reason"
};

Loaded& loaded() {
  // Destroyed at exit, so the backends remove what they keep (warm containers).
  static std::unique_ptr<Loaded> l = [] {
    auto out = std::make_unique<Loaded>();
    out->catalog.load_directory(WARDEN_PLUGIN_DIR);
    std::vector<std::string> names;
    if (const char* env = std::getenv("WARDEN_ABUSE_BACKENDS"); env && *env) {
      std::stringstream list(env);
      for (std::string n; std::getline(list, n, ',');) names.push_back(n);
    } else {
      for (const auto& r : out->catalog.records())
        if (r.loaded && r.kind == "sandbox") names.push_back(r.name);
    }
    for (const auto& name : names) {
      if (!out->catalog.find(name)) {
        out->skipped.push_back(name + ": plugin not built");
        continue;
      }
      auto backend = out->catalog.create_sandbox(name, {}, "backends.settings." + name);
      Availability a = backend->probe();
      if (a.available)
        out->available.push_back(std::move(backend));
      else
        out->skipped.push_back(name + ": " + a.reason);
    }
    return out;
  }();
  return *l;
}

}  // namespace

void for_each_backend(const std::function<void(const SandboxBackend&)>& body) {
  Loaded& l = loaded();
  for (const auto& why : l.skipped) {
    if (test::under_ci()) FAIL("backend unavailable under CI: " << why);
    WARN("skipped backend " << why);
  }
  for (const auto& backend : l.available) {
    SECTION(backend->name()) {
      body(*backend);
    }
  }
}

RunSpec short_spec() {
  static int counter = 0;
  RunSpec spec;
  spec.run_id = "abuse-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  spec.env = {{"LANG", "C.UTF-8"}};
  spec.limits.memory_bytes = 128ull << 20;
  spec.limits.cpus = 1.0;
  spec.limits.wall_time_ms = 4000;
  spec.limits.cpu_time_ms = 3000;
  spec.limits.pids = 32;
  spec.limits.file_size_bytes = 4ull << 20;
  spec.limits.open_files = 64;
  spec.limits.tmpfs_bytes = 16ull << 20;
  spec.limits.output_bytes = 256 * 1024;
  return spec;
}

RunResult run(const SandboxBackend& backend, const RunSpec& spec, std::string_view code,
              std::string_view stdin_data) {
  try {
    return backend.run(spec, code, stdin_data, {});
  } catch (const std::exception& e) {
    FAIL("backend " << backend.name() << " could not run the program: " << e.what());
  }
  return {};
}

namespace {
bool reached(const RunResult& r, const std::string& limit) {
  return std::ranges::count(limits_reached(r), limit) > 0;
}
}  // namespace

void check_reached(const RunResult& r, const std::string& limit) {
  INFO("result: " << nlohmann::json(r).dump());
  CHECK(reached(r, limit));
}

void check_not_reached(const RunResult& r, const std::string& limit) {
  INFO("result: " << nlohmann::json(r).dump());
  CHECK_FALSE(reached(r, limit));
}

int processes_with(const std::string& marker) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(marker) != std::string::npos && name != std::to_string(::getpid())) ++count;
  }
  return count;
}

}  // namespace warden::abuse
