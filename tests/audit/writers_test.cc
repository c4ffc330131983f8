// Many writers on one audit folder: several processes and several AuditLog
// objects appending, checkpointing and retaining at once, writers killed at
// random moments, and a damaged log set aside by quarantine.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <warden/error.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "audit/audit_log.h"
#include "audit/audit_reader.h"
#include "audit/log_fixture.h"
#include "audit/log_format.h"
#include "audit/quarantine.h"
#include "common/text.h"
#include "support/process.h"

using namespace warden;
using namespace warden::audit;
using namespace warden::audit::test_support;
namespace fs = std::filesystem;

namespace {

const std::vector<const char*> kEveryKind = {
    kind::kAssessment,   kind::kDecision,      kind::kConfirmation,      kind::kOverride,
    kind::kRunStart,     kind::kRunResult,     kind::kResourceViolation, kind::kPolicyLoad,
    kind::kPolicyReload, kind::kPolicyFailure, kind::kSystemStart,       kind::kSystemStop,
    kind::kKeyRotation};

// What a writer process acknowledged: record `seq` of writer `writer` is
// durable, at `index` when the writer learned it (append), else -1.
struct Ack {
  int writer = 0;
  int seq = 0;
  long long index = -1;
};

// In a child process: opens the log and appends `count` records (0: until
// killed), each way a writer can — append(), enqueue() + wait_durable(), and
// enqueue() + write_queued() + wait_durable() — with a checkpoint now and
// then, and writes an Ack line to `ack_fd` once each is durable.
[[noreturn]] void writer_process(const AuditConfig& config, int writer, int count, int ack_fd) {
  try {
    auto log = AuditLog::open(config);
    for (int seq = 0; count == 0 || seq < count; ++seq) {
      const char* record_kind = kEveryKind[static_cast<std::size_t>(seq) % kEveryKind.size()];
      nlohmann::json data = {{"writer", writer}, {"seq", seq}, {"padding", std::string(120, 'p')}};
      long long index = -1;
      switch (seq % 3) {
        case 0:
          index = static_cast<long long>(log->append(record_kind, std::move(data)).index);
          break;
        case 1: log->wait_durable(log->enqueue(record_kind, std::move(data)).ticket); break;
        default: {
          std::uint64_t ticket = log->enqueue(record_kind, std::move(data)).ticket;
          log->write_queued();
          log->wait_durable(ticket);
        }
      }
      if (seq % 25 == 24) log->checkpoint_now();
      std::string line =
          std::to_string(writer) + " " + std::to_string(seq) + " " + std::to_string(index) + "\n";
      if (::write(ack_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(2);
    }
    log->close();
    _exit(0);
  } catch (const std::exception& e) {
    std::string why = std::string("writer failed: ") + e.what() + "\n";
    [[maybe_unused]] auto n = ::write(2, why.data(), why.size());
    _exit(3);
  }
}

struct Writer {
  pid_t pid = -1;
  int ack_fd = -1;
};

Writer spawn_writer(const AuditConfig& config, int writer, int count) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    writer_process(config, writer, count, fds[1]);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

// Waits for the writer, then reads every Ack it wrote. Returns its wait status.
int collect(const Writer& w, std::vector<Ack>& acks) {
  int status = 0;
  ::waitpid(w.pid, &status, 0);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(w.ack_fd, buffer, sizeof buffer)) > 0;)
    text.append(buffer, static_cast<std::size_t>(n));
  ::close(w.ack_fd);
  std::istringstream lines(text);
  for (Ack a; lines >> a.writer >> a.seq >> a.index;) acks.push_back(a);
  return status;
}

// Every acknowledged record is in the log exactly once (at the index its
// writer was told, when it was told one), no record is there twice, and each
// writer's records are in the order it wrote them. With `retained`, a prefix
// of the log may have been deleted: a writer's missing records must then all
// come before its first one still there.
void check_acks(const AuditConfig& c, const std::vector<Ack>& acks, bool retained = false) {
  Scan scan = scan_log(c.directory, c.origin);
  REQUIRE_FALSE(scan.problem);
  std::map<std::pair<int, int>, std::vector<std::uint64_t>> where;
  std::map<int, int> first_seq, last_seq;
  for (const auto& r : scan.records) {
    if (!r.data.contains("writer")) continue;
    int writer = r.data["writer"], seq = r.data["seq"];
    where[{writer, seq}].push_back(r.index);
    first_seq.emplace(writer, seq);
    auto previous = last_seq.find(writer);
    if (previous != last_seq.end() && previous->second >= seq)
      FAIL_CHECK("writer " << writer << ": record " << seq << " at index " << r.index
                           << " comes after its record " << previous->second);
    last_seq[writer] = seq;
  }
  for (const auto& [key, indexes] : where)
    if (indexes.size() != 1)
      FAIL_CHECK("writer " << key.first << " record " << key.second << " is in the log "
                           << indexes.size() << " times");
  for (const auto& a : acks) {
    auto it = where.find({a.writer, a.seq});
    if (it != where.end()) {
      if (a.index >= 0) CHECK(it->second.front() == static_cast<std::uint64_t>(a.index));
      continue;
    }
    auto first = first_seq.find(a.writer);
    bool deleted = retained && (first == first_seq.end() || a.seq < first->second);
    if (!deleted) FAIL_CHECK("acknowledged record " << a.writer << ":" << a.seq << " is missing");
  }
}

}  // namespace

TEST_CASE("eight processes append every kind of record to one log at once") {
  test::TempDir dir;
  constexpr int kWriters = 8, kEach = 150;
  std::vector<Writer> writers;
  for (int w = 0; w < kWriters; ++w) {
    // Both durability modes share the folder, as differently configured
    // programs of one user would.
    auto c = config_in(dir.path(), w % 2 ? "every-record" : "group");
    c.group_commit_delay_ms = w % 4 == 2 ? 1 : 0;
    c.checkpoint_interval_ms = 20;
    writers.push_back(spawn_writer(c, w, kEach));
  }
  std::vector<Ack> acks;
  for (const auto& w : writers) {
    int status = collect(w, acks);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  auto c = config_in(dir.path());
  CHECK(acks.size() == static_cast<std::size_t>(kWriters * kEach));
  check_acks(c, acks);
  auto report = verify(c);
  CHECK(report.intact);
  INFO(report.reason);
  CHECK(report.records == static_cast<std::uint64_t>(kWriters * kEach));
  CHECK(report.uncovered == 0);  // each writer's final checkpoint; the largest stays
}

TEST_CASE("writers killed at random moments lose nothing acknowledged; the others go on") {
  test::TempDir dir;
  auto c = config_in(dir.path(), "group");
  c.group_commit_delay_ms = 0;
  std::mt19937 rng(1234);
  std::vector<Ack> acks;
  int killed_total = 0;
  for (int round = 0; round < 100; ++round) {
    constexpr int kWriters = 4;
    std::vector<Writer> writers;
    std::vector<bool> doomed(kWriters, false);
    for (int w = 0; w < kWriters; ++w) {
      doomed[w] = std::uniform_int_distribution<int>(0, 2)(rng) == 0;
      // The doomed ones write until killed; the others a fixed number.
      writers.push_back(spawn_writer(c, round * kWriters + w, doomed[w] ? 0 : 20));
    }
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<int>(200, 15000)(rng)));
    for (int w = 0; w < kWriters; ++w)
      if (doomed[w]) {
        ::kill(writers[w].pid, SIGKILL);
        ++killed_total;
      }
    for (int w = 0; w < kWriters; ++w) {
      int status = collect(writers[w], acks);
      if (doomed[w]) {
        CHECK(WIFSIGNALED(status));
      } else {
        INFO("round " << round << " writer " << w << " must survive the others' deaths");
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
      }
    }
    // A writer killed in the middle of its write() after the survivors
    // finished leaves a torn tail; the next writer cuts it, as here.
    AuditLog::open(c)->close();
    auto report = verify(c);
    INFO("round " << round << ": " << report.reason);
    REQUIRE(report.intact);
  }
  CHECK(killed_total > 50);
  check_acks(c, acks);
}

TEST_CASE("automatic retention in every writer while all of them append") {
  test::TempDir dir;
  constexpr int kWriters = 4, kEach = 120;
  std::vector<Writer> writers;
  auto c = config_in(dir.path(), "group");
  c.segment_bytes = 4096;
  c.retention_max_bytes = 16384;
  for (int w = 0; w < kWriters; ++w) writers.push_back(spawn_writer(c, w, kEach));
  std::vector<Ack> acks;
  for (const auto& w : writers) {
    int status = collect(w, acks);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  auto report = verify(c);
  INFO(report.reason);
  CHECK(report.intact);
  CHECK(report.deleted > 0);
  check_acks(c, acks, true);
}

TEST_CASE("two AuditLog objects in one process share a folder like two processes") {
  test::TempDir dir;
  auto c = config_in(dir.path(), "group");
  c.group_commit_delay_ms = 0;
  constexpr int kThreads = 4, kEach = 200;
  {
    auto first = AuditLog::open(c);
    auto second = AuditLog::open(c);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        AuditLog& log = t % 2 ? *first : *second;
        for (int i = 0; i < kEach; ++i) log.append(kind::kDecision, {{"writer", t}, {"seq", i}});
      });
    for (auto& t : threads) t.join();
    second->close();
    first->append(kind::kSystemStop, nlohmann::json::object());
  }
  std::vector<Ack> acks;
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) acks.push_back({t, i, -1});
  check_acks(c, acks);
  auto report = verify(c);
  INFO(report.reason);
  CHECK(report.intact);
  CHECK(report.records == kThreads * kEach + 1);
}

TEST_CASE("a damaged log is refused with what to do, and quarantine keeps it and starts anew") {
  test::TempDir dir;
  auto c = config_in(dir.path());
  write_log(c, 5);
  std::string segment_bytes = test::read_file(segment(c));
  {
    // Change one byte of record 2's data: a damaged log, not crash residue.
    auto frames = frames_of(segment_bytes, header_size(c));
    std::string damaged = segment_bytes;
    damaged[frames[2].offset + 8 + 10] ^= 0x01;
    std::ofstream(segment(c), std::ios::binary | std::ios::trunc) << damaged;
  }
  std::string damaged_sha = sha256_hex(test::read_file(segment(c)));
  try {
    AuditLog::open(c);
    FAIL("a damaged log must not open for writing");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kRefused);
    CHECK_THAT(e.what(), Catch::Contains("seg-00000001.wal") &&
                             Catch::Contains("warden audit verify") &&
                             Catch::Contains("warden audit quarantine"));
  }

  QuarantineResult q = quarantine(c, "byte flipped in record 2", false);
  CHECK_FALSE(q.report.intact);
  CHECK(fs::exists(q.moved_to / "QUARANTINE.json"));
  CHECK(sha256_hex(test::read_file(q.moved_to / "seg-00000001.wal")) == damaged_sha);
  bool listed = false;
  for (const auto& f : q.files) listed |= f.name == "seg-00000001.wal" && f.sha256 == damaged_sha;
  CHECK(listed);
  // The quarantined copy still says what is wrong with it.
  auto old = verify_log(q.moved_to, c.origin, read_verifier_key(c.public_key), std::nullopt);
  CHECK_FALSE(old.intact);
  CHECK(old.bad_index == 2);

  // The new log starts with the quarantine record and takes records again.
  auto log = AuditLog::open(c);
  log->append(kind::kDecision, {{"after", true}});
  log->close();
  auto scan = scan_log(c.directory, c.origin);
  REQUIRE(scan.records.size() == 2);
  CHECK(scan.records[0].kind == kind::kQuarantine);
  CHECK(scan.records[0].data["reason"] == "byte flipped in record 2");
  CHECK(scan.records[0].data["moved_to"] == q.moved_to.string());
  CHECK(verify(c).intact);

  SECTION("an intact log is not quarantined without --force") {
    CHECK_THROWS_AS(quarantine(c, "why not", false), Error);
    CHECK(scan_log(c.directory, c.origin).records.size() == 2);
  }
  SECTION("the command line does the same") {
    fs::path none = dir.path() / "none.yaml";
    std::ofstream(none) << "log_level: warn\n";
    auto run = test::run_process({test::warden_binary(), "--config", none.string(), "audit",
                                  "--dir", c.directory.string(), "--public-key",
                                  c.public_key.string(), "quarantine", "--reason", "drill"});
    CHECK(run.exit_code != 0);
    CHECK_THAT(run.err, Catch::Contains("intact"));
  }
}

TEST_CASE("a writer that outlives a quarantine goes on in the new log") {
  test::TempDir dir;
  auto c = config_in(dir.path(), "group");
  c.group_commit_delay_ms = 0;
  auto running = AuditLog::open(c);
  running->append(kind::kDecision, {{"before", true}});
  running->checkpoint_now();
  QuarantineResult q = quarantine(c, "drill", true);
  CHECK(q.report.intact);
  running->append(kind::kDecision, {{"after", true}});
  running->close();
  auto scan = scan_log(c.directory, c.origin);
  REQUIRE(scan.records.size() >= 2);
  CHECK(scan.records.front().kind == kind::kQuarantine);
  CHECK(scan.records.back().data.value("after", false));
  CHECK(verify(c).intact);
  CHECK(verify_log(q.moved_to, c.origin, read_verifier_key(c.public_key), std::nullopt).intact);
}
