// warden serve beside the same host in process, in one run:
//   1. assess_code_only and assess_and_execute of new programs (heuristics,
//      native backend) with 1, 8 and 32 clients: requests/s and median
//      latency, in process (threads calling one Host) and through the
//      service (each client its own connection, kept alive).
//   2. `warden run prog.py` of a new program with every shipped assessor,
//      in process (service.cli: never; target at most 0.5 s) and through a
//      running service (target at most 3x bare `python3 prog.py`), beside
//      bare python3, interleaved.
// Each part has its own folder (audit log, keys, socket), removed at the end.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <warden/host.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "bench_util.h"
#include "config/config.h"
#include "service/api.h"
#include "service/client.h"

namespace fs = std::filesystem;
using namespace warden;

namespace {

std::atomic<int> next_program{0};

// A LOW program no earlier request had (so no assessment comes from a cache).
std::string new_program() {
  int n = next_program++;
  return "import math\n\nvalues = [math.sqrt(i) for i in range(" + std::to_string(100 + n) +
         ")]\nprint(round(sum(values), 3))  # program " + std::to_string(n) + "\n";
}

fs::path write_config(const fs::path& dir, const std::string& assessors, const std::string& cli) {
  fs::create_directories(dir);
  fs::path config = dir / ("warden-" + cli + ".yaml");
  std::ofstream(config) << "log_level: warn\nassessors: {enabled: " << assessors
                        << ", cache: {max_bytes: 0}}\nbackends: {enabled: [native]}\n"
                        << "policies: {directory: " << WARDEN_SOURCE_DIR << "/policies/default}\n"
                        << "audit:\n  directory: " << (dir / "audit").string()
                        << "\n  signing_key: " << (dir / "keys/audit.key").string()
                        << "\nservice: {socket: " << (dir / "s.sock").string() << ", cli: " << cli
                        << "}\n";
  return config;
}

// `warden --config <config> serve` in the background, ready when it returns.
pid_t start_service(const fs::path& config) {
  std::string warden = std::string(WARDEN_BINARY_DIR) + "/bin/warden";
  std::vector<std::string> argv = {warden, "--config", config.string(), "serve"};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  Config c = load_config(config);
  for (int i = 0; i < 600 && !service::Client::connect(c); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return pid;
}

void stop_service(pid_t pid) {
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
}

// `requests` calls of `call` spread over `clients` threads, each thread
// with its own state from `make_client`: requests/s and median latency.
template <class MakeClient, class Call>
void measure(const char* label, int clients, int requests, MakeClient make_client, Call call) {
  std::vector<std::future<std::vector<double>>> threads;
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < clients; ++t)
    threads.push_back(std::async(std::launch::async, [&, t] {
      auto client = make_client();
      std::vector<double> latencies;
      for (int i = t; i < requests; i += clients) {
        auto begin = std::chrono::steady_clock::now();
        call(client);
        latencies.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin)
                .count());
      }
      return latencies;
    }));
  std::vector<double> all;
  for (auto& t : threads) {
    auto part = t.get();
    all.insert(all.end(), part.begin(), part.end());
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(all.begin(), all.end());
  std::printf("  %-34s %2d clients: %7.1f requests/s, median %7.2f ms\n", label, clients,
              all.size() / seconds, all[all.size() / 2]);
}

void throughput(const fs::path& dir) {
  fs::path config = write_config(dir, "[heuristics]", "auto");
  std::puts("1. new programs, heuristics + native: in process beside through warden serve");
  {
    auto host = Host::open(config.string());
    auto none = [] { return 0; };
    for (int clients : {1, 8, 32}) {
      measure("assess, in process", clients, 400, none,
              [&](int) { host->assess_code_only(new_program()); });
      measure("run, in process", clients, 96, none, [&](int) {
        ExecutionRequest r;
        r.code = new_program();
        if (host->assess_and_execute(r).decision != Outcome::kRan) std::abort();
      });
    }
  }
  pid_t service = start_service(config);
  Config c = load_config(config);
  auto connect = [&c] { return service::Client::connect(c); };
  for (int clients : {1, 8, 32}) {
    measure("assess, through the service", clients, 400, connect, [](auto& client) {
      client->call("POST", "/v1/assess", {{"code", new_program()}});
    });
    measure("run, through the service", clients, 96, connect, [](auto& client) {
      ExecutionRequest r;
      r.code = new_program();
      if ((*client->call("POST", "/v1/run", service::request_to_json(r)))["decision"] != "ran")
        std::abort();
    });
  }
  stop_service(service);
}

void command_line(const fs::path& dir) {
  std::puts("\n2. `warden run` of a new program, every shipped assessor, beside bare python3");
  fs::path in_process = write_config(dir, "[heuristics, bandit, semgrep]", "never");
  fs::path served = write_config(dir, "[heuristics, bandit, semgrep]", "auto");
  pid_t service = start_service(served);
  std::string warden = std::string(WARDEN_BINARY_DIR) + "/bin/warden";
  fs::path program = dir / "prog.py";
  auto timed = [&](std::vector<std::string> argv) {
    std::ofstream(program) << new_program();
    argv.push_back(program.string());
    return bench::time_runs(1, 0, [&] { bench::run_quietly(argv); }).median_us / 1000;
  };
  std::vector<double> bare, local, remote;
  for (int i = 0; i < 12; ++i) {  // interleaved, so load affects all three alike
    bare.push_back(timed({"/usr/bin/python3"}));
    local.push_back(timed({warden, "--config", in_process.string(), "run"}));
    remote.push_back(timed({warden, "--config", served.string(), "run"}));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("  bare python3 prog.py:            median %6.0f ms over %zu runs\n", median(bare),
              bare.size());
  std::printf("  warden run, in process:          median %6.0f ms (target <= 500 ms: %s)\n",
              median(local), median(local) <= 500 ? "met" : "NOT met");
  std::printf("  warden run, through the service: median %6.0f ms\n", median(remote));
  bench::print_ratio("through the service / bare python3", median(remote), median(bare), 3.0);
  stop_service(service);
}

}  // namespace

int main() {
  fs::path dir = fs::temp_directory_path() / ("warden-bench-service-" + std::to_string(::getpid()));
  throughput(dir / "throughput");
  command_line(dir / "cli");
  fs::remove_all(dir);
  return 0;
}
