#include "shared/owner.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "shared/cgroup.h"

namespace warden::sandboxing {

std::string owner_of(pid_t pid) {
  // Streamed whole, so that a failed read (ESRCH: the process is exiting)
  // ends the text instead of throwing, as an istreambuf_iterator would.
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::ostringstream text;
  text << in.rdbuf();
  std::string stat = text.str();
  auto close = stat.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  // Field 22 (starttime); fields(3..) start after the command name.
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  return std::to_string(pid) + "." + field;
}

const std::string& this_owner() {
  static const std::string owner = owner_of(::getpid());
  return owner;
}

std::string owner_tag(const std::string& owner) {
  std::string tag = owner;
  std::replace(tag.begin(), tag.end(), '.', '_');
  return tag;
}

bool owner_alive(const std::string& owner_or_tag) {
  std::string owner = owner_or_tag;
  std::replace(owner.begin(), owner.end(), '_', '.');
  auto dot = owner.find('.');
  if (dot == std::string::npos) return false;
  pid_t pid = 0;
  try {
    pid = static_cast<pid_t>(std::stol(owner.substr(0, dot)));
  } catch (const std::exception&) {
    return false;
  }
  return pid > 0 && owner_of(pid) == owner;
}

void remove_dead_owners_cgroups(const std::string& parent, const std::string& prefix) {
  Cgroup::remove_stale(parent, [&](const std::string& name) {
    if (name.rfind(prefix, 0) != 0) return false;
    auto end = name.find('-', prefix.size());
    if (end == std::string::npos) return false;
    return !owner_alive(name.substr(prefix.size(), end - prefix.size()));
  });
}

}  // namespace warden::sandboxing
