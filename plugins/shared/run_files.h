// A run's files on the host side of its scratch space (scratch_mount.h):
// the input files placed before the program starts, and the files it left
// handed back after it ended. Shared by every backend, so that the same
// request gives the same files everywhere.
#pragma once

#include <warden/plugin.h>

#include <filesystem>
#include <vector>

namespace warden::sandboxing {

// Places `files` in `dir` before the program starts: each file mode 0444 and
// each folder made for them 0755, owned by the host's user. The scratch
// folder is sticky (1777), so the program, another user, can read them but
// not change, rename or remove them. Throws PluginError: UNSUPPORTED when
// they do not fit the scratch space, INTERNAL otherwise.
void place_input_files(const std::filesystem::path& dir, const std::vector<InputFile>& files);

// Once the program and everything it started are gone: hands the regular
// files under `dir` other than request.input_files to request.output_files,
// in path order, while they fit the spec's limits.output_files and
// limits.output_files_bytes. What was left out goes into
// result.files_skipped with the reason: files over a limit, files that are
// not regular (a symbolic link is never followed), names that are not run
// file paths; at most kMaxSkippedListed of them, then one entry counting the
// rest and one saying so when the folder had too many entries to look at
// all. A limit that left a file out adds "output_files" to result.limits_hit.
inline constexpr std::size_t kMaxSkippedListed = 64;
void hand_back_output_files(const std::filesystem::path& dir, const RunRequest& request,
                            RunResult& result);

}  // namespace warden::sandboxing
