#include "policy/system_info.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace warden::policy {

namespace {

// The whole of a small /proc file in one read (an ifstream costs more than
// the kernel takes to make the text).
std::string read_proc_file(const char* path) {
  char buffer[8192];
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
}

// "MemAvailable:   123456 kB" -> bytes; 0 when the field is missing.
std::uint64_t meminfo_bytes(const std::string& meminfo, const char* field) {
  std::size_t at = meminfo.find(field);
  if (at == std::string::npos) return 0;
  return std::strtoull(meminfo.c_str() + at + std::strlen(field), nullptr, 10) * 1024;
}

}  // namespace

nlohmann::json system_snapshot() {
  cpu_set_t set;
  CPU_ZERO(&set);
  long cpus =
      sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
  std::string meminfo = read_proc_file("/proc/meminfo");
  double load1 = std::strtod(read_proc_file("/proc/loadavg").c_str(), nullptr);
  return {{"cpus", cpus},
          {"free_memory_bytes", meminfo_bytes(meminfo, "MemAvailable:")},
          {"total_memory_bytes", meminfo_bytes(meminfo, "MemTotal:")},
          {"load1", load1}};
}

}  // namespace warden::policy
