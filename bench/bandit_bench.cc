// Bandit through warden's warm workers against the cold `bandit` command on
// the same small file, side by side (target: the plugin at most 0.1x); and
// the semgrep plugin (the engine run directly) against the cold `semgrep scan`
// command with the same rules (target: at most 0.1x).
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "bench_util.h"
#include "config/config.h"
#include "plugin/plugin_set.h"

namespace fs = std::filesystem;

int main() {
  using namespace warden;
  const char* venv_env = std::getenv("WARDEN_TOOLS_VENV");
  fs::path venv = venv_env && *venv_env ? fs::path(venv_env) : fs::path("/opt/warden/tools");
  if (!fs::exists(venv / "bin/bandit")) {
    std::fprintf(stderr, "bandit is not installed in %s: run scripts/install-python-tools.sh\n",
                 venv.c_str());
    return 1;
  }
  const std::string code =
      "import subprocess\n\n\ndef listing(path):\n    return subprocess.check_output(['ls', "
      "path])\n\n\nprint(listing('.'))\n";
  fs::path dir = fs::temp_directory_path() / ("warden-bench-bandit-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path file = dir / "small.py";
  std::ofstream(file) << code;

  Config config = parse_config(
      "log_level: warn\nassessors: {enabled: [bandit, semgrep]}\nbackends: {enabled: []}\n",
      "bench.yaml", "/");
  config.plugin_directories = {std::string(WARDEN_BINARY_DIR) + "/lib/warden/plugins"};
  PluginSet plugins(config);
  const Assessor* bandit = plugins.assessor("bandit");
  const Assessor* semgrep = plugins.assessor("semgrep");
  auto assess = [&](const Assessor* a) {
    a->assess(code, "python", "small.py", std::chrono::seconds(60), {});
  };
  assess(bandit);  // the first request starts a worker

  std::printf("bandit on a 9-line file\n");
  bench::Timing cold = bench::time_runs(10, 1, [&] {
    bench::run_quietly({(venv / "bin/bandit").string(), "-f", "json", "-q", file.string()});
  });
  bench::print_timing("cold `bandit -f json` command", cold);
  bench::Timing warm = bench::time_runs(200, 10, [&] { assess(bandit); });
  bench::print_timing("bandit plugin, warm worker", warm);
  bench::print_ratio("warm plugin / cold command", warm.median_us, cold.median_us, 0.1);

  std::printf("\nsemgrep on the same file (warden's rules)\n");
  fs::path rules = fs::path(WARDEN_SOURCE_DIR) / "plugins/assessors/semgrep/data/rules";
  std::string home = "HOME=" + dir.string();
  bench::Timing scan = bench::time_runs(5, 1, [&] {
    bench::run_quietly({"/usr/bin/env", home, (venv / "bin/semgrep").string(), "scan", "--config",
                        rules.string(), "--json", "--metrics=off", "--disable-version-check", "-q",
                        file.string()});
  });
  bench::print_timing("cold `semgrep scan` command", scan);
  bench::Timing sg = bench::time_runs(20, 1, [&] { assess(semgrep); });
  bench::print_timing("semgrep plugin, one request (no cache)", sg);
  bench::print_ratio("plugin / cold command", sg.median_us, scan.median_us, 0.1);
  fs::remove_all(dir);
  return 0;
}
