// The settings every sandbox backend reads alike (warden.yaml's
// backends.settings.<name>), through the SDK's SettingsReader. Each throws a
// settings_error naming the field.
#pragma once

#include <warden/plugin.h>

#include <map>
#include <string>
#include <vector>

#include "shared/run_uid.h"

namespace warden::sandboxing {

// `uid_range` ({first, count}; count 0 turns it off), kDefaultUidRange when
// absent.
UidRange uid_range_setting(SettingsReader& read);

// `cgroup_parent`: a plain folder name under warden's cgroup ("warden").
std::string cgroup_parent_setting(SettingsReader& read);

// `interpreters`: language -> argv, the first an absolute path; python is
// /usr/bin/python3 -I -B unless given.
std::map<std::string, std::vector<std::string>> interpreters_setting(SettingsReader& read);

}  // namespace warden::sandboxing
