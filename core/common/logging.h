// Logging through spdlog, always to stderr so that stdout stays
// machine-readable. Safe to call log functions from any thread.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace warden {

// Sets up the default logger. `level` is a config level name ("info", ...);
// `verbosity` from -v (positive) or -q (negative) shifts it.
void init_logging(const std::string& level, int verbosity);

// For embedders: sets up logging at `level` unless the program already did
// (the CLI does, with -v/-q applied), so that nothing is ever logged to stdout.
void init_logging_once(const std::string& level);

}  // namespace warden
