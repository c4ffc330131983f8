// Which host process owns a sandbox's leftovers (containers, cgroups,
// staging folders), so that a later host reaps those of a host that died and
// never touches those of one still running: several warden processes share a
// machine. An owner is "<pid>.<start time in clock ticks>", which names a
// process for as long as it lives and never a later one with the same pid.
#pragma once

#include <sys/types.h>

#include <string>

namespace warden::sandboxing {

// This process's owner: "<pid>.<start time>".
const std::string& this_owner();
// The owner of process `pid`, or "" when there is no such process (it may
// exit while its /proc entry is read: that is "" too, never an exception).
std::string owner_of(pid_t pid);
// The owner as it appears in cgroup and container names: "<pid>_<start time>".
std::string owner_tag(const std::string& owner);
// Whether the process the owner (or its tag) names is still running.
bool owner_alive(const std::string& owner_or_tag);

// Kills what runs in, and removes, the cgroups <parent>/<prefix><tag>-... of
// every dead owner (in every hierarchy).
void remove_dead_owners_cgroups(const std::string& parent, const std::string& prefix);

}  // namespace warden::sandboxing
