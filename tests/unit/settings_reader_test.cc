// The SDK's SettingsReader, through which every in-tree plugin reads its
// settings, and what a bad setting of a real plugin says in warden.yaml.
#include <warden/plugin.h>

#include <catch2/catch.hpp>

#include "config/config.h"
#include "plugin/loader.h"

using namespace warden;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const PluginError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("SettingsReader checks each field it is asked for and refuses the others") {
  nlohmann::json settings = {{"path", "/usr/bin/x"},
                             {"count", 3},
                             {"name", "abc"},
                             {"paths", {"/a", "/b"}},
                             {"extra", true}};
  SettingsReader read(settings, "demo");
  CHECK(read.absolute_path("path", "/fallback", "a tool") == "/usr/bin/x");
  CHECK(read.absolute_path("absent", "/fallback", "a tool") == "/fallback");
  CHECK(read.whole_number("count", 1, 1, 16) == 3);
  CHECK(read.text("name", "") == "abc");
  CHECK(read.absolute_paths("paths", {}) == std::vector<std::string>{"/a", "/b"});
  CHECK(error_of([&] { read.finish(); }) ==
        "/extra: unknown setting (demo has path, absent, count, name, paths)");

  nlohmann::json bad = {{"path", "relative"}, {"count", 99}, {"name", ""}, {"paths", {"/a", "b"}}};
  SettingsReader strict(bad, "demo");
  CHECK(error_of([&] { strict.absolute_path("path", "", "a tool"); }) ==
        "/path: expected the absolute path of a tool");
  CHECK(error_of([&] { strict.whole_number("count", 1, 1, 16); }) ==
        "/count: expected a whole number from 1 to 16");
  CHECK(error_of([&] { strict.text("name", "x"); }) == "/name: expected a non-empty string");
  CHECK(error_of([&] { strict.absolute_paths("paths", {}); }) == "/paths: expected absolute paths");
}

TEST_CASE("a plugin's bad setting names the plugin's fields at warden.yaml's line") {
  for (const auto& [plugin, field] : {std::pair{"bandit", "wokers"}, {"semgrep", "rule"}}) {
    Config config = parse_config(
        std::string("assessors:\n  settings:\n    ") + plugin + ":\n      " + field + ": 2\n",
        "/etc/w.yaml", "/");
    PluginCatalog catalog;
    catalog.load_file(std::string(WARDEN_PLUGIN_DIR) + "/" + plugin + ".so");
    INFO(plugin);
    try {
      catalog.create_assessor(plugin, config.assessors.settings.at(plugin),
                              std::string("assessors.settings.") + plugin);
      FAIL("the bad setting was accepted");
    } catch (const Error& e) {
      std::string message = e.what();
      CHECK_THAT(message, Catch::Contains(std::string("/etc/w.yaml:4:")));
      CHECK_THAT(message,
                 Catch::Contains(std::string("assessors.settings.") + plugin + "." + field));
      CHECK_THAT(message, Catch::Contains(std::string("unknown setting (") + plugin + " has"));
    }
  }
}
