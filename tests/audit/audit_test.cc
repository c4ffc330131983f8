// The audit log: RFC 6962 known answers, proofs, the tamper matrix, crash
// safety under SIGKILL, concurrent appends and a full disk.
#define CATCH_CONFIG_MAIN
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include <warden/error.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "audit/audit_log.h"
#include "audit/audit_reader.h"
#include "audit/log_fixture.h"
#include "audit/log_format.h"
#include "audit/merkle.h"
#include "support/process.h"

using namespace warden;
using namespace warden::audit;
using namespace warden::audit::test_support;
namespace fs = std::filesystem;

TEST_CASE("RFC 6962 known answers") {
  CHECK(to_hex(tree_root(std::vector<Hash>{}, 0)) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(to_hex(leaf_hash("")) ==
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  const char* inputs[] = {"",
                          "00",
                          "10",
                          "2021",
                          "3031",
                          "40414243",
                          "5051525354555657",
                          "606162636465666768696a6b6c6d6e6f"};
  const char* roots[] = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                         "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                         "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                         "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                         "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                         "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                         "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                         "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
  std::vector<Hash> leaves;
  CompactTree compact;
  for (int i = 0; i < 8; ++i) {
    leaves.push_back(leaf_hash(hex_to_bytes(inputs[i])));
    compact.append(leaves.back());
    CHECK(to_hex(tree_root(leaves, leaves.size())) == roots[i]);
    CHECK(to_hex(compact.root()) == roots[i]);
  }
  // Leaf and node domains are separate.
  Hash a = leaf_hash("a"), b = leaf_hash("b");
  CHECK(node_hash(a, b) !=
        leaf_hash(std::string(a.begin(), a.end()) + std::string(b.begin(), b.end())));
  CHECK(node_hash(a, b) != node_hash(b, a));
}

TEST_CASE("inclusion and consistency proofs verify, and damaged ones do not") {
  std::vector<Hash> leaves;
  for (int i = 0; i < 40; ++i) leaves.push_back(leaf_hash("leaf " + std::to_string(i)));
  for (std::size_t size = 1; size <= 40; ++size) {
    Hash root = tree_root(leaves, size);
    for (std::size_t index = 0; index < size; ++index) {
      auto proof = inclusion_proof(leaves, index, size);
      REQUIRE(verify_inclusion(index, size, leaves[index], proof, root));
      CHECK_FALSE(verify_inclusion(index, size, leaves[(index + 1) % 40], proof, root));
      if (size > 1)
        CHECK_FALSE(verify_inclusion((index + 1) % size, size, leaves[index], proof, root));
      if (!proof.empty()) {
        auto damaged = proof;
        damaged[0][0] ^= 1;
        CHECK_FALSE(verify_inclusion(index, size, leaves[index], damaged, root));
      }
    }
    for (std::size_t old = 1; old < size; ++old) {
      auto proof = consistency_proof(leaves, old, size);
      Hash old_root = tree_root(leaves, old);
      REQUIRE(verify_consistency(old, size, old_root, root, proof));
      CHECK_FALSE(verify_consistency(old, size, root, old_root, proof));
      CHECK_FALSE(verify_consistency(old, size, old_root, root, {}));
      auto damaged = proof;
      damaged.back()[5] ^= 0x40;
      CHECK_FALSE(verify_consistency(old, size, old_root, root, damaged));
    }
  }
}

TEST_CASE("an intact log verifies, with every record covered by the signed checkpoint") {
  test::TempDir dir;
  auto c = config_in(dir.path());
  write_log(c, 20);
  auto report = verify(c);
  CHECK(report.intact);
  CHECK(report.records == 20);
  CHECK(report.checkpoint_size == 20);
  CHECK(fs::status(c.signing_key).permissions() ==
        (fs::perms::owner_read | fs::perms::owner_write));
}

TEST_CASE("tamper matrix: each damage is found, with the right record and reason") {
  test::TempDir dir;
  auto c = config_in(dir.path());
  write_log(c, 10);
  const std::string original = test::read_file(segment(c));
  auto frames = frames_of(original, header_size(c));
  REQUIRE(frames.size() == 10);
  auto rewrite = [&](const std::string& bytes) {
    std::ofstream(segment(c), std::ios::binary | std::ios::trunc) << bytes;
  };
  auto with_frames = [&](const std::vector<std::string>& payloads) {
    std::string bytes = original.substr(0, header_size(c));
    for (const auto& p : payloads) bytes += frame(p);
    return bytes;
  };
  std::vector<std::string> payloads;
  for (const auto& f : frames) payloads.push_back(f.payload);

  SECTION("a changed field, checksum left alone") {
    std::string bytes = original;
    std::size_t at = bytes.find("\"mai\"", frames[4].offset);
    bytes[at + 1] = 'M';
    rewrite(bytes);
    auto r = verify(c);
    CHECK_FALSE(r.intact);
    CHECK(r.bad_index == 4u);
    CHECK_THAT(r.reason, Catch::Contains("checksum"));
  }
  SECTION("a changed field in the metadata, checksum recomputed") {
    auto changed = payloads;
    changed[4].replace(changed[4].find("\"mai\""), 5, "\"eve\"");
    rewrite(with_frames(changed));
    auto r = verify(c);
    CHECK_FALSE(r.intact);
    CHECK(r.bad_index == 4u);
    CHECK_THAT(r.reason, Catch::Contains("changed after it was written"));
  }
  SECTION("the last record changed, checksum recomputed") {
    auto changed = payloads;
    changed[9].replace(changed[9].find("\"LOW\""), 5, "\"LOX\"");
    rewrite(with_frames(changed));
    auto r = verify(c);
    CHECK_FALSE(r.intact);
    CHECK(r.bad_index == 9u);
    CHECK_THAT(r.reason, Catch::Contains("signed checkpoint"));
  }
  SECTION("a record re-encoded with the same content, checksum recomputed") {
    auto respaced = payloads;
    respaced[9].insert(1, " ");  // still the same JSON, no longer canonical
    rewrite(with_frames(respaced));
    auto covered = verify(c);  // covered by the checkpoint: its root no longer matches
    CHECK_FALSE(covered.intact);
    CHECK(covered.bad_index == 9u);
    fs::remove(c.directory / kCheckpointFile);
    auto uncovered = verify(c);  // beyond any checkpoint: the canonical check names it
    CHECK_FALSE(uncovered.intact);
    CHECK(uncovered.bad_index == 9u);
    CHECK_THAT(uncovered.reason, Catch::Contains("canonical"));
  }
  SECTION("a deleted record") {
    auto fewer = payloads;
    fewer.erase(fewer.begin() + 3);
    rewrite(with_frames(fewer));
    auto r = verify(c);
    CHECK(r.bad_index == 3u);
    CHECK_THAT(r.reason, Catch::Contains("deleted, inserted or reordered"));
  }
  SECTION("two records reordered") {
    auto swapped = payloads;
    std::swap(swapped[5], swapped[6]);
    rewrite(with_frames(swapped));
    auto r = verify(c);
    CHECK(r.bad_index == 5u);
  }
  SECTION("a forged record inserted") {
    auto forged = payloads;
    nlohmann::json fake = nlohmann::json::parse(payloads[6]);
    fake["data"]["level"] = "BLOCKED";
    fake["id"] = "f0f0f0f0f0f0f0f0";
    forged.insert(forged.begin() + 6, fake.dump());
    rewrite(with_frames(forged));
    auto r = verify(c);
    CHECK(r.bad_index == 6u);
    CHECK_THAT(r.reason, Catch::Contains("inserted"));
  }
  SECTION("the tail truncated at every byte offset of the last three records") {
    for (std::size_t cut = frames[7].offset; cut < original.size(); ++cut) {
      rewrite(original.substr(0, cut));
      auto r = verify(c);
      INFO("cut at " << cut);
      REQUIRE_FALSE(r.intact);
      CHECK((r.reason.find("truncated") != std::string::npos ||
             r.reason.find("incomplete") != std::string::npos));
    }
  }
  SECTION("the whole log rewritten with recomputed hashes") {
    auto changed = payloads;
    std::string prev(64, '0');
    std::vector<Hash> leaves;
    for (auto& p : changed) {
      auto j = nlohmann::json::parse(p);
      j["data"]["level"] = "LOW";
      j["data"]["metadata"]["user"] = "nobody";
      j["prev"] = prev;
      p = j.dump();
      leaves.push_back(leaf_hash(p));
      prev = to_hex(leaves.back());
    }
    rewrite(with_frames(changed));
    // Keep the signature lines, put the new root in the body.
    std::string note = test::read_file(c.directory / kCheckpointFile);
    Hash root = tree_root(leaves, leaves.size());
    std::string body =
        checkpoint_text(c.origin, 10, to_base64(std::string(root.begin(), root.end())));
    std::ofstream(c.directory / kCheckpointFile, std::ios::trunc)
        << body << note.substr(note.find("\n\n") + 1);
    auto r = verify(c);
    CHECK_FALSE(r.intact);
    CHECK_THAT(r.reason, Catch::Contains("signature does not match"));
  }
}

TEST_CASE("flipping any single bit of a small log is detected") {
  test::TempDir dir;
  auto c = config_in(dir.path());
  write_log(c, 4);
  for (const fs::path& file : {segment(c), c.directory / kCheckpointFile}) {
    std::string original = test::read_file(file);
    for (std::size_t bit = 0; bit < original.size() * 8; ++bit) {
      std::string damaged = original;
      damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
      std::ofstream(file, std::ios::binary | std::ios::trunc) << damaged;
      auto r = verify(c);
      if (r.intact)
        FAIL_CHECK("bit " << bit << " of " << file.filename().string() << " flipped undetected");
    }
    std::ofstream(file, std::ios::binary | std::ios::trunc) << original;
    REQUIRE(verify(c).intact);
  }
}

TEST_CASE("swapped segments are detected") {
  test::TempDir dir;
  auto c = config_in(dir.path());
  c.segment_bytes = 600;
  write_log(c, 12);
  REQUIRE(fs::exists(segment(c, 3)));
  REQUIRE(verify(c).intact);
  fs::rename(segment(c, 2), dir.path() / "tmp");
  fs::rename(segment(c, 3), segment(c, 2));
  fs::rename(dir.path() / "tmp", segment(c, 3));
  auto r = verify(c);
  CHECK_FALSE(r.intact);
  CHECK_THAT(r.reason, Catch::Contains("segment"));
}

TEST_CASE("a rollback to an older copy is caught against a checkpoint kept elsewhere") {
  test::TempDir dir;
  auto c = config_in(dir.path());
  write_log(c, 5);
  fs::copy(c.directory, dir.path() / "old-copy", fs::copy_options::recursive);
  write_log(c, 5, 5);
  std::string kept = test::read_file(c.directory / kCheckpointFile);
  REQUIRE(verify(c, kept).intact);
  fs::remove_all(c.directory);
  fs::copy(dir.path() / "old-copy", c.directory, fs::copy_options::recursive);
  CHECK(verify(c).intact);   // self-consistent on its own...
  auto r = verify(c, kept);  // ...but not against what the verifier kept
  CHECK_FALSE(r.intact);
  CHECK_THAT(r.reason, Catch::Contains("rolled back"));
  std::ofstream(dir.path() / "kept") << kept;
  std::ofstream(dir.path() / "none.yaml") << "log_level: warn\n";
  auto cli = test::run_process({test::warden_binary(), "--config",
                                (dir.path() / "none.yaml").string(), "audit", "--dir",
                                c.directory.string(), "--public-key", c.public_key.string(),
                                "verify", "--trusted-checkpoint", (dir.path() / "kept").string()});
  CHECK(cli.exit_code == 1);
  CHECK_THAT(cli.out, Catch::Contains("NOT INTACT: rolled back"));
}

TEST_CASE("a missing folder, a folder with no segment and a shortened log are not intact") {
  test::TempDir dir;
  auto c = config_in(dir.path());
  write_log(c, 6);
  std::string kept = test::read_file(c.directory / kCheckpointFile);
  std::ofstream(dir.path() / "kept") << kept;
  std::ofstream(dir.path() / "none.yaml") << "log_level: warn\n";
  auto cli_verify = [&](const fs::path& folder, bool with_trusted) {
    std::vector<std::string> argv{test::warden_binary(),
                                  "--config",
                                  (dir.path() / "none.yaml").string(),
                                  "audit",
                                  "--dir",
                                  folder.string(),
                                  "--public-key",
                                  c.public_key.string(),
                                  "verify"};
    if (with_trusted) {
      argv.push_back("--trusted-checkpoint");
      argv.push_back((dir.path() / "kept").string());
    }
    return test::run_process(argv);
  };

  SECTION("a typo in the folder") {
    auto r = verify_log(dir.path() / "audti", c.origin, read_verifier_key(c.public_key), {});
    CHECK_FALSE(r.intact);
    CHECK_THAT(r.reason, Catch::Contains("does not exist"));
    auto cli = cli_verify(dir.path() / "audti", false);
    CHECK(cli.exit_code == 1);
    CHECK_THAT(cli.out, Catch::Contains("does not exist"));
  }
  SECTION("a wiped folder") {
    for (const auto& entry : fs::directory_iterator(c.directory)) fs::remove(entry.path());
    auto r = verify(c);
    CHECK_FALSE(r.intact);
    CHECK_THAT(r.reason, Catch::Contains("no segment"));
    CHECK(cli_verify(c.directory, false).exit_code == 1);
  }
  SECTION("only the segments wiped, the checkpoint left") {
    fs::remove(segment(c));
    CHECK_FALSE(verify(c).intact);
    CHECK(cli_verify(c.directory, true).exit_code == 1);
  }
  SECTION("a fresh log that never got a record, against a trusted checkpoint of 6") {
    fs::remove_all(c.directory);
    AuditLog::open(c)->close();
    auto r = verify(c, kept);
    CHECK_FALSE(r.intact);
    CHECK_THAT(r.reason, Catch::Contains("rolled back"));
    CHECK(cli_verify(c.directory, true).exit_code == 1);
  }
}

TEST_CASE("a torn tail is cut on open, with a recovery record") {
  test::TempDir dir;
  auto c = config_in(dir.path(), GENERATE(as<std::string>{}, "every-record", "group"));
  write_log(c, 3);
  std::ofstream(segment(c), std::ios::binary | std::ios::app)
      << std::string("\x40\x00\x00\x00garb", 8);
  CHECK_FALSE(verify(c).intact);
  {
    auto log = AuditLog::open(c);
    log->close();
  }
  auto scan = scan_log(c.directory, c.origin);
  REQUIRE(scan.records.size() == 4);
  CHECK(scan.records.back().kind == kind::kRecovery);
  CHECK(verify(c).intact);
}

TEST_CASE("crash safety: SIGKILL at random moments loses no acknowledged record") {
  test::TempDir dir;
  auto c = config_in(dir.path());
  std::mt19937 rng(42);
  std::set<std::string> acknowledged;
  for (int round = 0; round < 100; ++round) {
    int ack[2];
    REQUIRE(pipe(ack) == 0);
    pid_t child = fork();
    if (child == 0) {
      close(ack[0]);
      try {
        auto log = AuditLog::open(c);
        for (int i = 0;; ++i) {
          std::string tag = std::to_string(round) + ":" + std::to_string(i);
          log->append(kind::kRunResult, {{"tag", tag}, {"padding", std::string(200, 'p')}});
          tag += "\n";
          if (write(ack[1], tag.data(), tag.size()) < 0) _exit(2);
        }
      } catch (...) {
        _exit(3);
      }
    }
    close(ack[1]);
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<int>(500, 20000)(rng)));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    std::string acks;
    char buffer[4096];
    for (ssize_t n; (n = read(ack[0], buffer, sizeof buffer)) > 0;)
      acks.append(buffer, static_cast<std::size_t>(n));
    close(ack[0]);
    for (std::size_t p = 0, nl; (nl = acks.find('\n', p)) != std::string::npos; p = nl + 1)
      acknowledged.insert(acks.substr(p, nl - p));
    auto log = AuditLog::open(c);  // recovers a torn tail if the kill left one
    log->close();
    auto report = verify(c);
    INFO("round " << round << ": " << report.reason);
    REQUIRE(report.intact);
  }
  std::set<std::string> present;
  for (const auto& r : scan_log(c.directory, c.origin).records)
    if (r.kind == kind::kRunResult) present.insert(r.data["tag"].get<std::string>());
  for (const auto& tag : acknowledged)
    if (!present.count(tag)) FAIL_CHECK("acknowledged record " << tag << " is missing");
  CHECK(acknowledged.size() > 100);
}

TEST_CASE("many threads appending at once lose nothing") {
  test::TempDir dir;
  auto c = config_in(dir.path(), "group");
  constexpr int kThreads = 8, kEach = 300;
  {
    auto log = AuditLog::open(c);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) log->append(kind::kDecision, {{"thread", t}, {"i", i}});
      });
    for (auto& t : threads) t.join();
  }
  auto scan = scan_log(c.directory, c.origin);
  REQUIRE(scan.records.size() == kThreads * kEach);
  std::vector<int> next(kThreads, 0);
  for (const auto& r : scan.records) {
    int t = r.data["thread"];
    CHECK(r.data["i"] == next[t]);  // each thread's records in the order it wrote them
    ++next[t];
  }
  CHECK(verify(c).intact);
}

TEST_CASE("queued records become durable in order, and wait_durable says when") {
  test::TempDir dir;
  auto c = config_in(dir.path(), "group");
  {
    auto log = AuditLog::open(c);
    std::uint64_t last = 0;
    for (int i = 0; i < 5000; ++i) last = log->enqueue(kind::kDecision, {{"i", i}}).ticket;
    CHECK(last == 4999);
    log->wait_durable(last);
    auto scan = scan_log(c.directory, c.origin);  // on disk already, before close
    REQUIRE(scan.records.size() == 5000);
    for (int i = 0; i < 5000; ++i) CHECK(scan.records[i].data["i"] == i);
  }
  CHECK(verify(c).intact);
}

TEST_CASE("a full disk is a clear error, leaves no corrupt segment, and stops the writer") {
  if (geteuid() != 0) {
    if (test::under_ci()) FAIL("the full-disk test mounts a tmpfs and needs root");
    WARN("skipped: mounting a small tmpfs needs root");
    return;
  }
  test::TempDir dir;
  fs::create_directories(dir.path() / "small");
  REQUIRE(mount("tmpfs", (dir.path() / "small").c_str(), "tmpfs", 0, "size=64k") == 0);
  struct Unmount {
    fs::path p;
    ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
  } unmount{dir.path() / "small"};
  auto c = config_in(dir.path() / "small");
  auto log = AuditLog::open(c);
  std::string error;
  int written = 0;
  try {
    for (;; ++written) log->append(kind::kAssessment, {{"code", std::string(1000, 'c')}});
  } catch (const warden::Error& e) {
    error = e.what();
    CHECK(e.kind() == ErrorKind::kEnvironment);
  }
  CHECK(written > 10);
  CHECK_THAT(error, Catch::Contains("No space left on device"));
  CHECK_FALSE(log->writable());
  CHECK_THAT(log->unwritable_reason(), Catch::Contains("No space left"));
  CHECK_THROWS_AS(log->append(kind::kDecision, {}), warden::Error);
  auto scan = scan_log(c.directory, c.origin);
  CHECK_FALSE(scan.problem.has_value());  // a clean prefix, no partial record
  CHECK(scan.records.size() == static_cast<std::size_t>(written));
}

TEST_CASE("the metadata read from a record's tail is what the full parser reads") {
  test::TempDir dir;
  auto c = config_in(dir.path());
  {
    auto log = AuditLog::open(c);
    // Data that imitates the metadata keys, kinds that need escapes, non-ASCII.
    log->append(kind::kDecision,
                {{"x", {{"id", "0123456789abcdef"}, {"kind", "override"}}},
                 {"s", ",\"id\":\"f\",\"index\":7,\"kind\":\"k\",\"prev\":\"0\""}});
    log->append("we\"ird\\kind", {{"text", "caf\u00e9 \u2603"}});
    log->append("k\u00e9", nlohmann::json::object());
    log->append(kind::kRunResult, {{"n", 1}, {"list", {1, 2, 3}}});
    log->close();
  }
  Scan full = scan_log(c.directory, c.origin, {.with_data = true, .canonical_from = 0});
  Scan fast = scan_log(c.directory, c.origin, {.with_data = true, .canonical_from = 1000});
  REQUIRE_FALSE(full.problem);
  REQUIRE_FALSE(fast.problem);
  REQUIRE(full.records.size() == 4);
  REQUIRE(fast.records.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(fast.records[i].index == full.records[i].index);
    CHECK(fast.records[i].id == full.records[i].id);
    CHECK(fast.records[i].time == full.records[i].time);
    CHECK(fast.records[i].kind == full.records[i].kind);
    CHECK(fast.records[i].data == full.records[i].data);
  }
  CHECK(full.records[1].kind == "we\"ird\\kind");
  CHECK(fast.tree.leaves == full.tree.leaves);
  CHECK(verify(c).intact);
}
