#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>

namespace warden {

namespace {
constexpr const char* kLoggerName = "warden";
}

void init_logging_once(const std::string& level) {
  if (spdlog::get(kLoggerName) == nullptr) init_logging(level, 0);
}

void init_logging(const std::string& level, int verbosity) {
  static auto logger = [] {
    auto l = spdlog::stderr_color_mt(kLoggerName);
    l->set_pattern("%^warden: %l:%$ %v");
    spdlog::set_default_logger(l);
    return l;
  }();
  int base = spdlog::level::from_str(level);
  int chosen = std::clamp(base - verbosity, static_cast<int>(spdlog::level::trace),
                          static_cast<int>(spdlog::level::off));
  logger->set_level(static_cast<spdlog::level::level_enum>(chosen));
}

}  // namespace warden
