// File writes the core does in several places: all of a buffer, a folder's
// entries made durable, a whole file replaced in one step.
#pragma once

#include <filesystem>
#include <string_view>

namespace warden {

// Writes all of `bytes` to `fd`, retrying short writes and EINTR. False (with
// errno set) when a write fails.
bool write_all(int fd, std::string_view bytes);

// fsync of the folder itself, so that names made, renamed or removed in it
// survive a crash. Throws Error(kEnvironment) naming it.
void sync_directory(const std::filesystem::path& dir);

// Replaces `path` with `content` (mode 0644) in one step: written and synced
// under a temporary name of its own beside it (another writer of the same
// path never renames ours away), renamed over it, and the folder synced.
// Throws Error(kEnvironment) naming what failed (a full disk among them);
// nothing is left behind then.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace warden
