#include "shared/owner.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "shared/cgroup.h"

namespace warden::sandboxing {
namespace {

std::string process_identity(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  // Field 22 (starttime); fields(3..) start after the command name.
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  return std::to_string(pid) + "." + field;
}

}  // namespace

const std::string& this_owner() {
  static const std::string owner = process_identity(::getpid());
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
  return pid > 0 && process_identity(pid) == owner;
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
