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
#include <random>
#include <sstream>

#include "audit/audit_reader.h"
#include "audit/log_format.h"
#include "audit/retention.h"
#include "common/text.h"

namespace warden::audit {
namespace fs = std::filesystem;
namespace {

std::string random_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(rng()));
  return id;
}

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

void sync_directory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorKind::kEnvironment, errno_text("cannot open " + dir.string()));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw Error(ErrorKind::kEnvironment, errno_text("fsync of " + dir.string()));
}

bool write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::unique_ptr<AuditLog> AuditLog::open(const AuditConfig& config) {
  std::error_code ec;
  fs::create_directories(config.directory, ec);
  if (ec)
    throw Error(ErrorKind::kEnvironment,
                config.directory.string() + ": cannot create the audit folder: " + ec.message());
  ::chmod(config.directory.c_str(), 0700);
  if (!fs::exists(config.signing_key)) {
    if (!config.create_key_if_missing)
      throw Error(ErrorKind::kEnvironment,
                  config.signing_key.string() +
                      ": no audit signing key; create one with 'warden audit keygen'");
    NoteSigner::generate(config.signing_key, config.public_key, config.origin);
    spdlog::info("created the audit signing key {} (public key {})", config.signing_key.string(),
                 config.public_key.string());
  }
  std::unique_ptr<AuditLog> log(
      new AuditLog(config, NoteSigner::load(config.signing_key, config.origin)));
  std::optional<nlohmann::json> recovered = log->recover();
  if (config.durability == "group")
    log->flusher_ = std::thread([raw = log.get()] { raw->flusher_loop(); });
  // Appended once the flusher runs: in group mode nothing else would sync it.
  if (recovered) log->append(kind::kRecovery, *recovered);
  // Age and size limits apply from the first append, not only at the next
  // new segment, so a log that is reopened often is still trimmed.
  log->retention_due_ = config.retention_max_age_ms > 0 || config.retention_max_bytes > 0;
  return log;
}

AuditLog::AuditLog(const AuditConfig& config, NoteSigner signer)
    : config_(config), signer_(std::move(signer)) {
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

std::optional<nlohmann::json> AuditLog::recover() {
  fs::path checkpoint_path = config_.directory / kCheckpointFile;
  std::optional<Checkpoint> checkpoint;
  if (fs::exists(checkpoint_path))
    checkpoint =
        read_checkpoint(read_whole_file(checkpoint_path).value_or(""), signer_.verifier_key());
  Scan scan = scan_log(config_.directory, config_.origin,
                       {.with_data = false, .canonical_from = checkpoint ? checkpoint->size : 0});
  if (!scan.anchor_note.empty()) {
    try {
      verify_note(scan.anchor_note, signer_.verifier_key());
    } catch (const Error& e) {
      throw Error(ErrorKind::kRefused, "audit log retention anchor: " + std::string(e.what()) +
                                           "; run 'warden audit verify'");
    }
  }
  std::optional<nlohmann::json> recovered;
  if (scan.problem) {
    if (!scan.problem->torn_tail)
      throw Error(ErrorKind::kRefused,
                  "audit log damaged in " + scan.problem->segment + " at byte " +
                      std::to_string(scan.problem->offset) + " (record " +
                      std::to_string(scan.problem->position) + "): " + scan.problem->reason +
                      "; run 'warden audit verify' and keep the files for investigation");
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
                                           ": records were removed; run 'warden audit verify'");
    if (tree_root(scan.tree, checkpoint->size) != checkpoint->root)
      throw Error(ErrorKind::kRefused,
                  "audit log does not match its signed checkpoint; run 'warden audit verify'");
    checkpointed_size_ = checkpoint->size;
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
  std::size_t next_segment = 0;
  for (std::size_t i = 0; i < scan.tree.leaves.size(); ++i) {
    while (next_segment < scan.segments.size() &&
           scan.segments[next_segment].first_index == tree_.size()) {
      const auto& seg = scan.segments[next_segment++];
      segments_.push_back({seg.seq, seg.first_index, tree_, last_leaf_, "", seg.bytes});
    }
    tree_.append(scan.tree.leaves[i]);
    last_leaf_ = scan.tree.leaves[i];
    segments_.back().newest_time = scan.records[i].time;
  }
  for (; next_segment < scan.segments.size(); ++next_segment) {
    const auto& seg = scan.segments[next_segment];
    segments_.push_back({seg.seq, seg.first_index, tree_, last_leaf_, "", seg.bytes});
  }
  synced_tree_ = tree_;
  next_index_ = synced_index_ = scan.size();
  if (scan.last_segment.empty())
    open_segment(scan.anchor ? scan.anchor->first_segment : 1, true);
  else if (scan.last_good_offset == 0)
    open_segment(scan.last_segment_seq, true);  // its header was torn: write it again
  else
    open_segment(scan.last_segment_seq, false);
  return recovered;
}

void AuditLog::open_segment(std::uint64_t seq, bool create) {
  fs::path path = config_.directory / segment_name(seq);
  int flags = O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
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
  segment_bytes_ = file_bytes_ = fs::file_size(path);
  if (segments_.empty() || segments_.back().seq != seq)
    segments_.push_back({seq, next_index_, tree_, last_leaf_, "", segment_bytes_});
  else
    segments_.back().bytes = segment_bytes_;
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

AppendReceipt AuditLog::append(const std::string& kind, nlohmann::json data) {
  AppendReceipt receipt = enqueue(kind, std::move(data));
  wait_durable(receipt.index);
  return receipt;
}

void AuditLog::wait_durable(std::uint64_t index) {
  std::unique_lock lock(mutex_);
  while (synced_index_ <= index && broken_.empty()) {
    // With no delay to wait for, the caller writes the batch itself when no
    // one else is: a sync costs ~0.1 ms here, two thread hand-offs as much.
    if (config_.group_commit_delay_ms == 0 && !flushing_ && !closing_ && fd_ >= 0) {
      flush_batch(lock);
      continue;
    }
    synced_cv_.wait(lock);
  }
  if (synced_index_ <= index)
    throw Error(ErrorKind::kEnvironment, "audit log cannot be written: " + broken_);
}

AppendReceipt AuditLog::enqueue(const std::string& kind, nlohmann::json data) {
  nlohmann::json clean = redacted(std::move(data));
  std::unique_lock lock(mutex_);
  if (!broken_.empty())
    throw Error(ErrorKind::kEnvironment, "audit log cannot be written: " + broken_);
  if (closing_) throw Error(ErrorKind::kEnvironment, "audit log is closed");
  AppendReceipt receipt{next_index_, random_id()};
  std::string time = utc_timestamp();
  nlohmann::json record = {
      {"index", receipt.index}, {"id", receipt.id},           {"time", time},
      {"kind", kind},           {"prev", to_hex(last_leaf_)}, {"data", std::move(clean)}};
  std::string payload = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string frame;
  put_u32(frame, static_cast<std::uint32_t>(payload.size()));
  put_u32(frame, crc32c(payload));
  frame += payload;
  if (payload.size() > kMaxRecordSize)
    throw Error(ErrorKind::kInvalidInput,
                "audit record of " + std::to_string(payload.size()) + " bytes is too large");
  if (segment_bytes_ + frame.size() > config_.segment_bytes && next_index_ > 0) {
    // Earlier records go to the old segment first, in order.
    flushed_cv_.wait(lock, [&] { return !flushing_; });
    if (!flush_pending_locked())
      throw Error(ErrorKind::kEnvironment, "audit log cannot be written: " + broken_);
    synced_index_ = next_index_;
    synced_tree_ = tree_;
    synced_cv_.notify_all();
    try {
      open_segment(segment_seq_ + 1, true);
    } catch (const Error& e) {
      fail(e.what());
      throw;
    }
    retention_due_ = config_.retention_max_age_ms > 0 || config_.retention_max_bytes > 0;
  }
  pending_ += frame;
  segment_bytes_ += frame.size();
  segments_.back().bytes = segment_bytes_;
  segments_.back().newest_time = time;
  Hash leaf = leaf_hash(payload);
  tree_.append(leaf);
  last_leaf_ = leaf;
  ++next_index_;
  if (config_.durability == "every-record") {
    if (!flush_pending_locked())
      throw Error(ErrorKind::kEnvironment, "audit log cannot be written: " + broken_);
    synced_index_ = next_index_;
    synced_tree_ = tree_;
    bool due = std::chrono::steady_clock::now() - last_checkpoint_ >=
               std::chrono::milliseconds(config_.checkpoint_interval_ms);
    if (due) {
      last_checkpoint_ = std::chrono::steady_clock::now();
      std::uint64_t size = synced_index_;
      Hash root = synced_tree_.root();
      lock.unlock();
      write_checkpoint(size, root);
    }
    if (lock.owns_lock()) lock.unlock();
    run_due_retention();
    return receipt;
  }
  // With a delay, the background writer gathers a batch. Without one, a
  // caller that waits syncs the batch itself (wait_durable) rather than race
  // the writer to it; records nobody waits for are synced by the background
  // writer within checkpoint_interval.
  if (config_.group_commit_delay_ms > 0) work_cv_.notify_one();
  lock.unlock();
  run_due_retention();
  return receipt;
}

void AuditLog::write_queued() {
  std::unique_lock lock(mutex_);
  flushed_cv_.wait(lock, [&] { return !flushing_; });
  if (!broken_.empty())
    throw Error(ErrorKind::kEnvironment, "audit log cannot be written: " + broken_);
  if (!write_pending_locked())
    throw Error(ErrorKind::kEnvironment, "audit log cannot be written: " + broken_);
}

bool AuditLog::write_pending_locked() {
  if (pending_.empty()) return true;
  if (!write_all(fd_, pending_)) {
    std::string why = errno_text("write to " + segment_name(segment_seq_));
    // Leave no partial frame behind: the segment stays a clean prefix.
    if (::ftruncate(fd_, static_cast<off_t>(file_bytes_)) != 0)
      why += " (and the partial record could not be cut)";
    fail(why);
    return false;
  }
  file_bytes_ += pending_.size();
  pending_.clear();
  return true;
}

bool AuditLog::flush_pending_locked() {
  if (!write_pending_locked()) return false;
  if (::fdatasync(fd_) != 0) {
    fail(errno_text("fdatasync"));
    return false;
  }
  return true;
}

bool AuditLog::flush_batch(std::unique_lock<std::mutex>& lock) {
  std::uint64_t target = next_index_;
  CompactTree target_tree = tree_;
  std::string batch;
  batch.swap(pending_);
  std::uint64_t base = file_bytes_;
  file_bytes_ += batch.size();
  int fd = ::dup(fd_);
  flushing_ = true;
  lock.unlock();
  std::string why;
  if (fd < 0 || !write_all(fd, batch)) {
    why = errno_text("write to the audit segment");
    if (fd >= 0 && ::ftruncate(fd, static_cast<off_t>(base)) != 0)
      why += " (and the partial batch could not be cut)";
  } else if (::fdatasync(fd) != 0) {
    why = errno_text("fdatasync");
  }
  if (fd >= 0) ::close(fd);
  lock.lock();
  flushing_ = false;
  flushed_cv_.notify_all();
  if (!why.empty()) {
    file_bytes_ = base;
    fail(why);
    return false;
  }
  if (target > synced_index_) {
    synced_index_ = target;
    synced_tree_ = target_tree;
  }
  synced_cv_.notify_all();
  return true;
}

void AuditLog::flusher_loop() {
  std::unique_lock lock(mutex_);
  auto interval = std::chrono::milliseconds(config_.checkpoint_interval_ms);
  while (broken_.empty()) {
    work_cv_.wait_for(lock, interval, [&] { return closing_ || next_index_ > synced_index_; });
    if (next_index_ > synced_index_) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(config_.group_commit_delay_ms));
      lock.lock();
      // A waiting appender may have written the batch meanwhile.
      flushed_cv_.wait(lock, [&] { return !flushing_; });
      if (next_index_ > synced_index_ && !flush_batch(lock)) break;
    }
    if (synced_index_ > checkpointed_size_ &&
        std::chrono::steady_clock::now() - last_checkpoint_ >= interval) {
      last_checkpoint_ = std::chrono::steady_clock::now();
      std::uint64_t size = synced_index_;
      Hash root = synced_tree_.root();
      lock.unlock();
      write_checkpoint(size, root);
      lock.lock();
    }
    if (closing_ && next_index_ == synced_index_) break;
  }
}

void AuditLog::write_atomically(const char* name, const std::string& content) {
  // A temporary name of this writer's own: another process or AuditLog on the
  // same folder writing its checkpoint at the same moment must not rename ours
  // away, nor we theirs.
  std::string tmp_name = (config_.directory / (std::string(name) + ".tmp-XXXXXX")).string();
  int fd = ::mkostemp(tmp_name.data(), O_CLOEXEC);
  fs::path tmp = tmp_name;
  fs::path final_path = config_.directory / name;
  bool ok = fd >= 0 && ::fchmod(fd, 0644) == 0 && write_all(fd, content) && ::fsync(fd) == 0;
  std::string why = ok ? "" : errno_text("cannot write " + tmp.string());
  if (fd >= 0) ::close(fd);
  if (ok && ::rename(tmp.c_str(), final_path.c_str()) != 0) {
    ok = false;
    why = errno_text("cannot rename " + tmp.string());
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    throw Error(ErrorKind::kEnvironment, why);
  }
  sync_directory(config_.directory);
}

void AuditLog::write_checkpoint(std::uint64_t size, const Hash& root) {
  std::lock_guard guard(checkpoint_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (size <= checkpointed_size_ || !broken_.empty()) return;
  }
  std::string note = signer_.sign(checkpoint_text(
      config_.origin, size,
      to_base64(std::string(reinterpret_cast<const char*>(root.data()), root.size()))));
  std::string why;
  try {
    write_atomically(kCheckpointFile, note);
  } catch (const Error& e) {
    why = e.what();
  }
  std::lock_guard lock(mutex_);
  if (!why.empty()) {
    fail(why);
    return;
  }
  checkpointed_size_ = std::max(checkpointed_size_, size);
}

RetentionResult AuditLog::retain(const RetentionRule& rule) {
  std::lock_guard serial(retention_mutex_);
  return retain_locked(rule);
}

RetentionResult AuditLog::retain_locked(const RetentionRule& rule) {
  RetentionResult result;
  RetentionAnchor anchor;
  std::vector<fs::path> doomed;
  {
    std::lock_guard lock(mutex_);
    if (!broken_.empty())
      throw Error(ErrorKind::kEnvironment, "audit log cannot be written: " + broken_);
    std::vector<SegmentSummary> summaries;
    for (const auto& s : segments_) summaries.push_back({s.seq, s.bytes, s.newest_time});
    std::string cutoff;
    if (rule.max_age_ms)
      cutoff = utc_timestamp_at(std::chrono::system_clock::now() -
                                std::chrono::milliseconds(*rule.max_age_ms));
    std::uint64_t keep = first_kept_segment(summaries, rule, cutoff);
    if (segments_.empty() || keep == segments_.front().seq) return result;
    auto kept = std::find_if(segments_.begin(), segments_.end(),
                             [&](const SegmentState& s) { return s.seq == keep; });
    // Every record before the cut is durable: starting a segment synced them.
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
  }
  // The anchor is durable before anything is deleted; a crash after it leaves
  // old segments that the next open (or verify) treats as already cut.
  write_atomically(kRetentionFile, signer_.sign(retention_anchor_text(anchor)));
  append(kind::kRetention, {{"cut_index", result.cut_index},
                            {"first_kept_segment", result.first_kept_segment},
                            {"removed_segments", result.removed},
                            {"bytes_removed", result.bytes_removed},
                            {"root_at_cut", to_hex(anchor.root)}});
  for (const auto& path : doomed) {
    std::error_code ec;
    fs::remove(path, ec);
    if (ec)
      throw Error(ErrorKind::kEnvironment,
                  path.string() + ": cannot delete the old segment: " + ec.message());
  }
  sync_directory(config_.directory);
  {
    std::lock_guard lock(mutex_);
    segments_.erase(segments_.begin(),
                    std::find_if(segments_.begin(), segments_.end(), [&](const SegmentState& s) {
                      return s.seq == result.first_kept_segment;
                    }));
  }
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
    if (!retention_due_) return;
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
    size = synced_index_;
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
    if (closing_ && !flusher_.joinable() && fd_ < 0) return;
    closing_ = true;
  }
  work_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  {
    std::lock_guard lock(mutex_);
    if (broken_.empty() && fd_ >= 0 && synced_index_ < next_index_ && flush_pending_locked()) {
      synced_index_ = next_index_;
      synced_tree_ = tree_;
    }
  }
  checkpoint_now();
  std::lock_guard lock(mutex_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace warden::audit
