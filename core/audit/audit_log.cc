#include "audit/audit_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <warden/error.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "audit/audit_reader.h"
#include "audit/log_format.h"
#include "audit/retention.h"
#include "common/files.h"
#include "common/text.h"

namespace warden::audit {
namespace fs = std::filesystem;
namespace {

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

std::string damaged_advice() {
  return "; run 'warden audit verify' to see the damage, then 'warden audit quarantine' to set "
         "the damaged files aside (kept for investigation) and start a new log";
}

}  // namespace

std::unique_ptr<AuditLog> AuditLog::open(const AuditConfig& config) {
  std::error_code ec;
  fs::create_directories(config.directory, ec);
  if (ec)
    throw Error(ErrorKind::kEnvironment,
                config.directory.string() + ": cannot create the audit folder: " + ec.message());
  ::chmod(config.directory.c_str(), 0700);
  // Two writers opening a new folder at once make one key, and no writer
  // reads the folder while another is half way through a record. On an
  // error the lock goes with its file, closed when `folder_lock` or the log
  // holding it dies.
  FolderLock folder_lock = FolderLock::for_writer(config.directory);
  folder_lock.lock(FolderLock::Range::kAppend, true);
  if (!fs::exists(config.signing_key)) {
    if (!config.create_key_if_missing)
      throw Error(ErrorKind::kEnvironment,
                  config.signing_key.string() +
                      ": no audit signing key; create one with 'warden audit keygen'");
    NoteSigner::generate(config.signing_key, config.public_key, config.origin);
    spdlog::info("created the audit signing key {} (public key {})", config.signing_key.string(),
                 config.public_key.string());
  }
  std::unique_ptr<AuditLog> log(new AuditLog(
      config, NoteSigner::load(config.signing_key, config.origin), std::move(folder_lock)));
  std::optional<nlohmann::json> recovered = log->resync();
  log->folder_lock_.unlock(FolderLock::Range::kAppend);
  if (config.durability == "group")
    log->flusher_ = std::thread([raw = log.get()] { raw->flusher_loop(); });
  // Appended once the flusher runs: in group mode nothing else would sync it.
  if (recovered) log->append(kind::kRecovery, *recovered);
  // Age and size limits apply from the first append, not only at the next
  // new segment, so a log that is reopened often is still trimmed.
  log->retention_due_ = config.retention_max_age_ms > 0 || config.retention_max_bytes > 0;
  return log;
}

AuditLog::AuditLog(const AuditConfig& config, NoteSigner signer, FolderLock lock)
    : config_(config), signer_(std::move(signer)), folder_lock_(std::move(lock)) {
  for (const auto& pattern : config.redact_patterns) {
    try {
      redactions_.emplace_back(pattern);
    } catch (const std::regex_error& e) {
      throw Error(ErrorKind::kConfig,
                  "audit.redact: '" + pattern + "' is not a valid regular expression: " + e.what());
    }
  }
  last_checkpoint_ = std::chrono::steady_clock::now();
}

AuditLog::~AuditLog() {
  close();
}

std::string AuditLog::verifier_key() const {
  return signer_.verifier_key();
}

std::optional<nlohmann::json> AuditLog::resync() {
  fs::path checkpoint_path = config_.directory / kCheckpointFile;
  std::optional<Checkpoint> checkpoint;
  if (fs::exists(checkpoint_path))
    checkpoint =
        read_checkpoint(read_whole_file(checkpoint_path).value_or(""), signer_.verifier_key());
  Scan scan = scan_log(config_.directory, config_.origin,
                       {.with_data = false,
                        .canonical_from = checkpoint ? checkpoint->size : 0,
                        .locking = Locking::kHeldByCaller});
  if (!scan.anchor_note.empty()) {
    try {
      verify_note(scan.anchor_note, signer_.verifier_key());
    } catch (const Error& e) {
      throw Error(ErrorKind::kRefused,
                  "audit log retention anchor: " + std::string(e.what()) + damaged_advice());
    }
  }
  std::optional<nlohmann::json> recovered;
  if (scan.problem) {
    if (!scan.problem->torn_tail)
      throw Error(ErrorKind::kRefused, "audit log damaged in " + scan.problem->segment +
                                           " at byte " + std::to_string(scan.problem->offset) +
                                           " (record " + std::to_string(scan.problem->position) +
                                           "): " + scan.problem->reason + damaged_advice());
    fs::path path = config_.directory / scan.last_segment;
    std::uint64_t size = fs::file_size(path);
    if (::truncate(path.c_str(), static_cast<off_t>(scan.last_good_offset)) != 0)
      throw Error(ErrorKind::kEnvironment,
                  errno_text("cannot cut the torn tail of " + path.string()));
    recovered = nlohmann::json{{"segment", scan.last_segment},
                               {"cut_at", scan.last_good_offset},
                               {"bytes_removed", size - scan.last_good_offset},
                               {"reason", scan.problem->reason}};
    spdlog::warn("audit log: cut a torn tail of {} bytes from {} (crash residue)",
                 size - scan.last_good_offset, scan.last_segment);
  }
  // A checkpoint older than the retention anchor is what a crash during a
  // retention leaves; the anchor, itself a signed checkpoint, stands for it.
  if (checkpoint && !(scan.anchor && checkpoint->size < scan.anchor->size)) {
    if (scan.size() < checkpoint->size)
      throw Error(ErrorKind::kRefused, "audit log holds " + std::to_string(scan.size()) +
                                           " records but its signed checkpoint covers " +
                                           std::to_string(checkpoint->size) +
                                           ": records were removed" + damaged_advice());
    if (tree_root(scan.tree, checkpoint->size) != checkpoint->root)
      throw Error(ErrorKind::kRefused,
                  "audit log does not match its signed checkpoint" + damaged_advice());
    std::lock_guard lock(mutex_);
    checkpointed_size_ = std::max(checkpointed_size_, checkpoint->size);
  }
  // Finish a retention that a crash interrupted after its anchor was signed.
  for (const auto& stale : scan.stale_segments) {
    std::error_code ec;
    fs::remove(stale, ec);
    if (ec)
      throw Error(
          ErrorKind::kEnvironment,
          stale.string() + ": cannot remove a segment before the retention cut: " + ec.message());
  }
  if (!scan.stale_segments.empty()) sync_directory(config_.directory);

  tree_ = CompactTree::from_frontier(scan.tree.base, scan.tree.frontier);
  last_leaf_ = scan.anchor ? scan.anchor->last_leaf : Hash{};
  segments_.clear();
  std::size_t next_segment = 0;
  for (std::size_t i = 0; i < scan.tree.leaves.size(); ++i) {
    while (next_segment < scan.segments.size() &&
           scan.segments[next_segment].first_index == tree_.size()) {
      const auto& seg = scan.segments[next_segment++];
      segments_.push_back({seg.seq, seg.first_index, tree_, last_leaf_, "", seg.bytes});
    }
    tree_.append(scan.tree.leaves[i]);
    last_leaf_ = scan.tree.leaves[i];
    segments_.back().newest_time = std::max(segments_.back().newest_time, scan.records[i].time);
  }
  for (; next_segment < scan.segments.size(); ++next_segment) {
    const auto& seg = scan.segments[next_segment];
    segments_.push_back({seg.seq, seg.first_index, tree_, last_leaf_, "", seg.bytes});
  }
  next_index_ = scan.size();
  if (scan.last_segment.empty())
    open_segment(scan.anchor ? scan.anchor->first_segment : 1, true);
  else if (scan.last_good_offset == 0)
    open_segment(scan.last_segment_seq, true);  // its header was torn: write it again
  else
    open_segment(scan.last_segment_seq, false);
  // What a writer that died before its sync left is durable from here on,
  // so checkpoints may cover it.
  if (::fdatasync(fd_) != 0)
    throw Error(ErrorKind::kEnvironment, errno_text("fdatasync of " + segment_name(segment_seq_)));
  std::lock_guard lock(mutex_);
  if (next_index_ > synced_size_) {
    synced_size_ = next_index_;
    synced_tree_ = tree_;
  }
  return recovered;
}

void AuditLog::open_segment(std::uint64_t seq, bool create) {
  fs::path path = config_.directory / segment_name(seq);
  int flags = O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
  int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) throw Error(ErrorKind::kEnvironment, errno_text("cannot open " + path.string()));
  if (create) {
    std::string header = encode_segment_header(seq, next_index_, config_.origin);
    if (!write_all(fd, header) || ::fdatasync(fd) != 0) {
      std::string why = errno_text("cannot write " + path.string());
      ::close(fd);
      throw Error(ErrorKind::kEnvironment, why);
    }
    sync_directory(config_.directory);
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  segment_seq_ = seq;
  file_bytes_ = fs::file_size(path);
  if (segments_.empty() || segments_.back().seq != seq)
    segments_.push_back({seq, next_index_, tree_, last_leaf_, "", file_bytes_});
  else
    segments_.back().bytes = file_bytes_;
}

std::optional<nlohmann::json> AuditLog::catch_up() {
  for (;;) {
    // Our segment replaced or removed under its name (a quarantine), or
    // shorter than we left it: only a full scan can tell what happened.
    struct stat open_file {
    }, named{};
    fs::path path = config_.directory / segment_name(segment_seq_);
    if (::fstat(fd_, &open_file) != 0 || ::stat(path.c_str(), &named) != 0 ||
        open_file.st_ino != named.st_ino || open_file.st_dev != named.st_dev ||
        static_cast<std::uint64_t>(open_file.st_size) < file_bytes_)
      return resync();
    std::uint64_t size = static_cast<std::uint64_t>(open_file.st_size);
    if (size > file_bytes_) {
      std::string bytes(size - file_bytes_, '\0');
      std::size_t done = 0;
      while (done < bytes.size()) {
        ssize_t n = ::pread(fd_, bytes.data() + done, bytes.size() - done,
                            static_cast<off_t>(file_bytes_ + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
          throw Error(ErrorKind::kEnvironment, errno_text("cannot read " + path.string()));
        done += static_cast<std::size_t>(n);
      }
      // Whole records that link on are other writers' appends; anything else
      // (a dead writer's torn record, damage) takes the full scan, which cuts
      // the one and refuses the other.
      std::size_t offset = 0;
      while (offset < bytes.size()) {
        if (bytes.size() - offset < kFrameHeaderSize) return resync();
        std::uint32_t length = get_u32(bytes.data() + offset);
        if (length == 0 || length > kMaxRecordSize ||
            bytes.size() - offset - kFrameHeaderSize < length)
          return resync();
        std::string_view payload(bytes.data() + offset + kFrameHeaderSize, length);
        if (crc32c(payload) != get_u32(bytes.data() + offset + 4)) return resync();
        ReadRecord read = read_record(payload, next_index_ + 1, false);
        if (!read.error.empty() || read.record.index != next_index_ || read.prev != last_leaf_)
          return resync();
        Hash leaf = leaf_hash(payload);
        tree_.append(leaf);
        last_leaf_ = leaf;
        ++next_index_;
        segments_.back().newest_time = std::max(segments_.back().newest_time, read.record.time);
        offset += kFrameHeaderSize + length;
      }
      file_bytes_ = size;
      segments_.back().bytes = size;
    }
    // Another writer started the next segment: ours is complete; follow it.
    fs::path next = config_.directory / segment_name(segment_seq_ + 1);
    if (!fs::exists(next)) return std::nullopt;
    std::string header = encode_segment_header(segment_seq_ + 1, next_index_, config_.origin);
    std::string start(header.size(), '\0');
    std::ifstream in(next, std::ios::binary);
    if (!in.read(start.data(), static_cast<std::streamsize>(start.size())) || start != header)
      return resync();
    open_segment(segment_seq_ + 1, false);
    file_bytes_ = segments_.back().bytes = header.size();
  }
}

AuditLog::Pending AuditLog::internal_record(const char* record_kind,
                                            const nlohmann::json& data) const {
  return {0, random_hex_id(), utc_timestamp(), nlohmann::json(record_kind).dump(),
          data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

void AuditLog::write_records(std::vector<Pending>& records) {
  std::string out;  // frames for the open segment, not yet written
  auto write_out = [&] {
    if (out.empty()) return;
    if (!write_all(fd_, out)) {
      std::string why = errno_text("write to " + segment_name(segment_seq_));
      // Leave no partial frame behind: the segment stays a clean prefix.
      if (::ftruncate(fd_, static_cast<off_t>(file_bytes_)) != 0)
        why += " (and the partial record could not be cut)";
      throw Error(ErrorKind::kEnvironment, why);
    }
    file_bytes_ += out.size();
    segments_.back().bytes = file_bytes_;
    out.clear();
  };
  for (auto& r : records) {
    // The canonical form, keys in order: what nlohmann::json::dump() gives.
    std::string payload = "{\"data\":" + r.data_json + ",\"id\":\"" + r.id +
                          "\",\"index\":" + std::to_string(next_index_) +
                          ",\"kind\":" + r.kind_json + ",\"prev\":\"" + to_hex(last_leaf_) +
                          "\",\"time\":\"" + r.time + "\"}";
    std::string frame;
    put_u32(frame, static_cast<std::uint32_t>(payload.size()));
    put_u32(frame, crc32c(payload));
    frame += payload;
    bool segment_has_records = segments_.back().first_index < next_index_;
    if (segment_has_records && file_bytes_ + out.size() + frame.size() > config_.segment_bytes) {
      // Every record of the full segment is durable before the next one
      // starts: a crash never leaves a hole in the middle of the log.
      write_out();
      if (::fdatasync(fd_) != 0) throw Error(ErrorKind::kEnvironment, errno_text("fdatasync"));
      open_segment(segment_seq_ + 1, true);
      std::lock_guard lock(mutex_);
      retention_due_ = config_.retention_max_age_ms > 0 || config_.retention_max_bytes > 0;
    }
    out += frame;
    Hash leaf = leaf_hash(payload);
    tree_.append(leaf);
    last_leaf_ = leaf;
    r.index = next_index_++;
    segments_.back().newest_time = std::max(segments_.back().newest_time, r.time);
  }
  write_out();
}

nlohmann::json AuditLog::redacted(nlohmann::json data) const {
  if (redactions_.empty()) return data;
  if (data.is_string()) {
    std::string s = data.get<std::string>();
    for (const auto& re : redactions_) s = std::regex_replace(s, re, "[REDACTED]");
    return s;
  }
  if (data.is_structured())
    for (auto& item : data) item = redacted(std::move(item));
  return data;
}

void AuditLog::fail(const std::string& why) {
  if (broken_.empty()) {
    broken_ = why;
    spdlog::error("audit log is no longer writable: {}", why);
  }
  synced_cv_.notify_all();
}

void AuditLog::claim_tail(std::unique_lock<std::mutex>& lock) {
  tail_cv_.wait(lock, [&] { return !tail_claimed_; });
  tail_claimed_ = true;
}

void AuditLog::release_tail() {
  tail_claimed_ = false;
  tail_cv_.notify_all();
  synced_cv_.notify_all();  // a waiter may now write its batch itself
}

AppendReceipt AuditLog::append(const std::string& kind, nlohmann::json data) {
  QueuedRecord queued = enqueue_record(kind, std::move(data), true);
  try {
    wait_durable(queued.ticket);
  } catch (...) {
    std::lock_guard lock(mutex_);
    indexes_.erase(queued.ticket);
    throw;
  }
  std::lock_guard lock(mutex_);
  auto it = indexes_.find(queued.ticket);
  AppendReceipt receipt{it->second, queued.id};
  indexes_.erase(it);
  return receipt;
}

QueuedRecord AuditLog::enqueue(const std::string& kind, nlohmann::json data) {
  return enqueue_record(kind, std::move(data), false);
}

QueuedRecord AuditLog::enqueue_record(const std::string& kind, nlohmann::json data,
                                      bool wants_index) {
  Pending record{
      0,
      random_hex_id(),
      utc_timestamp(),
      nlohmann::json(kind).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      redacted(std::move(data)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      wants_index};
  // The metadata around the data takes at most ~200 bytes.
  std::size_t size = record.data_json.size() + record.kind_json.size() + 200;
  if (size > kMaxRecordSize)
    throw Error(ErrorKind::kInvalidInput,
                "audit record of " + std::to_string(size) + " bytes is too large");
  QueuedRecord queued{0, record.id};
  // A forked child shares the parent's lock file description, so the two
  // would not exclude each other, and has none of its threads.
  if (::getpid() != owner_pid_)
    throw Error(ErrorKind::kEnvironment,
                "audit log opened by process " + std::to_string(owner_pid_) +
                    " used after fork() in process " + std::to_string(::getpid()) +
                    ": open a new Host (or SafetyAPI) in the child");
  {
    std::lock_guard lock(mutex_);
    if (!broken_.empty())
      throw Error(ErrorKind::kEnvironment, "audit log cannot be written: " + broken_);
    if (closing_) throw Error(ErrorKind::kEnvironment, "audit log is closed");
    queued.ticket = record.ticket = next_ticket_++;
    pending_.push_back(std::move(record));
  }
  if (config_.durability == "every-record")
    wait_durable(queued.ticket);
  else if (config_.group_commit_delay_ms > 0)
    work_cv_.notify_one();
  // Without a delay, a caller that waits syncs the batch itself
  // (wait_durable) rather than race the background writer to it; records
  // nobody waits for are synced by the background writer within
  // checkpoint_interval.
  return queued;
}

void AuditLog::wait_durable(std::uint64_t ticket) {
  {
    std::unique_lock lock(mutex_);
    // With no delay to wait for (or none allowed), the caller writes the
    // batch itself when no one else is: a sync costs ~0.1 ms here, two thread
    // hand-offs as much.
    bool self = config_.group_commit_delay_ms == 0 || config_.durability == "every-record";
    while (synced_tickets_ <= ticket && broken_.empty()) {
      if (self && !tail_claimed_ && !closed_) {
        flush(lock, true);
        continue;
      }
      synced_cv_.wait(lock);
    }
    if (synced_tickets_ <= ticket)
      throw Error(ErrorKind::kEnvironment, "audit log cannot be written: " + broken_);
  }
  after_flush();
}

void AuditLog::write_queued() {
  std::unique_lock lock(mutex_);
  if (!broken_.empty())
    throw Error(ErrorKind::kEnvironment, "audit log cannot be written: " + broken_);
  if (written_tickets_ < next_ticket_ && !flush(lock, false))
    throw Error(ErrorKind::kEnvironment, "audit log cannot be written: " + broken_);
}

bool AuditLog::flush(std::unique_lock<std::mutex>& lock, bool sync) {
  claim_tail(lock);
  if (!broken_.empty() || closed_) {
    release_tail();
    return false;
  }
  std::vector<Pending> batch;
  batch.swap(pending_);
  std::uint64_t tickets_end = next_ticket_;
  lock.unlock();
  std::string why;
  try {
    {
      FolderLock::Held held(folder_lock_, FolderLock::Range::kAppend, true);
      if (auto recovered = catch_up())
        batch.insert(batch.begin(), internal_record(kind::kRecovery, *recovered));
      write_records(batch);
    }
    // Outside the folder's lock: other writers append meanwhile, and the
    // filesystem commits their syncs and ours together. A sync makes every
    // byte written to the file before it durable, others' included.
    if (sync && ::fdatasync(fd_) != 0) why = errno_text("fdatasync");
  } catch (const std::exception& e) {
    why = e.what();
  }
  std::uint64_t size = next_index_;
  CompactTree tree = tree_;
  lock.lock();
  release_tail();
  if (!why.empty()) {
    fail(why);
    return false;
  }
  written_tickets_ = tickets_end;
  if (sync) {
    synced_tickets_ = tickets_end;
    if (size > synced_size_) {
      synced_size_ = size;
      synced_tree_ = tree;
    }
  }
  for (const auto& r : batch)
    if (r.wants_index) indexes_[r.ticket] = r.index;
  synced_cv_.notify_all();
  return true;
}

void AuditLog::after_flush() {
  std::uint64_t size = 0;
  Hash root{};
  {
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    bool due = synced_size_ > checkpointed_size_ &&
               now - last_checkpoint_ >= std::chrono::milliseconds(config_.checkpoint_interval_ms);
    if (due) {
      last_checkpoint_ = now;
      size = synced_size_;
      root = synced_tree_.root();
    }
  }
  if (size > 0) write_checkpoint(size, root);
  run_due_retention();
}

void AuditLog::flusher_loop() {
  std::unique_lock lock(mutex_);
  auto interval = std::chrono::milliseconds(config_.checkpoint_interval_ms);
  while (broken_.empty()) {
    work_cv_.wait_for(lock, interval, [&] { return closing_ || next_ticket_ > synced_tickets_; });
    if (next_ticket_ > synced_tickets_) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(config_.group_commit_delay_ms));
      lock.lock();
      // A waiting appender may have written the batch meanwhile.
      if (next_ticket_ > synced_tickets_ && !flush(lock, true)) break;
    }
    lock.unlock();
    after_flush();
    lock.lock();
    if (closing_ && next_ticket_ == synced_tickets_) break;
  }
}

void AuditLog::write_atomically(const char* name, const std::string& content) {
  write_file_atomically(config_.directory / name, content);
}

void AuditLog::write_checkpoint(std::uint64_t size, const Hash& root) {
  std::lock_guard guard(checkpoint_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (size <= checkpointed_size_ || !broken_.empty()) return;
  }
  std::string why;
  std::uint64_t covered = size;
  try {
    FolderLock::Held held(folder_lock_, FolderLock::Range::kCheckpoint, true);
    // Another writer's checkpoint may cover more already: the folder's
    // checkpoint never goes back to a smaller tree.
    std::uint64_t on_disk = 0;
    if (auto note = read_whole_file(config_.directory / kCheckpointFile)) {
      try {
        on_disk = read_checkpoint(*note, signer_.verifier_key()).size;
      } catch (const Error& e) {
        throw Error(ErrorKind::kRefused,
                    std::string("the audit checkpoint file: ") + e.what() + damaged_advice());
      }
    }
    if (on_disk < size)
      write_atomically(
          kCheckpointFile,
          signer_.sign(checkpoint_text(
              config_.origin, size,
              to_base64(std::string(reinterpret_cast<const char*>(root.data()), root.size())))));
    covered = std::max(on_disk, size);
  } catch (const Error& e) {
    why = e.what();
  }
  std::lock_guard lock(mutex_);
  if (!why.empty()) {
    fail(why);
    return;
  }
  checkpointed_size_ = std::max(checkpointed_size_, covered);
}

RetentionResult AuditLog::retain(const RetentionRule& rule) {
  std::lock_guard serial(retention_mutex_);
  return retain_locked(rule);
}

RetentionResult AuditLog::retain_locked(const RetentionRule& rule) {
  RetentionResult result;
  std::unique_lock lock(mutex_);
  if (!broken_.empty())
    throw Error(ErrorKind::kEnvironment, "audit log cannot be written: " + broken_);
  claim_tail(lock);
  lock.unlock();
  // An error before the retention record is written leaves the log as it
  // was and the writer working; one while writing it stops the writer.
  bool writing = false;
  std::optional<Error> error;
  try {
    FolderLock::Held held(folder_lock_, FolderLock::Range::kAppend, true);
    std::vector<Pending> records;
    if (auto recovered = catch_up())
      records.push_back(internal_record(kind::kRecovery, *recovered));
    // Segments another writer's retention deleted are gone for this one too.
    std::erase_if(segments_, [&](const SegmentState& s) {
      return s.seq != segment_seq_ && !fs::exists(config_.directory / segment_name(s.seq));
    });
    std::vector<SegmentSummary> summaries;
    for (const auto& s : segments_) summaries.push_back({s.seq, s.bytes, s.newest_time});
    std::string cutoff;
    if (rule.max_age_ms)
      cutoff = utc_timestamp_at(std::chrono::system_clock::now() -
                                std::chrono::milliseconds(*rule.max_age_ms));
    std::uint64_t keep = first_kept_segment(summaries, rule, cutoff);
    auto kept = std::find_if(segments_.begin(), segments_.end(),
                             [&](const SegmentState& s) { return s.seq == keep; });
    std::vector<fs::path> doomed;
    if (kept != segments_.begin() && kept != segments_.end()) {
      // Every record before the cut is durable: starting a segment synced them.
      RetentionAnchor anchor;
      anchor.origin = config_.origin;
      anchor.size = kept->first_index;
      anchor.root = kept->tree_at_start.root();
      anchor.first_segment = keep;
      anchor.last_leaf = kept->last_leaf_before;
      anchor.frontier = kept->tree_at_start.frontier();
      for (auto it = segments_.begin(); it != kept; ++it) {
        doomed.push_back(config_.directory / segment_name(it->seq));
        result.removed.push_back(segment_name(it->seq));
        result.bytes_removed += it->bytes;
      }
      result.cut_index = anchor.size;
      result.first_kept_segment = keep;
      // The anchor is durable before anything is deleted; a crash after it
      // leaves old segments that the next open (or verify) treats as cut.
      write_atomically(kRetentionFile, signer_.sign(retention_anchor_text(anchor)));
      records.push_back(
          internal_record(kind::kRetention, {{"cut_index", result.cut_index},
                                             {"first_kept_segment", result.first_kept_segment},
                                             {"removed_segments", result.removed},
                                             {"bytes_removed", result.bytes_removed},
                                             {"root_at_cut", to_hex(anchor.root)}}));
    }
    writing = true;
    write_records(records);
    if (!records.empty() && ::fdatasync(fd_) != 0)
      throw Error(ErrorKind::kEnvironment, errno_text("fdatasync"));
    writing = false;
    for (const auto& path : doomed) {
      std::error_code ec;
      fs::remove(path, ec);
      if (ec)
        throw Error(ErrorKind::kEnvironment,
                    path.string() + ": cannot delete the old segment: " + ec.message());
    }
    if (!doomed.empty()) {
      sync_directory(config_.directory);
      // By number: writing the record may have started a segment, moving them.
      std::erase_if(segments_, [&](const SegmentState& s) { return s.seq < keep; });
    }
  } catch (const Error& e) {
    error = e;
  }
  std::uint64_t size = next_index_;
  CompactTree tree = tree_;
  lock.lock();
  release_tail();
  if (error) {
    if (writing) fail(error->what());
    throw *error;
  }
  if (size > synced_size_) {
    synced_size_ = size;
    synced_tree_ = tree;
  }
  lock.unlock();
  if (result.removed.empty()) return result;
  checkpoint_now();
  spdlog::info("audit log: retention deleted {} segment(s), {} records, {} bytes",
               result.removed.size(), result.cut_index, result.bytes_removed);
  return result;
}

void AuditLog::run_due_retention() {
  // A retention in progress (whose own record may start a segment) leaves the
  // flag for the next append.
  std::unique_lock serial(retention_mutex_, std::try_to_lock);
  if (!serial) return;
  {
    std::lock_guard lock(mutex_);
    if (!retention_due_ || !broken_.empty() || closed_) return;
    retention_due_ = false;
  }
  RetentionRule rule;
  if (config_.retention_max_age_ms) rule.max_age_ms = config_.retention_max_age_ms;
  if (config_.retention_max_bytes) rule.max_bytes = config_.retention_max_bytes;
  try {
    retain_locked(rule);
  } catch (const Error& e) {
    // The records themselves are safe; only the deletion waits for next time.
    spdlog::error("audit log: automatic retention failed: {}", e.what());
  }
}

void AuditLog::checkpoint_now() {
  std::uint64_t size;
  Hash root;
  {
    std::lock_guard lock(mutex_);
    size = synced_size_;
    root = synced_tree_.root();
  }
  write_checkpoint(size, root);
}

bool AuditLog::writable() const {
  std::lock_guard lock(mutex_);
  return broken_.empty() && !closing_;
}

std::string AuditLog::unwritable_reason() const {
  std::lock_guard lock(mutex_);
  return closing_ && broken_.empty() ? "the audit log is closed" : broken_;
}

void AuditLog::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closing_ = true;
  }
  work_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  {
    std::unique_lock lock(mutex_);
    if (broken_.empty() && synced_tickets_ < next_ticket_) flush(lock, true);
  }
  checkpoint_now();
  std::unique_lock lock(mutex_);
  claim_tail(lock);
  closed_ = true;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  release_tail();
}

}  // namespace warden::audit
