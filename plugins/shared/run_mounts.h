// What every backend does alike with a run's egress socket and site folder
// (RunSpec::egress_socket, RunSpec::site_dir): the checks that refuse a
// spec whose network mode and socket do not match, and the program's command
// line that makes the site folder importable. See docs/sandboxes.md,
// "Egress and installed packages".
#pragma once

#include <warden/plugin.h>

#include <string>
#include <vector>

namespace warden::sandboxing {

// Throws PluginError(WARDEN_ERR_INVALID_ARGUMENT), before anything is made
// for the run, when: the network is egress without an egress socket, or
// another mode with one; the socket is not an absolute path to an existing
// unix socket (a symbolic link is not followed); the site folder is not an
// absolute path to an existing folder (nor a link to one).
void check_run_mounts(const RunSpec& spec);

// True when the run binds something of its own (an egress socket, a site
// folder): the warm sandboxes, started with fixed mounts, cannot serve it,
// so it runs in a sandbox made for it.
inline bool has_own_mounts(const RunSpec& spec) {
  return !spec.egress_socket.empty() || !spec.site_dir.empty();
}

// The program's command line: `interpreter` (its argv, "-I" and all), the
// program at `program`, then the run's arguments. With a site folder, Python
// in isolated mode (-I, which implies -E) would ignore the PYTHONPATH the
// host sets, so the folder is passed explicitly: the interpreter runs a
// one-line bootstrap (-c) that puts kSiteDirPath first on sys.path, where
// PYTHONPATH would have put it, sets sys.argv to [program, args...] and
// executes the program as __main__ (its __file__ the program's path).
std::vector<std::string> program_argv(const std::vector<std::string>& interpreter,
                                      const std::string& program, const RunSpec& spec);

}  // namespace warden::sandboxing
