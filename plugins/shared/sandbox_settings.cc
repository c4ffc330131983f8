#include "shared/sandbox_settings.h"

namespace warden::sandboxing {

UidRange uid_range_setting(SettingsReader& read) {
  const nlohmann::json* r = read.field("uid_range");
  if (!r) return kDefaultUidRange;
  if (!r->is_object() || !r->contains("first") || !r->contains("count") ||
      !(*r)["first"].is_number_unsigned() || !(*r)["count"].is_number_unsigned() || r->size() != 2)
    throw settings_error("/uid_range", "expected {first: <uid>, count: <how many>}");
  UidRange range{(*r)["first"].get<std::uint32_t>(), (*r)["count"].get<std::uint32_t>()};
  if (range.count > 0 &&
      (range.first == 0 || range.first + std::uint64_t{range.count} > 0xfffffffeu))
    throw settings_error("/uid_range", "the range must hold neither root nor the invalid uid -1");
  return range;
}

std::string cgroup_parent_setting(SettingsReader& read) {
  std::string parent = read.text("cgroup_parent", "warden");
  if (parent.find('/') != std::string::npos || parent.find("..") != std::string::npos)
    throw settings_error("/cgroup_parent", "expected a plain folder name");
  return parent;
}

std::map<std::string, std::vector<std::string>> interpreters_setting(SettingsReader& read) {
  std::map<std::string, std::vector<std::string>> interpreters = {
      {"python", {"/usr/bin/python3", "-I", "-B"}}};
  const nlohmann::json* map = read.field("interpreters");
  if (!map) return interpreters;
  if (!map->is_object())
    throw settings_error("/interpreters", "expected a mapping of language to argv");
  for (const auto& [language, argv] : map->items()) {
    if (!argv.is_array() || argv.empty() || !argv[0].is_string() ||
        argv[0].get<std::string>().empty() || argv[0].get<std::string>()[0] != '/')
      throw settings_error("/interpreters/" + language,
                           "expected a list of strings starting with an absolute path, e.g. "
                           "[/usr/bin/python3, -I]");
    for (const auto& word : argv)
      if (!word.is_string())
        throw settings_error("/interpreters/" + language, "expected a list of strings");
    interpreters[language] = argv.get<std::vector<std::string>>();
  }
  return interpreters;
}

}  // namespace warden::sandboxing
