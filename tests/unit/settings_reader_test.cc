// The SDK's SettingsReader, through which every in-tree plugin reads its
// settings (what a bad setting of bandit or semgrep says: tests/tools).
#include <warden/plugin.h>

#include <catch2/catch.hpp>
#include <functional>

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
