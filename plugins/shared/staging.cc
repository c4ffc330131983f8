#include "shared/staging.h"

#include <sys/stat.h>
#include <unistd.h>
#include <warden/plugin.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "shared/launcher.h"

namespace warden::sandboxing {

StagingFolder::StagingFolder(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_.parent_path(), ec);
  if (::mkdir(dir_.c_str(), 0755) != 0)
    throw PluginError(WARDEN_ERR_INTERNAL, "cannot create the staging folder " + dir_.string() +
                                               ": " + std::strerror(errno));
  ::chmod(dir_.c_str(), 0755);  // whatever the umask: the sandbox user reads it
  if (::mkfifo(fifo().c_str(), 0644) != 0)
    throw PluginError(WARDEN_ERR_INTERNAL,
                      "cannot create " + fifo().string() + ": " + std::strerror(errno));
  ::chmod(fifo().c_str(), 0644);
  place_launcher();
}

void StagingFolder::place_launcher() const {
  std::filesystem::path program = launcher_program(), placed = dir_ / kLauncher;
  // A link shares the original's mode: only one anybody may run will do.
  struct stat st {};
  if (::stat(program.c_str(), &st) == 0 && (st.st_mode & 0005) == 0005 &&
      ::link(program.c_str(), placed.c_str()) == 0)
    return;
  std::error_code ec;
  std::filesystem::copy_file(program, placed, ec);
  if (ec)
    throw PluginError(WARDEN_ERR_UNAVAILABLE, "cannot place the sandbox's launcher " +
                                                  program.string() + " in " + dir_.string() + ": " +
                                                  ec.message());
  ::chmod(placed.c_str(), 0555);
}

StagingFolder::~StagingFolder() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::filesystem::path StagingFolder::fifo() const {
  return dir_ / kGoFifo;
}

void StagingFolder::write(const char* name, std::string_view content) const {
  std::filesystem::path file = dir_ / name;
  std::ofstream out(file, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) throw PluginError(WARDEN_ERR_INTERNAL, "cannot write " + file.string());
  ::chmod(file.c_str(), 0444);
}

}  // namespace warden::sandboxing
