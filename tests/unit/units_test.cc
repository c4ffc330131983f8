#include <catch2/catch.hpp>

#include "common/units.h"

using warden::parse_duration_ms;
using warden::parse_size;

TEST_CASE("sizes parse in binary units") {
  CHECK(parse_size("4096") == 4096u);
  CHECK(parse_size("64k") == 65536u);
  CHECK(parse_size("64KiB") == 65536u);
  CHECK(parse_size("256MiB") == 256ull << 20);
  CHECK(parse_size("1.5G") == 3ull << 29);
  CHECK(parse_size(" 2 GiB ") == 2ull << 30);
  CHECK_FALSE(parse_size("lots"));
  CHECK_FALSE(parse_size("-1"));
  CHECK_FALSE(parse_size("12XB"));
  CHECK_FALSE(parse_size(""));
  CHECK_FALSE(parse_size("99999999999T"));
}

TEST_CASE("durations parse to milliseconds") {
  CHECK(parse_duration_ms("250ms") == 250u);
  CHECK(parse_duration_ms("10s") == 10000u);
  CHECK(parse_duration_ms("1.5") == 1500u);
  CHECK(parse_duration_ms("2m") == 120000u);
  CHECK(parse_duration_ms("1h") == 3600000u);
  CHECK_FALSE(parse_duration_ms("soon"));
  CHECK_FALSE(parse_duration_ms("10 parsecs"));
}

TEST_CASE("sizes format for people") {
  CHECK(warden::format_size(512) == "512 B");
  CHECK(warden::format_size(256ull << 20) == "256 MiB");
  CHECK(warden::format_size(3ull << 29) == "1.5 GiB");
}
