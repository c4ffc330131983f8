// The launcher: the first program of every container and of every native
// warm sandbox, warden-launch (launcher_main.cc, a static executable the
// staging folder holds), which waits on a FIFO in /sandbox for the host's go,
// starts the program as the launch message says, and stays as the run's
// watchdog. See docs/sandboxes.md, "One run".
#pragma once

#include <warden/plugin.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

namespace warden::sandboxing {

// In /sandbox (the staging folder): the launcher, the FIFO it waits on, the
// message it then reads, and the program.
inline constexpr const char* kLauncher = "warden-launch";
inline constexpr const char* kGoFifo = ".go";
inline constexpr const char* kLaunchMessage = ".launch.json";
inline constexpr const char* kProgram = "main.py";
// The status and stderr prefix of a launcher that could not start the program.
inline constexpr int kLauncherFailed = 125;
inline constexpr const char* kLauncherPrefix = "warden-launch: ";

// The sandbox's command: the launcher in /sandbox.
std::vector<std::string> launcher_command();

// warden-launch on the host: beside warden-plugin-host, in the folder above
// the calling plugin's own (<libdir>/warden/).
std::filesystem::path launcher_program();

// An rlimit the launcher sets in the program's process before exec: the
// name after RLIMIT_, soft, hard. It can only lower a hard limit.
using LaunchRlimit = std::tuple<std::string, std::uint64_t, std::uint64_t>;

// What the launcher needs to start the program: argv, environment, working
// folder, its own deadline and the rlimits the sandbox did not fix when it
// started (file size, CPU, core, then `more`), as JSON. `status_fd`: an fd
// the launcher holds (the sandbox's own, not the program's) on which it writes
// the program's status as it exits; -1 for none. `stdio`: the launcher's fds
// that become the program's stdin, stdout and stderr; empty for its own 0, 1, 2.
std::string launch_message(const RunSpec& spec, const std::vector<std::string>& argv,
                           const std::vector<LaunchRlimit>& more = {}, int status_fd = -1,
                           const std::vector<int>& stdio = {});

}  // namespace warden::sandboxing
