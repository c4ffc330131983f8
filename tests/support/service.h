// Test support: a real `warden serve` of this build tree, as a child process.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace warden::test {

class ServiceProcess {
 public:
  // Starts `warden --config <config> serve` (its stderr goes to `log`) and
  // waits until `socket` accepts connections; throws std::runtime_error with
  // the log when it does not within 60 s or the service exits.
  ServiceProcess(const std::filesystem::path& config, const std::filesystem::path& socket,
                 const std::filesystem::path& log);
  // SIGKILLs the service if it still runs.
  ~ServiceProcess();
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `signal` and waits for the service to end; returns its wait status.
  int stop(int signal);
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

}  // namespace warden::test
