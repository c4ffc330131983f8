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
// Many writers: any number of AuditLog objects, in any number of processes,
// may append to one folder at once; docs/audit-format.md ("Many writers") says
// how, and why that design.
//
// Thread safety: every method may be called from many threads at once. An
// AuditLog is not usable in a child made by fork(): appends there throw.
#pragma once

#include <unistd.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "audit/folder_lock.h"
#include "audit/merkle.h"
#include "audit/note_signer.h"
#include "audit/retention.h"
#include "config/config.h"

namespace warden::audit {

// A record appended and durable: its place in the log and its id.
struct AppendReceipt {
  std::uint64_t index = 0;
  std::string id;
};

// A record queued by enqueue(). Its index is not known yet: other writers, in
// this process or others, may append before it reaches the file. `ticket`
// orders it among this AuditLog's records, for wait_durable().
struct QueuedRecord {
  std::uint64_t ticket = 0;
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
  // shorter than its signed checkpoint (the message says how to look at the
  // damage and how to set the log aside: `warden audit quarantine`).
  //
  // Any number of AuditLog objects, in this process and others, may have one
  // folder open at once: each batch is written under the folder's lock after
  // reading what the others appended since (folder_lock.h).
  static std::unique_ptr<AuditLog> open(const AuditConfig& config);
  ~AuditLog();  // close()

  // Appends one record and returns once it is durable. Throws
  // Error(kEnvironment) when the log is not writable, Error(kInvalidInput)
  // when the record is larger than the format allows.
  AppendReceipt append(const std::string& kind, nlohmann::json data);
  // Queues one record and returns at once (in "every-record" mode it is
  // durable already); wait_durable() tells when it is on disk. For callers
  // that produce many records without waiting for each. Throws like append().
  QueuedRecord enqueue(const std::string& kind, nlohmann::json data);
  // Blocks until the record with this ticket, and every one queued before it,
  // is durable. Throws Error(kEnvironment) if the writer stopped first.
  void wait_durable(std::uint64_t ticket);
  // Writes every queued record to the segment file now, without syncing:
  // they then survive a crash of this process, though not of the machine,
  // until the next sync. Throws Error(kEnvironment) like append().
  void write_queued();

  bool writable() const;
  std::string unwritable_reason() const;
  // Signs a checkpoint of everything durable now, unless the folder's
  // checkpoint (perhaps another writer's) covers as much already.
  void checkpoint_now();
  // Deletes the whole segments the rule selects (never the one being
  // written): signs a retention anchor for the cut (file "retention"),
  // appends a retention record, then removes the segments — all under the
  // folder's lock, so other writers and readers never see half of it.
  // Nothing selected: an empty `removed`. Throws Error(kEnvironment) when the
  // anchor cannot be written (nothing is deleted then).
  RetentionResult retain(const RetentionRule& rule);
  // Syncs, writes a final checkpoint and stops the writer. Idempotent.
  void close();
  std::string verifier_key() const;
  const AuditConfig& config() const { return config_; }

 private:
  // A record waiting to be written: everything but its index and link, which
  // are known only under the folder's lock.
  struct Pending {
    std::uint64_t ticket = 0;
    std::string id, time, kind_json, data_json;
    bool wants_index = false;  // append() waits for it and reports its index
    std::uint64_t index = 0;   // set when written
  };

  AuditLog(const AuditConfig& config, NoteSigner signer, FolderLock lock);
  QueuedRecord enqueue_record(const std::string& kind, nlohmann::json data, bool wants_index);
  Pending internal_record(const char* kind, const nlohmann::json& data) const;

  // The tail — the open segment, the tree and everything derived from the
  // records on disk — belongs to one thread at a time: the one that claimed
  // it (`lock` holds mutex_ on entry and on return).
  void claim_tail(std::unique_lock<std::mutex>& lock);
  void release_tail();  // requires mutex_
  // With the tail and the folder's exclusive lock: reads what other writers
  // appended since this one last looked. Returns the recovery record to
  // append when a dead writer's torn record had to be cut. Throws
  // Error(kRefused) on damage.
  std::optional<nlohmann::json> catch_up();
  // With the tail and the folder's exclusive lock: rebuilds the tail from a
  // full scan of the folder, cutting a torn tail; what open() and catch_up()
  // do when the folder is not simply longer than last seen.
  std::optional<nlohmann::json> resync();
  // With the tail and the folder's exclusive lock: gives the records their
  // indexes and links and writes them, starting new segments as they fill.
  // Throws Error(kEnvironment) on an I/O error, leaving no partial record.
  void write_records(std::vector<Pending>& records);
  void open_segment(std::uint64_t seq, bool create);
  // Writes the queued records (and syncs them when `sync`) as one batch.
  // Returns false (and stops the writer) on an error. `lock` holds mutex_.
  bool flush(std::unique_lock<std::mutex>& lock, bool sync);
  // Checkpoint and retention when due, after records became durable.
  void after_flush();
  void flusher_loop();
  void fail(const std::string& why);  // requires mutex_
  void write_atomically(const char* name, const std::string& content);
  void write_checkpoint(std::uint64_t size, const Hash& root);
  void run_due_retention();
  RetentionResult retain_locked(const RetentionRule& rule);  // requires retention_mutex_
  nlohmann::json redacted(nlohmann::json data) const;

  AuditConfig config_;
  NoteSigner signer_;
  std::vector<std::regex> redactions_;
  FolderLock folder_lock_;  // used by the tail's owner, and under checkpoint_mutex_
  const pid_t owner_pid_ = ::getpid();

  mutable std::mutex mutex_;
  std::condition_variable synced_cv_;
  std::condition_variable work_cv_;
  std::condition_variable tail_cv_;
  std::vector<Pending> pending_;
  std::uint64_t next_ticket_ = 0;
  std::uint64_t written_tickets_ = 0;  // tickets [0, written) are in the file
  std::uint64_t synced_tickets_ = 0;   // tickets [0, synced) are durable
  std::unordered_map<std::uint64_t, std::uint64_t> indexes_;  // ticket -> index, for append()
  bool tail_claimed_ = false;
  std::uint64_t synced_size_ = 0;  // the log's first synced_size_ records are durable
  CompactTree synced_tree_;
  std::uint64_t checkpointed_size_ = 0;
  std::chrono::steady_clock::time_point last_checkpoint_;
  bool retention_due_ = false;
  std::string broken_;  // why the writer stopped, empty while healthy
  bool closing_ = false;
  bool closed_ = false;
  std::thread flusher_;
  std::mutex checkpoint_mutex_;
  std::mutex retention_mutex_;

  // The tail (see claim_tail).
  int fd_ = -1;
  std::uint64_t segment_seq_ = 0;
  std::uint64_t file_bytes_ = 0;  // how much of the open segment this writer has read or written
  std::uint64_t next_index_ = 0;
  CompactTree tree_;
  Hash last_leaf_{};
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
};

}  // namespace warden::audit
