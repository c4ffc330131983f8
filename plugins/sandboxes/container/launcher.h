// The launcher: every container's first program, a few lines of Python run by
// the image's interpreter, which waits on a FIFO in /sandbox for the host's go,
// starts the program as the launch message says, and stays as the run's
// watchdog. See docs/sandboxes.md, "One run".
#pragma once

#include <warden/plugin.h>

#include <cstdint>
#include <string>
#include <vector>

namespace warden::containers {

// In /sandbox (the staging folder): the FIFO the launcher waits on, the
// message it then reads, and the program.
inline constexpr const char* kGoFifo = ".go";
inline constexpr const char* kLaunchMessage = ".launch.json";
inline constexpr const char* kProgram = "main.py";
// The status and stderr prefix of a launcher that could not start the program.
inline constexpr int kLauncherFailed = 125;
inline constexpr const char* kLauncherPrefix = "warden-launch: ";

// The container's command: `python` (the image's interpreter) running the
// launcher with nothing but the standard library.
std::vector<std::string> launcher_command(const std::string& python);

// What the launcher needs to start the program: argv, environment, working
// folder, its own deadline and the rlimits the container did not fix at
// creation, as JSON.
std::string launch_message(const RunSpec& spec, const std::vector<std::string>& argv);

}  // namespace warden::containers
