#include "audit/quarantine.h"

#include <fcntl.h>
#include <unistd.h>
#include <warden/error.h>

#include <algorithm>
#include <fstream>
#include <regex>

#include "audit/folder_lock.h"
#include "audit/log_format.h"
#include "audit/note_signer.h"
#include "audit/retention.h"
#include "common/text.h"

namespace warden::audit {
namespace fs = std::filesystem;
namespace {

// What belongs to the log itself: segments, the checkpoint, the retention
// anchor, and temporaries a crash may have left of the last two. The lock
// file, the quarantine folder and anything else stay where they are.
bool belongs_to_log(const std::string& name) {
  static const std::regex kLogFile(
      R"(seg-\d{8}\.wal|checkpoint|retention|(checkpoint|retention)\.tmp-.*)");
  return std::regex_match(name, kLogFile);
}

void sync_folder(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    throw Error(ErrorKind::kEnvironment, dir.string() + ": cannot sync the folder");
  }
  ::close(fd);
}

}  // namespace

QuarantineResult quarantine(const AuditConfig& config, const std::string& reason, bool force) {
  const fs::path& dir = config.directory;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorKind::kInvalidInput,
                dir.string() + ": no audit folder there, so nothing to quarantine");
  QuarantineResult result;
  nlohmann::json files = nlohmann::json::array();
  {
    FolderLock lock = FolderLock::for_writer(dir);
    FolderLock::Held appends(lock, FolderLock::Range::kAppend, true);
    FolderLock::Held checkpoints(lock, FolderLock::Range::kCheckpoint, true);
    result.report = verify_log(dir, config.origin, read_verifier_key(config.public_key),
                               std::nullopt, Locking::kHeldByCaller);
    if (result.report.intact && !force)
      throw Error(ErrorKind::kRefused,
                  dir.string() +
                      ": the audit log is intact, so there is nothing to quarantine (use "
                      "--force to set an intact log aside all the same)");
    std::string stamp = utc_timestamp();
    std::replace(stamp.begin(), stamp.end(), ':', '-');
    result.moved_to = dir / "quarantine" / stamp;
    fs::create_directories(result.moved_to, ec);
    if (ec)
      throw Error(
          ErrorKind::kEnvironment,
          result.moved_to.string() + ": cannot create the quarantine folder: " + ec.message());
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_regular_file() && belongs_to_log(entry.path().filename()))
        names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      QuarantinedFile file{name, 0, ""};
      if (auto bytes = read_whole_file(dir / name)) {
        file.bytes = bytes->size();
        file.sha256 = sha256_hex(*bytes);
      }
      fs::rename(dir / name, result.moved_to / name, ec);
      if (ec)
        throw Error(ErrorKind::kEnvironment, (dir / name).string() + ": cannot move it into " +
                                                 result.moved_to.string() + ": " + ec.message() +
                                                 " (files moved so far are there)");
      result.files.push_back(file);
    }
    for (const auto& f : result.files)
      files.push_back({{"name", f.name}, {"bytes", f.bytes}, {"sha256", f.sha256}});
    nlohmann::json note = {{"quarantined_at", utc_timestamp()},
                           {"reason", reason},
                           {"verify", result.report.to_json()},
                           {"files", files}};
    std::ofstream(result.moved_to / "QUARANTINE.json") << note.dump(2) << "\n";
    sync_folder(result.moved_to);
    sync_folder(dir);
  }
  auto log = AuditLog::open(config);
  result.record = log->append(kind::kQuarantine, {{"moved_to", result.moved_to.string()},
                                                  {"reason", reason},
                                                  {"verify", result.report.to_json()},
                                                  {"files", files}});
  log->close();
  return result;
}

}  // namespace warden::audit
