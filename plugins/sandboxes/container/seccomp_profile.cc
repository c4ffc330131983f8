#include "seccomp_profile.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "shared/denied_syscalls.h"

namespace warden::containers {
namespace {

nlohmann::json masked_equal(unsigned index, std::uint64_t mask, std::uint64_t value) {
  return {{"index", index}, {"value", mask}, {"valueTwo", value}, {"op", "SCMP_CMP_MASKED_EQ"}};
}

// Warden's own rules for socket() and ioctl(), as native's filter has them
// (denied_syscalls.h). An allow list cannot say "any family but these", and
// an unconditional allow of a call overrides every conditional refusal of it,
// so each allowed (family, type) pair is allowed by name, 32 bits compared.
nlohmann::json socket_and_ioctl_rules() {
  using sandboxing::kIntArgumentMask;
  using sandboxing::kSocketTypeMask;
  auto rule = [](const char* name, const char* action, nlohmann::json args) {
    return nlohmann::json{{"names", {name}}, {"action", action}, {"args", std::move(args)}};
  };
  nlohmann::json rules = nlohmann::json::array();
  const auto& denied = sandboxing::denied_socket_families();
  const auto& types = sandboxing::allowed_socket_types();
  for (int family : denied) {
    auto refuse = rule("socket", "SCMP_ACT_ERRNO", {masked_equal(0, kIntArgumentMask, family)});
    refuse["errnoRet"] = EAFNOSUPPORT;
    rules.push_back(refuse);
  }
  for (int family = 0; family < AF_MAX; ++family) {
    if (std::find(denied.begin(), denied.end(), family) != denied.end()) continue;
    for (int type : types)
      rules.push_back(rule(
          "socket", "SCMP_ACT_ALLOW",
          {masked_equal(0, kIntArgumentMask, family), masked_equal(1, kSocketTypeMask, type)}));
  }
  for (std::uint64_t type = 0; type <= kSocketTypeMask; ++type)
    if (std::find(types.begin(), types.end(), static_cast<int>(type)) == types.end()) {
      auto refuse = rule("socket", "SCMP_ACT_ERRNO", {masked_equal(1, kSocketTypeMask, type)});
      refuse["errnoRet"] = EPERM;
      rules.push_back(refuse);
    }
  // ioctl: every request whose low 32 bits differ from TIOCSTI in some bit
  // (the tty layer compares the request as unsigned int).
  for (unsigned bit = 0; bit < 32; ++bit) {
    std::uint64_t mask = std::uint64_t{1} << bit;
    rules.push_back(rule("ioctl", "SCMP_ACT_ALLOW", {masked_equal(1, mask, ~TIOCSTI & mask)}));
  }
  auto refuse = rule("ioctl", "SCMP_ACT_ERRNO", {masked_equal(1, kIntArgumentMask, TIOCSTI)});
  refuse["errnoRet"] = EPERM;
  rules.push_back(refuse);
  return rules;
}

}  // namespace

std::string derive_seccomp_profile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the seccomp profile " + path.string());
  nlohmann::json profile = nlohmann::json::parse(in, nullptr, false);
  if (profile.is_discarded() || !profile.contains("syscalls") || !profile["syscalls"].is_array())
    throw std::runtime_error("the seccomp profile " + path.string() + " is not a profile");
  if (profile.value("defaultAction", "") == "SCMP_ACT_ALLOW")
    throw std::runtime_error("the seccomp profile " + path.string() +
                             " allows by default; warden needs an allow list");
  const auto& denied = sandboxing::denied_syscalls();
  auto is_denied = [&](const std::string& name) {
    return std::find(denied.begin(), denied.end(), name) != denied.end();
  };
  nlohmann::json rules = nlohmann::json::array();
  for (auto rule : profile["syscalls"]) {
    if (rule.contains("names")) {
      bool allows = rule.value("action", "") == "SCMP_ACT_ALLOW";
      nlohmann::json names = nlohmann::json::array();
      for (const auto& entry : rule["names"]) {
        std::string name = entry.get<std::string>();
        if (name == "socket" || name == "ioctl" || (allows && is_denied(name))) continue;
        names.push_back(name);
      }
      if (names.empty()) continue;
      rule["names"] = names;
    }
    rules.push_back(rule);
  }
  for (auto& rule : socket_and_ioctl_rules()) rules.push_back(std::move(rule));
  profile["syscalls"] = rules;
  return profile.dump();
}

}  // namespace warden::containers
