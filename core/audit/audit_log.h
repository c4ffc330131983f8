// The audit log's writer. Records are appended to CRC-framed segment files,
// hash-linked and covered by an RFC 6962 Merkle tree whose root is signed in
// C2SP checkpoints (docs/audit-format.md).
//
// Durability: append() returns once its record is on disk — synced alone
// ("every-record") or with a group of others at most group_commit_delay later
// ("group"). An I/O or fsync error is fatal for the writer: it is never retried
// as if it had succeeded, every later append throws, and writable() turns
// false with the reason, so the host refuses to run code.
//
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "audit/merkle.h"
#include "audit/note_signer.h"
#include "audit/retention.h"
#include "config/config.h"

namespace warden::audit {

struct AppendReceipt {
  std::uint64_t index = 0;
  std::string id;
};

struct RetentionResult {
  std::uint64_t cut_index = 0;  // records deleted: the first kept record's index
  std::uint64_t first_kept_segment = 0;
  std::vector<std::string> removed;  // segment file names, oldest first
  std::uint64_t bytes_removed = 0;
};

class AuditLog {
 public:
  // Opens (or creates) the log in config.directory. A torn tail left by a
  // crash is cut back to the last whole record and a recovery record is
  // appended. Throws Error(kEnvironment) when the log cannot be opened for
  // writing, or Error(kRefused) when it is damaged beyond a torn tail or
  // shorter than its signed checkpoint (tampering: run `warden audit verify`).
  static std::unique_ptr<AuditLog> open(const AuditConfig& config);
  ~AuditLog();  // close()

  // Appends one record and returns once it is durable. Throws
  // Error(kEnvironment) when the log is not writable.
  AppendReceipt append(const std::string& kind, nlohmann::json data);
  // Queues one record and returns at once (in "every-record" mode it is
  // durable already); wait_durable() tells when it is on disk. For callers
  // that produce many records without waiting for each.
  AppendReceipt enqueue(const std::string& kind, nlohmann::json data);
  // Blocks until the record with this index, and every one before it, is
  // durable. Throws Error(kEnvironment) if the writer stopped first.
  void wait_durable(std::uint64_t index);
  // Writes every queued record to the segment file now, without syncing:
  // they then survive a crash of this process, though not of the machine,
  // until the next sync. Throws Error(kEnvironment) like append().
  void write_queued();

  bool writable() const;
  std::string unwritable_reason() const;
  // Signs a checkpoint of everything durable now.
  void checkpoint_now();
  // Deletes the whole segments the rule selects (never the one being
  // written): signs a retention anchor for the cut (file "retention"),
  // appends a retention record, then removes the segments. Nothing selected:
  // an empty `removed`. Throws Error(kEnvironment) when the anchor cannot be
  // written (nothing is deleted then).
  RetentionResult retain(const RetentionRule& rule);
  // Syncs, writes a final checkpoint and stops the writer. Idempotent.
  void close();
  std::string verifier_key() const;
  const AuditConfig& config() const { return config_; }

 private:
  explicit AuditLog(const AuditConfig& config, NoteSigner signer);
  // Scans and repairs the folder; returns the recovery record to append when
  // a torn tail was cut.
  std::optional<nlohmann::json> recover();
  void write_atomically(const char* name, const std::string& content);
  void run_due_retention();
  RetentionResult retain_locked(const RetentionRule& rule);  // requires retention_mutex_
  void open_segment(std::uint64_t seq, bool create);
  void flusher_loop();
  // Writes the frames waiting in pending_ and syncs them; requires mutex_ and
  // no flush in flight. Returns false (and stops the writer) on an error.
  bool flush_pending_locked();
  // Writes pending_ to the segment without syncing; same contract.
  bool write_pending_locked();
  // Group mode: writes and syncs every frame queued so far outside the lock
  // (`lock` holds mutex_ on entry and on return; no flush may be in flight).
  // Returns false (and stops the writer) on an error.
  bool flush_batch(std::unique_lock<std::mutex>& lock);
  void fail(const std::string& why);  // requires mutex_
  void write_checkpoint(std::uint64_t size, const Hash& root);
  nlohmann::json redacted(nlohmann::json data) const;

  AuditConfig config_;
  NoteSigner signer_;
  std::vector<std::regex> redactions_;

  mutable std::mutex mutex_;
  std::condition_variable synced_cv_;
  std::condition_variable work_cv_;
  int fd_ = -1;
  std::uint64_t segment_seq_ = 0;
  std::uint64_t segment_bytes_ = 0;  // the segment's size with pending_ counted
  std::uint64_t file_bytes_ = 0;     // what is in the file (a failed write is cut back to it)
  std::string pending_;              // group mode: frames waiting for the flusher
  bool flushing_ = false;            // the flusher is writing a batch outside the lock
  std::condition_variable flushed_cv_;
  std::uint64_t next_index_ = 0;
  std::uint64_t synced_index_ = 0;  // records [0, synced) are durable
  CompactTree tree_;
  CompactTree synced_tree_;
  std::uint64_t checkpointed_size_ = 0;
  // What a retention cut at the start of each segment needs, oldest first.
  struct SegmentState {
    std::uint64_t seq = 0;
    std::uint64_t first_index = 0;
    CompactTree tree_at_start;  // the tree of the records before it
    Hash last_leaf_before{};    // leaf hash of record first_index - 1
    std::string newest_time;
    std::uint64_t bytes = 0;
  };
  std::vector<SegmentState> segments_;
  Hash last_leaf_{};
  bool retention_due_ = false;
  std::mutex retention_mutex_;
  std::chrono::steady_clock::time_point last_checkpoint_;
  std::string broken_;  // why the writer stopped, empty while healthy
  bool closing_ = false;
  std::thread flusher_;
  std::mutex checkpoint_mutex_;
};

}  // namespace warden::audit
