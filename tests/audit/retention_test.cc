// Retention: old segments deleted under a signed retention anchor; what
// remains verifies, proves inclusion and accepts new records, and every
// attack on the cut is caught.
#include <warden/error.h>

#include <bit>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "audit/log_fixture.h"
#include "audit/retention.h"
#include "support/process.h"

using namespace warden;
using namespace warden::audit;
using namespace warden::audit::test_support;
namespace fs = std::filesystem;

namespace {

// A log spread over many small segments (each holds about 3 records).
AuditConfig small_segments(const fs::path& dir) {
  AuditConfig c = config_in(dir);
  c.segment_bytes = 900;
  return c;
}

RetentionResult retain(const AuditConfig& c, RetentionRule rule) {
  auto log = AuditLog::open(c);
  RetentionResult r = log->retain(rule);
  log->close();
  return r;
}

Checkpoint checkpoint_of(const AuditConfig& c) {
  return read_checkpoint(test::read_file(c.directory / kCheckpointFile),
                         read_verifier_key(c.public_key));
}

test::ProcessResult warden_audit(const fs::path& dir, const AuditConfig& c,
                                 std::vector<std::string> args) {
  std::ofstream(dir / "none.yaml") << "log_level: warn\n";
  std::vector<std::string> argv = {
      test::warden_binary(), "--config",     (dir / "none.yaml").string(), "audit", "--dir",
      c.directory.string(),  "--public-key", c.public_key.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_process(argv);
}

}  // namespace

TEST_CASE("a pruned tree gives the same roots and proofs as the full one, or none") {
  std::vector<Hash> leaves;
  for (int i = 0; i < 40; ++i) leaves.push_back(leaf_hash("leaf " + std::to_string(i)));
  for (std::uint64_t base = 1; base < 40; ++base) {
    CompactTree prefix;
    for (std::uint64_t i = 0; i < base; ++i) prefix.append(leaves[i]);
    PrunedLeaves pruned{base, prefix.frontier(), {leaves.begin() + base, leaves.end()}};
    for (std::uint64_t size = base; size <= 40; ++size) {
      INFO("base " << base << ", size " << size);
      REQUIRE(tree_root(pruned, size) == tree_root(leaves, size));
      for (std::uint64_t index = base; index < size; ++index)
        REQUIRE(inclusion_proof(pruned, index, size) == inclusion_proof(leaves, index, size));
      for (std::uint64_t old = 1; old < size; ++old) {
        // Either the very proof the full tree gives, or a refusal: never a wrong one.
        std::optional<std::vector<Hash>> proof;
        std::string refusal;
        try {
          proof = consistency_proof(pruned, old, size);
        } catch (const Error& e) {
          refusal = e.what();
        }
        if (proof) {
          REQUIRE(*proof == consistency_proof(leaves, old, size));
        } else {
          CHECK(old < base);
          CHECK_THAT(refusal, Catch::Contains("retention cut"));
        }
      }
    }
    // A root inside the deleted part that the frontier does not hold is refused.
    if (base > 2 && std::popcount(base) > 1) CHECK_THROWS_AS(tree_root(pruned, 1), Error);
  }
}

TEST_CASE("a retention anchor is parsed strictly") {
  CompactTree tree;
  for (int i = 0; i < 11; ++i) tree.append(leaf_hash(std::to_string(i)));
  RetentionAnchor a{"warden.local/audit", 11, tree.root(), 5, tree.frontier().back(),
                    tree.frontier()};
  std::string text = retention_anchor_text(a);
  RetentionAnchor back = parse_retention_anchor(text);
  CHECK(back.size == 11);
  CHECK(back.first_segment == 5);
  CHECK(back.frontier == a.frontier);
  // Every changed byte is refused by the parser alone, except in the origin
  // (free text, checked against the configuration) and the size (a size with
  // as many frontier subtrees hashes the same): there only the signature
  // tells, which "attacks on a log after retention" checks bit by bit.
  std::size_t size_line_end = text.find('\n', a.origin.size() + 1);
  for (std::size_t i = size_line_end; i < text.size(); ++i) {
    std::string damaged = text;
    damaged[i] = static_cast<char>(damaged[i] == '1' ? '2' : '1');
    INFO("byte " << i);
    CHECK_THROWS_AS(parse_retention_anchor(damaged), Error);
  }
  CHECK_THROWS_AS(parse_retention_anchor(text.substr(0, text.size() - 1)), Error);
  a.frontier.pop_back();
  CHECK_THROWS_WITH(parse_retention_anchor(retention_anchor_text(a)),
                    Catch::Contains("frontier lines"));
}

TEST_CASE("after retention the rest verifies, proves inclusion and takes new records") {
  test::TempDir dir;
  auto c = small_segments(dir.path());
  write_log(c, 30);
  REQUIRE(fs::exists(segment(c, 6)));
  Scan before = scan_log(c.directory, c.origin);
  REQUIRE(verify(c).intact);

  RetentionResult r = retain(c, {.before_segment = 4});
  REQUIRE(r.removed == std::vector<std::string>{segment_name(1), segment_name(2), segment_name(3)});
  CHECK(r.first_kept_segment == 4);
  CHECK(r.cut_index == before.segments[3].first_index);
  for (int seq = 1; seq <= 3; ++seq) CHECK_FALSE(fs::exists(segment(c, seq)));
  CHECK(fs::exists(c.directory / kRetentionFile));

  auto report = verify(c);
  INFO(report.reason);
  REQUIRE(report.intact);
  CHECK(report.deleted == r.cut_index);
  CHECK(report.records == 31);  // 30 + the retention record
  Scan after = scan_log(c.directory, c.origin);
  CHECK(after.records.front().index == r.cut_index);
  CHECK(after.records.back().kind == kind::kRetention);
  CHECK(after.records.back().data["removed_segments"].size() == 3);
  // The roots of every size from the cut on are those of the full log.
  for (std::uint64_t size = r.cut_index; size <= 30; ++size)
    CHECK(tree_root(after.tree, size) == tree_root(before.tree, size));

  // Inclusion of every kept record in the signed checkpoint.
  Checkpoint cp = checkpoint_of(c);
  REQUIRE(cp.size == 31);
  for (std::uint64_t i = r.cut_index; i < cp.size; ++i) {
    Hash leaf = after.tree.leaves[i - after.tree.base];
    CHECK(verify_inclusion(i, cp.size, leaf, inclusion_proof(after.tree, i, cp.size), cp.root));
  }
  auto cli = warden_audit(dir.path(), c,
                          {"prove", "inclusion", std::to_string(r.cut_index + 1), "--size", "31"});
  CHECK(cli.exit_code == 0);
  CHECK_THAT(cli.out, Catch::Contains("\"verified\": true"));
  cli = warden_audit(dir.path(), c, {"prove", "inclusion", "0"});
  CHECK(cli.exit_code == 2);
  CHECK_THAT(cli.err, Catch::Contains("deleted by retention"));
  cli = warden_audit(dir.path(), c, {"verify"});
  CHECK(cli.exit_code == 0);
  CHECK_THAT(cli.out, Catch::Contains("deleted under the signed retention anchor"));

  // The writer reopens from the anchor and goes on.
  write_log(c, 10, 30);
  report = verify(c);
  INFO(report.reason);
  CHECK(report.intact);
  CHECK(report.records == 41);
  CHECK(checkpoint_of(c).size == 41);
}

TEST_CASE("attacks on a log after retention are caught") {
  test::TempDir dir;
  auto c = small_segments(dir.path());
  write_log(c, 30);
  fs::copy(c.directory, dir.path() / "before-retention", fs::copy_options::recursive);
  RetentionResult r = retain(c, {.before_segment = 4});
  REQUIRE(r.first_kept_segment == 4);
  write_log(c, 5, 30);
  REQUIRE(verify(c).intact);
  std::string kept_checkpoint = test::read_file(c.directory / kCheckpointFile);
  const fs::path anchor_file = c.directory / kRetentionFile;
  const std::string anchor = test::read_file(anchor_file);

  SECTION("the first kept segment deleted too") {
    fs::remove(segment(c, 4));
    auto v = verify(c);
    CHECK_FALSE(v.intact);
    CHECK_THAT(v.reason, Catch::Contains("segment 4, the first kept after the retention cut"));
  }
  SECTION("a later kept segment deleted") {
    fs::remove(segment(c, 6));
    auto v = verify(c);
    CHECK_FALSE(v.intact);
    CHECK_THAT(v.reason, Catch::Contains("segment 7 where 6 was expected"));
  }
  SECTION("the anchor deleted: the log no longer starts at record 0") {
    fs::remove(anchor_file);
    auto v = verify(c);
    CHECK_FALSE(v.intact);
    CHECK_THAT(v.reason, Catch::Contains("segment 4 where 1 was expected"));
    CHECK_THROWS_AS(AuditLog::open(c), Error);
  }
  SECTION("the anchor's cut moved, signature kept") {
    // Claim more was deleted: first kept segment 5. Only the signature can tell.
    std::string forged = anchor;
    std::size_t at = forged.find("retention 4 ");
    REQUIRE(at != std::string::npos);
    forged[at + 10] = '5';
    std::ofstream(anchor_file, std::ios::trunc) << forged;
    fs::remove(segment(c, 4));
    auto v = verify(c);
    CHECK_FALSE(v.intact);
    CHECK_THAT(v.reason, Catch::Contains("retention anchor"));
    CHECK_THAT(v.reason, Catch::Contains("signature does not match"));
    CHECK_THROWS_AS(AuditLog::open(c), Error);
  }
  SECTION("an anchor signed by another key") {
    AuditConfig other = config_in(dir.path() / "other");
    NoteSigner::generate(other.signing_key, other.public_key, c.origin);
    NoteSigner signer = NoteSigner::load(other.signing_key, c.origin);
    std::string text = note_text_unverified(anchor);
    std::ofstream(anchor_file, std::ios::trunc) << signer.sign(text);
    auto v = verify(c);
    CHECK_FALSE(v.intact);
    CHECK_THAT(v.reason, Catch::Contains("retention anchor"));
  }
  SECTION("any bit of the anchor flipped") {
    for (std::size_t bit = 0; bit < anchor.size() * 8; ++bit) {
      std::string damaged = anchor;
      damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
      std::ofstream(anchor_file, std::ios::binary | std::ios::trunc) << damaged;
      if (verify(c).intact)
        FAIL_CHECK("bit " << bit << " of the retention anchor flipped undetected");
    }
  }
  SECTION("the first kept record changed, checksum recomputed") {
    std::string bytes = test::read_file(segment(c, 4));
    auto frames = frames_of(bytes, encode_segment_header(4, r.cut_index, c.origin).size());
    std::string changed = frames[0].payload;
    changed.replace(changed.find("\"LOW\""), 5, "\"LOX\"");
    std::string rebuilt =
        bytes.substr(0, frames[0].offset) + frame(changed) + bytes.substr(frames[1].offset);
    std::ofstream(segment(c, 4), std::ios::binary | std::ios::trunc) << rebuilt;
    auto v = verify(c);
    CHECK_FALSE(v.intact);
    CHECK(v.bad_index == r.cut_index);
    CHECK_THAT(v.reason, Catch::Contains("changed after it was written"));
  }
  SECTION("rolled back to the copy from before the retention") {
    fs::remove_all(c.directory);
    fs::copy(dir.path() / "before-retention", c.directory, fs::copy_options::recursive);
    CHECK(verify(c).intact);  // self-consistent on its own...
    auto v = verify(c, kept_checkpoint);
    CHECK_FALSE(v.intact);  // ...but shorter than what the verifier kept
    CHECK_THAT(v.reason, Catch::Contains("rolled back"));
  }
  SECTION("an older anchor replayed after a second retention") {
    RetentionResult second = retain(c, {.before_segment = 6});
    REQUIRE(second.first_kept_segment == 6);
    REQUIRE(verify(c).intact);
    std::ofstream(anchor_file, std::ios::trunc) << anchor;
    auto v = verify(c);
    CHECK_FALSE(v.intact);
    CHECK_THAT(v.reason, Catch::Contains("segment 4"));
  }
}

TEST_CASE("a checkpoint kept from before the cut cannot vouch for the log after it") {
  test::TempDir dir;
  auto c = small_segments(dir.path());
  write_log(c, 7);
  std::string early = test::read_file(c.directory / kCheckpointFile);
  write_log(c, 20, 7);
  retain(c, {.before_segment = 5});
  auto v = verify(c, early);
  CHECK_FALSE(v.intact);
  CHECK_THAT(v.reason, Catch::Contains("keep a checkpoint exported after the retention"));
}

TEST_CASE("a retention interrupted after its anchor is finished when the log opens") {
  test::TempDir dir;
  auto c = small_segments(dir.path());
  write_log(c, 30);
  std::string old_checkpoint = test::read_file(c.directory / kCheckpointFile);
  fs::copy(segment(c, 1), dir.path() / "seg1");
  fs::copy(segment(c, 2), dir.path() / "seg2");
  retain(c, {.before_segment = 3});
  // As if the crash came after the anchor: the old segments and checkpoint remain.
  fs::copy(dir.path() / "seg1", segment(c, 1));
  fs::copy(dir.path() / "seg2", segment(c, 2));
  std::ofstream(c.directory / kCheckpointFile, std::ios::trunc) << old_checkpoint;
  auto v = verify(c);
  INFO(v.reason);
  CHECK(v.intact);
  write_log(c, 1, 30);
  CHECK_FALSE(fs::exists(segment(c, 1)));
  CHECK_FALSE(fs::exists(segment(c, 2)));
  CHECK(verify(c).intact);
}

TEST_CASE("automatic retention keeps the log under max_bytes and older than max_age") {
  test::TempDir dir;
  SECTION("max_bytes") {
    auto c = small_segments(dir.path());
    c.retention_max_bytes = 4000;
    write_log(c, 80);
    std::uint64_t bytes = 0;
    int segments = 0;
    for (const auto& e : fs::directory_iterator(c.directory))
      if (e.path().extension() == ".wal") bytes += fs::file_size(e.path()), ++segments;
    CHECK(bytes <= 4000 + c.segment_bytes);
    CHECK_FALSE(fs::exists(segment(c, 1)));
    auto v = verify(c);
    INFO(v.reason);
    CHECK(v.intact);
    CHECK(v.records > 80);
    CHECK(v.deleted > 0);
    bool saw_retention = false;
    for (const auto& rec : scan_log(c.directory, c.origin).records)
      saw_retention = saw_retention || rec.kind == kind::kRetention;
    CHECK(saw_retention);
  }
  SECTION("max_age") {
    auto c = small_segments(dir.path());
    write_log(c, 12);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    c.retention_max_age_ms = 20;
    write_log(c, 6, 12);  // starting new segments triggers the check
    CHECK_FALSE(fs::exists(segment(c, 1)));
    auto v = verify(c);
    INFO(v.reason);
    CHECK(v.intact);
    CHECK(v.deleted >= 12);
  }
}

TEST_CASE("warden audit retain deletes by segment, age or size, and refuses no rule") {
  test::TempDir dir;
  auto c = small_segments(dir.path());
  write_log(c, 20);
  auto none = warden_audit(dir.path(), c, {"retain"});
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, Catch::Contains("--before-segment"));
  std::ofstream(dir.path() / "w.yaml")
      << "log_level: warn\naudit:\n  signing_key: " << c.signing_key.string() << "\n";
  auto cli = test::run_process({test::warden_binary(), "--config", (dir.path() / "w.yaml").string(),
                                "audit", "--dir", c.directory.string(), "retain",
                                "--before-segment", "3"});
  CHECK(cli.exit_code == 0);
  CHECK_THAT(cli.out, Catch::Contains("deleted 2 segment(s)"));
  CHECK(verify(c).intact);
  cli =
      test::run_process({test::warden_binary(), "--config", (dir.path() / "w.yaml").string(),
                         "audit", "--dir", c.directory.string(), "retain", "--older-than", "720h"});
  CHECK(cli.exit_code == 0);
  CHECK_THAT(cli.out, Catch::Contains("nothing to delete"));
}

TEST_CASE("automatic retention while many threads append loses no kept record") {
  test::TempDir dir;
  auto c = small_segments(dir.path());
  c.durability = "group";
  c.retention_max_bytes = 6000;
  constexpr int kThreads = 6, kEach = 150;
  {
    auto log = AuditLog::open(c);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) log->append(kind::kDecision, {{"thread", t}, {"i", i}});
      });
    for (auto& t : threads) t.join();
  }
  auto v = verify(c);
  INFO(v.reason);
  REQUIRE(v.intact);
  CHECK(v.deleted > 0);
  CHECK(v.records >= kThreads * kEach);
  // The kept records are a consecutive tail of the log: each thread's kept
  // records are in order without gaps and run to its last one.
  Scan scan = scan_log(c.directory, c.origin);
  std::vector<int> next(kThreads, -1);
  for (const auto& r : scan.records) {
    if (r.kind != kind::kDecision) continue;
    int t = r.data["thread"], i = r.data["i"];
    if (next[t] >= 0) CHECK(i == next[t]);
    next[t] = i + 1;
  }
  int seen = 0;
  for (int t = 0; t < kThreads; ++t)
    if (next[t] >= 0) {
      CHECK(next[t] == kEach);
      ++seen;
    }
  CHECK(seen > 0);
}
