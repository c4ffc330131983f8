// Audit log throughput: group commit with 256-byte payloads (target 100,000
// records/s), synced per record, several writer processes on one log side by
// side with one (target: 8 processes together at least half of one process's
// figure), and verification (target 300 MB/s).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "audit/audit_log.h"
#include "audit/audit_reader.h"
#include "audit/note_signer.h"
#include "bench_util.h"

int main(int argc, char** argv) {
  // --keep leaves the logs behind (for profiling `warden audit verify` on them).
  bool keep = argc > 1 && std::string(argv[1]) == "--keep";
  using namespace warden;
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("warden-audit-bench-" + std::to_string(::getpid()));
  auto config_for = [&](const std::string& name, const std::string& durability) {
    AuditConfig c;
    c.directory = dir / name;
    c.signing_key = dir / "keys/k";
    c.public_key = dir / "keys/k.pub";
    c.durability = durability;
    c.group_commit_delay_ms = 0;  // batches form while the previous fdatasync runs
    return c;
  };
  nlohmann::json payload = {{"padding", std::string(200, 'x')},
                            {"request_id", "r-0123456789abcdef"}};
  auto group = config_for("group", "group");
  constexpr int kRecords = 200'000;
  auto start = std::chrono::steady_clock::now();
  {
    auto log = audit::AuditLog::open(group);
    std::uint64_t last = 0;
    for (int i = 0; i < kRecords; ++i) last = log->enqueue("decision", payload).ticket;
    log->wait_durable(last);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("audit log\n  %-44s %.0f records/s (enqueue + wait_durable; target >= 100000: %s)\n",
              "group commit, ~256-byte records", kRecords / seconds,
              kRecords / seconds >= 100000 ? "met" : "NOT met");
  constexpr int kThreads = 16, kEach = 2000;
  start = std::chrono::steady_clock::now();
  {
    auto log = audit::AuditLog::open(config_for("threads", "group"));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < kEach; ++i) log->append("decision", payload);
      });
    for (auto& t : threads) t.join();
  }
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  %-44s %.0f records/s (%d threads, each waiting)\n",
              "group commit, append() per record", kThreads * kEach / seconds, kThreads);

  // Writer processes on one folder, each queueing batches of 64 records and
  // waiting for the last: the same total work spread over 1, 2 and 8
  // processes, so the figures compare directly.
  constexpr int kTotal = 96'000, kBatch = 64;
  auto processes_rate = [&](int processes) {
    auto config = config_for("processes-" + std::to_string(processes), "group");
    audit::AuditLog::open(config)->close();  // the key and the folder exist before the race
    auto began = std::chrono::steady_clock::now();
    std::vector<pid_t> children;
    for (int p = 0; p < processes; ++p) {
      pid_t pid = ::fork();
      if (pid == 0) {
        auto log = audit::AuditLog::open(config);
        for (int i = 0; i < kTotal / processes; i += kBatch) {
          std::uint64_t last = 0;
          for (int j = 0; j < kBatch; ++j) last = log->enqueue("decision", payload).ticket;
          log->wait_durable(last);
        }
        log->close();
        _exit(0);
      }
      children.push_back(pid);
    }
    for (pid_t pid : children) ::waitpid(pid, nullptr, 0);
    return kTotal / std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  };
  double one = processes_rate(1);
  std::printf("  %-44s %.0f records/s (batches of %d, waiting for each)\n", "1 writer process", one,
              kBatch);
  for (int processes : {2, 8}) {
    double rate = processes_rate(processes);
    std::printf(
        "  %-44s %.0f records/s (%.2fx of one process%s)\n",
        (std::to_string(processes) + " writer processes on one log").c_str(), rate, rate / one,
        processes == 8 ? (rate / one >= 0.5 ? "; target >= 0.5x: met" : "; target >= 0.5x: NOT met")
                       : "");
  }

  auto synced = config_for("synced", "every-record");
  start = std::chrono::steady_clock::now();
  {
    auto log = audit::AuditLog::open(synced);
    for (int i = 0; i < 2000; ++i) log->append("decision", payload);
  }
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  %-44s %.0f records/s (1 thread)\n", "fdatasync per record", 2000 / seconds);

  std::uint64_t bytes = 0;
  for (const auto& e : fs::directory_iterator(group.directory))
    if (e.path().extension() == ".wal") bytes += fs::file_size(e.path());
  std::string key = audit::read_verifier_key(group.public_key);
  bench::Timing t = bench::time_runs(
      3, 1, [&] { audit::verify_log(group.directory, group.origin, key, std::nullopt); });
  double mbps = static_cast<double>(bytes) / (t.median_us / 1e6) / 1e6;
  std::printf("  %-44s %.0f MB/s (%.1f MB; target >= 300: %s)\n", "verify", mbps, bytes / 1e6,
              mbps >= 300 ? "met" : "NOT met");
  if (keep)
    std::printf("  logs kept in %s\n", dir.c_str());
  else
    fs::remove_all(dir);
  return 0;
}
