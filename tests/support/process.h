// Test support: run a program, capture what it prints, and temporary folders.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace warden::test {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) with the given arguments, extra environment variables
// and standard input; waits for it and returns what it printed.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {},
                          const std::string& stdin_data = "");

// As run_process, but the program's standard error is a terminal (a
// pseudo-terminal whose output is returned in `err`, with the terminal's
// \n -> \r\n translation), as when a person runs it.
ProcessResult run_process_on_terminal(const std::vector<std::string>& argv,
                                      const std::map<std::string, std::string>& env = {});

// The warden program of this build tree.
std::string warden_binary();

// A fresh folder under the system temp dir, removed with its contents when
// the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

// Reads a whole file, or what could be read of it: never throws (a /proc
// file of a process that exits meanwhile fails its read with ESRCH).
std::string read_file(const std::filesystem::path& path);

// Whether the test suite runs under CI=true, where a missing component fails
// instead of being skipped.
bool under_ci();

}  // namespace warden::test
