#include "shared/run_mounts.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace warden::sandboxing {
namespace {

// Run as `python -I -B -c <this> <program> <args...>`: sys.argv is then
// ['-c', program, args...]. The names it uses leave __main__'s globals as a
// script's would be (sys is deleted again; __file__ is the program's).
std::string site_bootstrap() {
  return std::string("import sys; sys.argv[:] = sys.argv[1:]; sys.path.insert(0, '") +
         kSiteDirPath +
         "'); __file__ = sys.argv[0]; del sys; "
         "exec(compile(open(__file__, 'rb').read(), __file__, 'exec'))";
}

[[noreturn]] void refuse(const std::string& why) {
  throw PluginError(WARDEN_ERR_INVALID_ARGUMENT, why);
}

}  // namespace

void check_run_mounts(const RunSpec& spec) {
  bool egress = false;
  switch (spec.network) {
    case NetworkMode::kNone:
    case NetworkMode::kOpen: egress = false; break;
    case NetworkMode::kEgress: egress = true; break;
  }
  if (egress && spec.egress_socket.empty())
    refuse("network egress needs egress_socket, the host path of the egress proxy's socket");
  if (!egress && !spec.egress_socket.empty())
    refuse(std::string("egress_socket is set but the network is '") + to_string(spec.network) +
           "': it is only for network egress");
  struct stat st {};
  if (egress) {
    if (spec.egress_socket.front() != '/')
      refuse("egress_socket " + spec.egress_socket + ": not an absolute path");
    if (::lstat(spec.egress_socket.c_str(), &st) != 0)
      refuse("egress_socket " + spec.egress_socket + ": " + std::strerror(errno));
    if (!S_ISSOCK(st.st_mode))
      refuse("egress_socket " + spec.egress_socket + ": not a unix socket");
  }
  if (!spec.site_dir.empty()) {
    if (spec.site_dir.front() != '/')
      refuse("site_dir " + spec.site_dir + ": not an absolute path");
    if (::lstat(spec.site_dir.c_str(), &st) != 0)
      refuse("site_dir " + spec.site_dir + ": " + std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) refuse("site_dir " + spec.site_dir + ": not a folder");
  }
}

std::vector<std::string> program_argv(const std::vector<std::string>& interpreter,
                                      const std::string& program, const RunSpec& spec) {
  std::vector<std::string> argv = interpreter;
  if (!spec.site_dir.empty()) argv.insert(argv.end(), {"-c", site_bootstrap()});
  argv.push_back(program);
  argv.insert(argv.end(), spec.args.begin(), spec.args.end());
  return argv;
}

}  // namespace warden::sandboxing
