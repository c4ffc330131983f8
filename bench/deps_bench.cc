// Programs that need packages (issue #19), side by side in one run, against
// a local PEP 503 index (tests/deps/package_index.py; no internet):
//   1. warden, cold: a PEP 723 program with one small dependency (and its one
//      dependency) through warden::Host on the native backend, with an empty
//      cache: assess, policy, the install phase (pip in the sandbox through
//      the egress proxy), the run.
//   2. warden, cached: the same program again, its set from the cache: no
//      install phase, no network.
//   3. plain pip: `python3 -m venv` of a fresh venv and `pip install` of the
//      same package from the same index (over HTTP, no proxy), then running
//      the program with the venv's python: what a user does without warden.
// Timing is reported, never asserted.
#include <warden/host.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "../tests/deps/package_index.h"
#include "bench_util.h"

namespace fs = std::filesystem;

namespace {

constexpr const char* kProgram =
    "# /// script\n"
    "# dependencies = [\"wardendemo\"]\n"
    "# ///\n"
    "import wardendemo\n"
    "print(wardendemo.greet())\n";

struct Folder {
  fs::path path;
  Folder() {
    char name[] = "/tmp/warden-bench-deps-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~Folder() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

}  // namespace

int main() {
  using namespace warden;
  test::PackageIndex index(WARDEN_SOURCE_DIR "/tests/deps");
  Folder home;
  fs::path cache = home.path / "cache";
  fs::path config = home.path / "warden.yaml";
  std::ofstream(config) << "log_level: warn\n"
                           "plugins: {directories: [" WARDEN_BINARY_DIR
                           "/lib/warden/plugins]}\n"
                           "assessors: {enabled: [heuristics]}\n"
                           "backends: {enabled: [native]}\n"
                           "policies: {directory: " WARDEN_SOURCE_DIR
                           "/policies/default}\n"
                           "audit:\n  directory: "
                        << (home.path / "audit").string()
                        << "\n  signing_key: " << (home.path / "keys/audit.key").string() << "\n"
                        << index.dependencies_yaml(cache);
  auto host = Host::open(config.string());
  ExecutionRequest request;
  request.code = kProgram;
  auto run = [&] {
    ExecutionResult r = host->assess_and_execute(request);
    if (r.decision != Outcome::kRan || !r.run || r.run->exit_code != 0) {
      std::fprintf(stderr, "the program did not run: %s %s\n", r.reason.c_str(),
                   r.run ? r.run->stderr_data.c_str() : "");
      std::exit(1);
    }
    return r;
  };

  const int kCold = 5, kCached = 20;
  bench::Timing cold = bench::time_runs(kCold, 0, [&] {
    std::error_code ignored;
    fs::remove_all(cache, ignored);
    run();
  });
  bench::Timing cached = bench::time_runs(kCached, 1, [&] { run(); });

  std::string index_url =
      "http://127.0.0.1:" + std::to_string(index.port("index_http")) + "/simple";
  fs::path program = home.path / "prog.py";
  std::ofstream(program) << kProgram;
  fs::path venv = home.path / "venv";
  bench::Timing plain = bench::time_runs(kCold, 0, [&] {
    std::error_code ignored;
    fs::remove_all(venv, ignored);
    bench::run_quietly({"/usr/bin/python3", "-m", "venv", venv.string()});
    bench::run_quietly({(venv / "bin/pip").string(), "install", "--no-cache-dir",
                        "--disable-pip-version-check", "--index-url", index_url, "wardendemo"});
    bench::run_quietly({(venv / "bin/python").string(), program.string()});
  });
  bench::Timing pip_only = bench::time_self_timed_runs(kCold, 0, [&] {
    bench::run_quietly(
        {(venv / "bin/pip").string(), "uninstall", "-y", "-q", "wardendemo", "wardendep"});
    auto start = std::chrono::steady_clock::now();
    bench::run_quietly({(venv / "bin/pip").string(), "install", "--no-cache-dir",
                        "--disable-pip-version-check", "--index-url", index_url, "wardendemo"});
    return std::chrono::steady_clock::now() - start;
  });

  std::printf("A PEP 723 program with one small dependency (wardendemo, which needs wardendep)\n");
  bench::print_timing("warden, cold (install phase + run)", cold);
  bench::print_timing("warden, cached (set reused, no network)", cached);
  bench::print_timing("plain: fresh venv + pip install + run", plain);
  bench::print_timing("plain: pip install alone (venv exists)", pip_only);
  bench::print_ratio("warden cold / plain venv + pip + run", cold.median_us, plain.median_us, 1.5);
  bench::print_ratio("warden cached / warden cold", cached.median_us, cold.median_us, 0.1);
  return 0;
}
