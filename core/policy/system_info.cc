#include "policy/system_info.h"

#include <sched.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace warden::policy {

nlohmann::json system_snapshot() {
  cpu_set_t set;
  CPU_ZERO(&set);
  long cpus =
      sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
  std::uint64_t total = 0, available = 0;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib) {
    std::getline(meminfo, unit);
    if (key == "MemTotal:") total = kib * 1024;
    if (key == "MemAvailable:") available = kib * 1024;
  }
  double load1 = 0;
  std::ifstream("/proc/loadavg") >> load1;
  return {{"cpus", cpus},
          {"free_memory_bytes", available},
          {"total_memory_bytes", total},
          {"load1", load1}};
}

}  // namespace warden::policy
