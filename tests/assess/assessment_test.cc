// The assessment stage with in-process assessors that are slow, failing,
// unavailable or counting: parallelism, deadlines, statuses, the cache and its
// bound, merging, and many threads at once.
#define CATCH_CONFIG_MAIN
#include <warden/plugin.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "assess/assessment.h"
#include "support/process.h"

using namespace warden;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::atomic<int> g_calls{0};

// Sleeps settings.sleep_ms, then reports one finding on line 1.
class Sleepy {
 public:
  explicit Sleepy(const nlohmann::json& s) : sleep_ms_(s.value("sleep_ms", 0)) {}
  Availability probe() { return {true, "", "sleepy 1", "k"}; }
  std::vector<Finding> assess(const AssessRequest& r) {
    ++g_calls;
    auto until = Clock::now() + std::chrono::milliseconds(sleep_ms_);
    while (Clock::now() < until && !r.cancellation.cancelled())
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    Finding f;
    f.rule_id = "sleepy";
    f.severity = Severity::kLow;
    f.category = "other";
    f.line = 1;
    return {f};
  }

 private:
  int sleep_ms_;
};
class SleepyToo : public Sleepy {
 public:
  using Sleepy::Sleepy;
};

// A probe that takes 300 ms, as a tool that must start to tell its version.
class SlowProbe {
 public:
  explicit SlowProbe(const nlohmann::json&) {}
  Availability probe() {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return {true, "", "slow 1", "k"};
  }
  std::vector<Finding> assess(const AssessRequest&) { return {}; }
};
class SlowProbeToo : public SlowProbe {
 public:
  using SlowProbe::SlowProbe;
};

class Failing {
 public:
  explicit Failing(const nlohmann::json&) {}
  Availability probe() { return {true, "", "", ""}; }
  std::vector<Finding> assess(const AssessRequest&) {
    throw PluginError(WARDEN_ERR_FAILED, "tool crashed: signal 11");
  }
};

class Absent {
 public:
  explicit Absent(const nlohmann::json&) {}
  Availability probe() { return {false, "tool not found at /nowhere", "", ""}; }
  std::vector<Finding> assess(const AssessRequest&) { return {}; }
};

constexpr warden_plugin_descriptor kSleepy = make_assessor_descriptor<Sleepy>("sleepy", "1.0", "");
constexpr warden_plugin_descriptor kSleepyToo =
    make_assessor_descriptor<SleepyToo>("sleepy2", "1.0", "");
constexpr warden_plugin_descriptor kSlowProbe =
    make_assessor_descriptor<SlowProbe>("slowprobe", "1.0", "");
constexpr warden_plugin_descriptor kSlowProbeToo =
    make_assessor_descriptor<SlowProbeToo>("slowprobe2", "1.0", "");
constexpr warden_plugin_descriptor kFailing =
    make_assessor_descriptor<Failing>("failing", "1.0", "");
constexpr warden_plugin_descriptor kAbsent = make_assessor_descriptor<Absent>("absent", "1.0", "");

// A stage whose disk cache is in `cache_dir`, by default a folder of its own.
struct Stage {
  test::TempDir home;
  Config config;
  std::unique_ptr<PluginSet> plugins;
  std::unique_ptr<AssessmentStage> stage;
  explicit Stage(const std::string& yaml, const fs::path& cache_dir = {})
      : config(parse_config(yaml + "backends: {enabled: []}\n", "t.yaml", "/")) {
    config.assessors.cache_directory = cache_dir.empty() ? home.path() / "cache" : cache_dir;
    PluginCatalog catalog;
    for (const auto* d : {&kSleepy, &kSleepyToo, &kSlowProbe, &kSlowProbeToo, &kFailing, &kAbsent})
      catalog.add_descriptor(d);
    plugins = std::make_unique<PluginSet>(config, std::move(catalog));
    stage = std::make_unique<AssessmentStage>(*plugins, config.assessors);
  }
};

const AssessorResult& result_of(const Assessment& a, const std::string& name) {
  for (const auto& r : a.assessors)
    if (r.name == name) return r;
  FAIL("no result for " << name);
  return a.assessors.front();
}

}  // namespace

TEST_CASE("assessors run in parallel") {
  Stage s(
      "assessors:\n  enabled: [sleepy, sleepy2]\n  settings: {sleepy: {sleep_ms: 300}, sleepy2: "
      "{sleep_ms: 300}}\n");
  auto start = Clock::now();
  Assessment a = s.stage->assess("x = 1\n", "python", "m.py");
  auto took = Clock::now() - start;
  CHECK(took >= std::chrono::milliseconds(290));
  CHECK(took < std::chrono::milliseconds(550));
  CHECK(result_of(a, "sleepy").status == "ok");
  CHECK(result_of(a, "sleepy2").status == "ok");
  REQUIRE(a.findings.size() == 1);  // same line and category from two assessors: folded
  CHECK(a.findings[0].also_reported_by.size() == 1);
}

TEST_CASE("duration_ms is each assessor's own time, not the time it waited to be collected") {
  // The stage collects answers in the order of `enabled`: a fast assessor
  // listed after a slow one finishes long before it is collected.
  Stage s(
      "assessors:\n  enabled: [sleepy, sleepy2]\n  settings: {sleepy: {sleep_ms: 600}, sleepy2: "
      "{sleep_ms: 30}}\n");
  Assessment a = s.stage->assess("x = 9\n", "python", "m.py");
  REQUIRE(result_of(a, "sleepy").status == "ok");
  REQUIRE(result_of(a, "sleepy2").status == "ok");
  CHECK(result_of(a, "sleepy").duration_ms >= 590);
  CHECK(result_of(a, "sleepy").duration_ms < 900);
  CHECK(result_of(a, "sleepy2").duration_ms >= 25);
  CHECK(result_of(a, "sleepy2").duration_ms < 200);  // was ~600: the slow one's time

  // Several requests at once on two cores: each still reports about its own 30 ms.
  Stage many("assessors:\n  enabled: [sleepy2]\n  settings: {sleepy2: {sleep_ms: 30}}\n");
  std::vector<std::thread> threads;
  std::atomic<int> off{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      Assessment b = many.stage->assess("y = " + std::to_string(t) + "\n", "python", "m.py");
      auto ms = result_of(b, "sleepy2").duration_ms;
      if (ms < 25 || ms >= 200) ++off;
    });
  for (auto& t : threads) t.join();
  CHECK(off == 0);
}

TEST_CASE("a timed-out assessor reports the time it ran, about the deadline") {
  Stage s(
      "assessors:\n  enabled: [sleepy]\n  deadline: 200ms\n  settings: {sleepy: {sleep_ms: "
      "3000}}\n");
  Assessment a = s.stage->assess("x = 8\n", "python", "m.py");
  REQUIRE(result_of(a, "sleepy").status == "timeout");
  CHECK(result_of(a, "sleepy").duration_ms >= 190);
  CHECK(result_of(a, "sleepy").duration_ms < 600);
}

TEST_CASE("probes of several assessors run at once, and are remembered") {
  Stage s("assessors:\n  enabled: [slowprobe, slowprobe2, sleepy]\n");
  auto start = Clock::now();
  Assessment a = s.stage->assess("p = 1\n", "python", "m.py");
  auto took = Clock::now() - start;
  CHECK(result_of(a, "slowprobe").status == "ok");
  CHECK(result_of(a, "slowprobe2").status == "ok");
  CHECK(result_of(a, "slowprobe2").tool_version == "slow 1");
  CHECK(took >= std::chrono::milliseconds(290));
  CHECK(took < std::chrono::milliseconds(550));  // one after the other: 600 ms
  start = Clock::now();
  s.stage->assess("p = 2\n", "python", "m.py");
  CHECK(Clock::now() - start < std::chrono::milliseconds(200));  // remembered for 5 s
}

TEST_CASE("an assessor past its deadline is a timeout, and the stage does not wait for it") {
  Stage s(
      "assessors:\n  enabled: [sleepy]\n  deadline: 200ms\n  settings: {sleepy: {sleep_ms: "
      "3000}}\n");
  auto start = Clock::now();
  Assessment a = s.stage->assess("x = 2\n", "python", "m.py");
  CHECK(Clock::now() - start < std::chrono::milliseconds(800));
  CHECK(result_of(a, "sleepy").status == "timeout");
  CHECK_THAT(result_of(a, "sleepy").reason, Catch::Contains("200 ms"));
  CHECK(a.findings.empty());
}

TEST_CASE("failed, unavailable and missing assessors say so, never 'no findings'") {
  Stage s("assessors:\n  enabled: [failing, absent, bandit, sleepy]\n");
  Assessment a = s.stage->assess("x = 3\n", "python", "m.py");
  CHECK(result_of(a, "failing").status == "failed");
  CHECK_THAT(result_of(a, "failing").reason, Catch::Contains("tool crashed"));
  CHECK(result_of(a, "absent").status == "unavailable");
  CHECK_THAT(result_of(a, "absent").reason, Catch::Contains("/nowhere"));
  CHECK(result_of(a, "bandit").status == "unavailable");
  CHECK_THAT(result_of(a, "bandit").reason, Catch::Contains("not installed"));
  CHECK(result_of(a, "sleepy").status == "ok");
  CHECK(a.to_json()["assessors"].size() == 4);
}

TEST_CASE("the cache answers repeated code without calling the assessor, within its bound") {
  Stage s("assessors:\n  enabled: [sleepy]\n  cache: {max_entries: 2, max_bytes: 0}\n");
  g_calls = 0;
  auto first = s.stage->assess("a = 1\n", "python", "m.py");
  CHECK_FALSE(result_of(first, "sleepy").cached);
  auto again = s.stage->assess("a = 1\n", "python", "m.py");
  CHECK(result_of(again, "sleepy").cached);
  CHECK(g_calls == 1);
  CHECK(again.findings == first.findings);
  s.stage->assess("b = 1\n", "python", "m.py");
  s.stage->assess("c = 1\n", "python", "m.py");  // evicts "a = 1"
  CHECK(g_calls == 3);
  CHECK_FALSE(result_of(s.stage->assess("a = 1\n", "python", "m.py"), "sleepy").cached);
  CHECK(g_calls == 4);

  Stage off("assessors:\n  enabled: [sleepy]\n  cache: {enabled: false}\n");
  off.stage->assess("d = 1\n", "python", "m.py");
  CHECK_FALSE(result_of(off.stage->assess("d = 1\n", "python", "m.py"), "sleepy").cached);
}

TEST_CASE("failures are not cached") {
  Stage s("assessors:\n  enabled: [failing]\n");
  s.stage->assess("e = 1\n", "python", "m.py");
  CHECK(result_of(s.stage->assess("e = 1\n", "python", "m.py"), "failing").status == "failed");
}

namespace {

std::vector<fs::path> entries_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".entry") out.push_back(e.path());
  return out;
}

std::uint64_t entry_bytes(const fs::path& dir) {
  std::uint64_t total = 0;
  for (const auto& e : entries_in(dir)) total += fs::file_size(e);
  return total;
}

}  // namespace

TEST_CASE("the cache on disk answers another stage on the same folder") {
  test::TempDir shared;
  const fs::path folder = shared.path() / "assessments";  // made by the cache
  const std::string yaml = "assessors:\n  enabled: [sleepy]\n";
  g_calls = 0;
  Assessment first = Stage(yaml, folder).stage->assess("f = 1\n", "python", "m.py");
  CHECK_FALSE(result_of(first, "sleepy").cached);
  REQUIRE(entries_in(folder).size() == 1);
  CHECK((fs::status(folder).permissions() & (fs::perms::group_all | fs::perms::others_all)) ==
        fs::perms::none);

  Stage second(yaml, folder);  // a new stage: its memory is empty
  Assessment again = second.stage->assess("f = 1\n", "python", "m.py");
  CHECK(result_of(again, "sleepy").cached);
  CHECK(g_calls == 1);
  CHECK(again.findings == first.findings);
  // Other code, or the same code for another language, is not the same entry.
  CHECK_FALSE(result_of(second.stage->assess("f = 2\n", "python", "m.py"), "sleepy").cached);
  CHECK(g_calls == 2);

  // cache.enabled: false turns the disk cache off too.
  Stage off("assessors:\n  enabled: [sleepy]\n  cache: {enabled: false}\n", folder);
  CHECK_FALSE(result_of(off.stage->assess("f = 1\n", "python", "m.py"), "sleepy").cached);
}

TEST_CASE("a damaged entry on disk is ignored, removed and recomputed") {
  test::TempDir shared;
  const std::string yaml = "assessors:\n  enabled: [sleepy]\n  cache: {max_entries: 0}\n";
  Stage s(yaml, shared.path());
  Assessment good = s.stage->assess("g = 1\n", "python", "m.py");
  REQUIRE(entries_in(shared.path()).size() == 1);
  fs::path entry = entries_in(shared.path())[0];
  const std::string sound = test::read_file(entry);
  s.stage->assess("g = 2\n", "python", "m.py");  // another entry, sound, of the same assessor
  std::string other;
  for (const auto& e : entries_in(shared.path()))
    if (e != entry) other = test::read_file(e);
  REQUIRE_FALSE(other.empty());

  std::string flipped = sound;
  flipped[flipped.size() - 5] ^= 0x20;  // one bit in the findings
  std::string longer = sound;
  longer.insert(longer.size() - 1, " ");  // valid JSON, wrong length
  const std::vector<std::pair<std::string, std::string>> damages = {
      {"truncated", sound.substr(0, sound.size() / 2)},
      {"empty", ""},
      {"one bit flipped", flipped},
      {"a byte added", longer},
      {"garbage",
       "\x7f"
       "ELF not a cache entry at all"},
      {"another key's entry", other}};
  for (const auto& [what, bytes] : damages) {
    SECTION(what) {
      {
        std::ofstream out(entry, std::ios::binary | std::ios::trunc);
        out << bytes;
      }
      g_calls = 0;
      Assessment a = s.stage->assess("g = 1\n", "python", "m.py");
      CHECK_FALSE(result_of(a, "sleepy").cached);
      CHECK(g_calls == 1);
      CHECK(a.findings == good.findings);
      // Replaced by a sound entry, which the next request trusts.
      CHECK(test::read_file(entry) == sound);
      CHECK(result_of(s.stage->assess("g = 1\n", "python", "m.py"), "sleepy").cached);
      CHECK(g_calls == 1);
    }
  }
}

TEST_CASE("the cache on disk keeps its bound in bytes, dropping the least recently used") {
  test::TempDir shared;
  Stage s("assessors:\n  enabled: [sleepy]\n  cache: {max_entries: 0, max_bytes: 4KiB}\n",
          shared.path());
  s.stage->assess("keep = 0\n", "python", "m.py");
  for (int i = 1; i <= 60; ++i) {
    s.stage->assess("x = " + std::to_string(i) + "\n", "python", "m.py");
    // Used again and again: the most recently used, so never evicted.
    REQUIRE(result_of(s.stage->assess("keep = 0\n", "python", "m.py"), "sleepy").cached);
    REQUIRE(entry_bytes(shared.path()) <= 4096);
  }
  CHECK(entries_in(shared.path()).size() >= 4);
  CHECK(result_of(s.stage->assess("x = 60\n", "python", "m.py"), "sleepy").cached);
  CHECK_FALSE(result_of(s.stage->assess("x = 1\n", "python", "m.py"), "sleepy").cached);
}

TEST_CASE("only ok results go to disk, and a folder others may write is not used") {
  test::TempDir shared;
  Stage failing("assessors:\n  enabled: [failing]\n", shared.path());
  failing.stage->assess("h = 1\n", "python", "m.py");
  CHECK(entries_in(shared.path()).empty());

  test::TempDir open_dir;
  fs::permissions(open_dir.path(), fs::perms::all);  // 0777: anyone could plant results
  Stage s("assessors:\n  enabled: [sleepy]\n", open_dir.path());
  s.stage->assess("h = 2\n", "python", "m.py");
  CHECK(entries_in(open_dir.path()).empty());
  Stage again("assessors:\n  enabled: [sleepy]\n", open_dir.path());
  CHECK_FALSE(result_of(again.stage->assess("h = 2\n", "python", "m.py"), "sleepy").cached);
}

TEST_CASE("merging drops exact duplicates and folds other assessors' reports of the same thing") {
  auto finding = [](const char* assessor, const char* rule, Severity s, const char* category,
                    int line) {
    Finding f;
    f.assessor = assessor;
    f.rule_id = rule;
    f.severity = s;
    f.category = category;
    f.line = line;
    return f;
  };
  auto merged =
      merge_findings({finding("bandit", "B605", Severity::kLow, "command-execution", 3),
                      finding("heuristics", "h.shell", Severity::kCritical, "command-execution", 3),
                      finding("heuristics", "h.shell", Severity::kCritical, "command-execution", 3),
                      finding("heuristics", "h.net", Severity::kMedium, "network", 3),
                      finding("bandit", "B102", Severity::kMedium, "code-execution", 1)});
  REQUIRE(merged.size() == 3);
  CHECK(merged[0].line == 1);
  CHECK(merged[1].rule_id == "h.shell");
  CHECK(merged[1].severity == Severity::kCritical);
  CHECK(merged[1].also_reported_by == std::vector<std::string>{"bandit B605"});
  CHECK(merged[2].rule_id == "h.net");
}

TEST_CASE("many threads assess at once") {
  Stage s("assessors:\n  enabled: [sleepy, sleepy2]\n  settings: {sleepy: {sleep_ms: 5}}\n");
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        Assessment a = s.stage->assess(
            "t" + std::to_string(t % 3) + " = " + std::to_string(i % 4) + "\n", "python", "m.py");
        if (a.assessors.size() != 2 || a.assessors[0].status != "ok" ||
            a.assessors[1].status != "ok")
          ++bad;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(bad == 0);
}
