// warden audit keygen | verify | show | report | prove | retain | checkpoint | quarantine
#include <warden/error.h>

#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "audit/audit_log.h"
#include "audit/audit_reader.h"
#include "audit/log_format.h"
#include "audit/note_signer.h"
#include "audit/quarantine.h"
#include "audit/report.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "common/text.h"
#include "common/units.h"

namespace warden::cli {
namespace {

std::string slurp(const std::filesystem::path& p) {
  auto text = read_whole_file(p);
  if (!text) throw Error(ErrorKind::kInvalidInput, p.string() + ": cannot be read");
  return *text;
}

struct AuditOptions {
  std::string dir, public_key, trusted, out, kind, since, until, id, export_file;
  bool json = false;
  int hours = 24, limit = 0;
  std::uint64_t index = 0, size = 0, old_size = 0, new_size = 0, before_segment = 0;
  std::string older_than, max_bytes, reason;
  bool force = false;
};

}  // namespace

void add_audit_commands(CLI::App& app, Context& context) {
  static AuditOptions o;
  auto* audit = app.add_subcommand("audit", "The tamper-evident audit log");
  audit->require_subcommand(1);
  audit->add_option("--dir", o.dir, "Audit folder (default: audit.directory)");
  audit->add_option("--public-key", o.public_key, "Verifier key file (default: audit.public_key)");
  auto folder = [&context] {
    return o.dir.empty() ? context.config().audit.directory : std::filesystem::path(o.dir);
  };
  auto verifier = [&context] {
    return audit::read_verifier_key(o.public_key.empty() ? context.config().audit.public_key
                                                         : std::filesystem::path(o.public_key));
  };

  auto* keygen =
      audit->add_subcommand("keygen", "Create the Ed25519 key pair that signs checkpoints");
  keygen->add_option("--out", o.out,
                     "Private key path (default: audit.signing_key); the public key gets .pub");
  set_handler(keygen, [&context] {
    const auto& c = context.config().audit;
    std::filesystem::path key = o.out.empty() ? c.signing_key : std::filesystem::path(o.out);
    std::filesystem::path pub =
        o.out.empty() ? c.public_key : std::filesystem::path(o.out + ".pub");
    audit::NoteSigner::generate(key, pub, c.origin);
    std::cout << "private key: " << key.string() << " (mode 0600; keep it off any repository)\n"
              << "public key:  " << pub.string() << "\n"
              << audit::read_verifier_key(pub) << "\n";
    return 0;
  });

  auto* verify = audit->add_subcommand("verify", "Check that the log is intact (exit 1 if not)");
  verify->add_option("--trusted-checkpoint", o.trusted,
                     "A checkpoint kept elsewhere: catches rollback");
  verify->add_flag("--json", o.json, "Print JSON");
  set_handler(verify, [&context, folder, verifier] {
    std::optional<std::string> trusted;
    if (!o.trusted.empty()) trusted = slurp(o.trusted);
    Progress progress(!o.json && context.verbosity >= 0, "verifying the audit log");
    auto report = audit::verify_log(folder(), context.config().audit.origin, verifier(), trusted);
    progress.clear();
    if (o.json) {
      std::cout << report.to_json().dump(2) << "\n";
    } else if (report.intact) {
      std::cout << "intact: " << report.records << " records, " << report.checkpoint_size
                << " covered by the signed checkpoint";
      if (report.deleted)
        std::cout << "; records 0.." << (report.deleted - 1)
                  << " were deleted under the signed retention anchor";
      if (report.uncovered)
        std::cout << " (" << report.uncovered << " newer, not yet checkpointed)";
      std::cout << "\n";
    } else {
      std::cout << "NOT INTACT: " << report.reason << "\n";
      if (report.bad_index)
        std::cout << "first bad record: " << *report.bad_index << " (" << report.segment
                  << " at byte " << report.offset << ")\n";
    }
    return report.intact ? 0 : 1;
  });

  auto* show = audit->add_subcommand("show", "Print records");
  show->add_option("--kind", o.kind,
                   "Only this kind (assessment, decision, override, run_result, ...)");
  show->add_option("--since", o.since, "From this UTC time (2026-11-22T10:00:00Z, or a date)");
  show->add_option("--until", o.until, "Before this UTC time");
  show->add_option("--id", o.id, "The record with this id");
  show->add_option("--limit", o.limit, "At most this many, newest last");
  show->add_flag("--json", o.json, "Print JSON lines");
  set_handler(show, [&context, folder] {
    auto scan = audit::scan_log(folder(), context.config().audit.origin);
    std::vector<const audit::StoredRecord*> picked;
    for (const auto& r : scan.records) {
      if (!o.kind.empty() && r.kind != o.kind) continue;
      if (!o.id.empty() && r.id != o.id) continue;
      if (!o.since.empty() && r.time < o.since) continue;
      if (!o.until.empty() && r.time >= o.until) continue;
      picked.push_back(&r);
    }
    if (o.limit > 0 && picked.size() > static_cast<std::size_t>(o.limit))
      picked.erase(picked.begin(), picked.end() - o.limit);
    for (const auto* r : picked) {
      nlohmann::json j = {{"index", r->index},
                          {"id", r->id},
                          {"time", r->time},
                          {"kind", r->kind},
                          {"data", r->data}};
      if (o.json)
        std::cout << j.dump() << "\n";
      else
        std::cout << std::setw(6) << r->index << "  " << r->time << "  " << std::left
                  << std::setw(18) << r->kind << std::right << r->data.dump() << "\n";
    }
    if (scan.problem)
      std::cerr << "warden: warning: stopped at a damaged record: " << scan.problem->reason << "\n";
    return scan.problem ? 1 : 0;
  });

  auto* report = audit->add_subcommand(
      "report", "Counts by kind and level, blocked attempts, overrides, violations");
  report->add_option("--hours", o.hours, "The last N hours (0: all)");
  report->add_flag("--json", o.json, "Print JSON");
  set_handler(report, [&context, folder] {
    auto scan = audit::scan_log(folder(), context.config().audit.origin);
    nlohmann::json r = audit::summarize(scan.records, o.hours);
    std::cout << r.dump(2) << "\n";
    return 0;
  });

  auto* prove = audit->add_subcommand("prove", "Inclusion and consistency proofs");
  prove->require_subcommand(1);
  auto* inclusion =
      prove->add_subcommand("inclusion", "Prove that record INDEX is in the tree of SIZE records");
  inclusion->add_option("INDEX", o.index)->required();
  inclusion->add_option("--size", o.size, "Tree size (default: all records)");
  set_handler(inclusion, [&context, folder] {
    auto scan = audit::scan_log(folder(), context.config().audit.origin, {.with_data = false});
    const auto& tree = scan.tree;
    std::uint64_t size = o.size ? o.size : tree.size();
    if (o.index >= size || size > tree.size())
      throw Error(ErrorKind::kInvalidInput, "index " + std::to_string(o.index) +
                                                " is not below size " + std::to_string(size) +
                                                " (the log has " + std::to_string(tree.size()) +
                                                " records)");
    if (o.index < tree.base)
      throw Error(ErrorKind::kInvalidInput, "record " + std::to_string(o.index) +
                                                " was deleted by retention (records below " +
                                                std::to_string(tree.base) +
                                                " are gone); prove a later record");
    audit::Hash leaf = tree.leaves[o.index - tree.base];
    audit::Hash root = audit::tree_root(tree, size);
    auto proof = audit::inclusion_proof(tree, o.index, size);
    nlohmann::json j = {{"index", o.index},
                        {"size", size},
                        {"leaf", audit::to_hex(leaf)},
                        {"root", audit::to_hex(root)},
                        {"proof", nlohmann::json::array()}};
    for (const auto& h : proof) j["proof"].push_back(audit::to_hex(h));
    j["verified"] = audit::verify_inclusion(o.index, size, leaf, proof, root);
    std::cout << j.dump(2) << "\n";
    return j["verified"].get<bool>() ? 0 : 1;
  });
  auto* consistency =
      prove->add_subcommand("consistency", "Prove that the tree of OLD records is a prefix of NEW");
  consistency->add_option("OLD", o.old_size)->required();
  consistency->add_option("NEW", o.new_size)->required();
  set_handler(consistency, [&context, folder] {
    auto scan = audit::scan_log(folder(), context.config().audit.origin, {.with_data = false});
    const auto& tree = scan.tree;
    if (o.old_size > o.new_size || o.new_size > tree.size())
      throw Error(ErrorKind::kInvalidInput, "need OLD <= NEW <= " + std::to_string(tree.size()));
    // Throws, naming the retention cut, when OLD's tree needs deleted records.
    auto proof = audit::consistency_proof(tree, o.old_size, o.new_size);
    auto old_root = audit::tree_root(tree, o.old_size),
         new_root = audit::tree_root(tree, o.new_size);
    nlohmann::json j = {{"old_size", o.old_size},
                        {"new_size", o.new_size},
                        {"old_root", audit::to_hex(old_root)},
                        {"new_root", audit::to_hex(new_root)},
                        {"proof", nlohmann::json::array()}};
    for (const auto& h : proof) j["proof"].push_back(audit::to_hex(h));
    j["verified"] = audit::verify_consistency(o.old_size, o.new_size, old_root, new_root, proof);
    std::cout << j.dump(2) << "\n";
    return j["verified"].get<bool>() ? 0 : 1;
  });

  auto* retain = audit->add_subcommand(
      "retain", "Delete old segments under a signed retention anchor; the rest still verifies");
  retain->add_option("--before-segment", o.before_segment,
                     "Delete the segments numbered below N (seg-0000000N.wal)");
  retain->add_option("--older-than", o.older_than,
                     "Delete segments whose newest record is older (720h, 90m, ...)");
  retain->add_option("--max-bytes", o.max_bytes,
                     "Delete the oldest segments until the log fits (512MiB, 2GiB, ...)");
  set_handler(retain, [&context, folder] {
    audit::RetentionRule rule;
    if (o.before_segment) rule.before_segment = o.before_segment;
    if (!o.older_than.empty()) {
      rule.max_age_ms = parse_duration_ms(o.older_than);
      if (!rule.max_age_ms || *rule.max_age_ms == 0)
        throw Error(ErrorKind::kInvalidInput,
                    "--older-than '" + o.older_than + "' is not a duration such as 720h or 90m");
    }
    if (!o.max_bytes.empty()) {
      rule.max_bytes = parse_size(o.max_bytes);
      if (!rule.max_bytes)
        throw Error(ErrorKind::kInvalidInput,
                    "--max-bytes '" + o.max_bytes + "' is not a size such as 512MiB or 2GiB");
    }
    if (rule.empty())
      throw Error(ErrorKind::kInvalidInput,
                  "audit retain: give --before-segment N, --older-than DURATION or --max-bytes "
                  "SIZE");
    AuditConfig config = context.config().audit;
    config.directory = folder();
    auto log = audit::AuditLog::open(config);
    audit::RetentionResult r = log->retain(rule);
    log->close();
    if (r.removed.empty()) {
      std::cout << "nothing to delete: no whole segment before the one being written matches\n";
      return 0;
    }
    std::cout << "deleted " << r.removed.size() << " segment(s) (" << r.bytes_removed
              << " bytes): records 0.." << (r.cut_index - 1) << "; the log now starts at record "
              << r.cut_index << " in " << audit::segment_name(r.first_kept_segment)
              << " under a signed retention anchor\n";
    return 0;
  });

  auto* quarantine = audit->add_subcommand(
      "quarantine",
      "Set a damaged log aside (kept for investigation) and start a new one that names it");
  quarantine->add_option("--reason", o.reason, "Why, in the quarantine record")->required();
  quarantine->add_flag("--force", o.force, "Set the log aside even if it verifies as intact");
  quarantine->add_flag("--json", o.json, "Print JSON");
  set_handler(quarantine, [&context, folder] {
    AuditConfig config = context.config().audit;
    config.directory = folder();
    if (!o.public_key.empty()) config.public_key = o.public_key;
    audit::QuarantineResult r = audit::quarantine(config, o.reason, o.force);
    if (o.json) {
      nlohmann::json files = nlohmann::json::array();
      for (const auto& f : r.files)
        files.push_back({{"name", f.name}, {"bytes", f.bytes}, {"sha256", f.sha256}});
      std::cout << nlohmann::json{{"moved_to", r.moved_to.string()},
                                  {"files", files},
                                  {"verify", r.report.to_json()},
                                  {"new_log_record",
                                   {{"index", r.record.index}, {"id", r.record.id}}}}
                       .dump(2)
                << "\n";
      return 0;
    }
    std::cout << "moved " << r.files.size() << " file(s) of the old log to " << r.moved_to.string()
              << " (with QUARANTINE.json)\n"
              << "the old log was "
              << (r.report.intact ? "intact" : "NOT intact: " + r.report.reason) << "\n"
              << "a new log starts in " << config.directory.string()
              << " with a quarantine record (id " << r.record.id << ") naming those files\n"
              << "check the old one with: warden audit --dir " << r.moved_to.string()
              << " verify\n";
    return 0;
  });

  auto* checkpoint =
      audit->add_subcommand("checkpoint", "Print or export the latest signed checkpoint");
  checkpoint->add_option("--export", o.export_file, "Write it to this file, to keep it elsewhere");
  set_handler(checkpoint, [folder, verifier] {
    std::string note = slurp(folder() / audit::kCheckpointFile);
    audit::read_checkpoint(note, verifier());  // never export a checkpoint that does not verify
    if (o.export_file.empty()) {
      std::cout << note;
    } else {
      std::ofstream(o.export_file, std::ios::binary) << note;
      std::cout << "exported to " << o.export_file << "\n";
    }
    return 0;
  });
}

}  // namespace warden::cli
