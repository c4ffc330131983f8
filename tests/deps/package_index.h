// package_index.py (beside this file) as a C++ object, for deps_tests and
// bench_deps: a local PEP 503 index on loopback over HTTP and HTTPS, a
// forbidden twin, TCP and UDP listeners; stopped and removed with the object.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace warden::test {

class PackageIndex {
 public:
  // Starts package_index.py from `script_dir`; throws std::runtime_error
  // with what it printed when it does not come up.
  explicit PackageIndex(const std::string& script_dir) {
    char name[] = "/tmp/warden-index-XXXXXX";
    if (::mkdtemp(name) == nullptr) throw std::runtime_error("cannot make a temporary folder");
    folder_ = name;
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
      throw std::runtime_error("cannot make pipes");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    std::string script = script_dir + "/package_index.py";
    std::string folder = folder_.string();
    std::vector<char*> argv = {const_cast<char*>("/usr/bin/python3"), script.data(), folder.data(),
                               nullptr};
    int spawned = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    std::string line;
    char c;
    while (spawned == 0 && ::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    try {
      ports_ = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      throw std::runtime_error("package_index.py did not start: '" + line + "'");
    }
  }
  ~PackageIndex() {
    ::close(stdin_);
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
  }
  PackageIndex(const PackageIndex&) = delete;
  PackageIndex& operator=(const PackageIndex&) = delete;

  int port(const char* name) const { return ports_.at(name).get<int>(); }
  std::string ca() const { return ports_.at("ca"); }
  // The machine's non-loopback address ("" when it has none).
  std::string host_address() const { return ports_.at("host_address"); }
  const nlohmann::json& ports() const { return ports_; }
  // The folder of the wheels (a --find-links folder for pip).
  const std::filesystem::path& folder() const { return folder_; }

  // The servers' log lines so far: "index get /simple/wardendemo/",
  // "forbidden connect 127.0.0.1", "tcp connect ...", "udp datagram ...".
  std::vector<std::string> log() const {
    std::vector<std::string> lines;
    std::ifstream in(folder_ / "log");
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  std::size_t lines_from(const std::string& server) const {
    std::size_t n = 0;
    for (const auto& line : log()) n += line.starts_with(server + " ") ? 1 : 0;
    return n;
  }

  // The dependencies section of a warden.yaml that installs from the HTTPS
  // index (as index.test) into `cache`, allowing these packages.
  std::string dependencies_yaml(const std::filesystem::path& cache) const {
    return "dependencies:\n"
           "  indexes: [https://index.test:" +
           std::to_string(port("index_https")) +
           "/simple]\n"
           "  packages: {wardendemo: \"\", wardendep: \">=2\", wardenpulls: \"\", wardenhook: \"\","
           " wardenfar: \"\"}\n"
           "  cache: " +
           cache.string() + "\n  ca_file: " + ca() +
           "\n"
           "  egress:\n"
           "    resolve: {index.test: 127.0.0.1, forbidden.test: 127.0.0.1}\n"
           "    allow_networks: [127.0.0.0/8]\n";
  }

 private:
  std::filesystem::path folder_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  nlohmann::json ports_;
};

}  // namespace warden::test
