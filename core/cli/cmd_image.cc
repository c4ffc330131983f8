// warden image build: a minimal Python root filesystem made from the host's
// interpreter (its binary, standard library and the shared libraries they
// load), imported into Docker and Podman as an image. The podman backend can
// also run straight from the folder. See docs/sandboxes.md.
#include <sys/stat.h>
#include <unistd.h>
#include <warden/error.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "cli/cli.h"
#include "cli/progress.h"
#include "engine/engine_client.h"
#include "engine/engine_defaults.h"
#include "process/tool_process.h"

namespace warden::cli {
namespace {

namespace fs = std::filesystem;
using engine::EngineClient;
using engine::EngineError;

// Parts of the standard library no sandboxed program needs.
const std::set<std::string> kSkippedStdlib = {
    "test",    "idlelib",    "tkinter", "turtledemo",    "ensurepip",
    "lib2to3", "pydoc_data", "venv",    "site-packages", "dist-packages"};

// Runs a helper program and returns its stdout; throws naming it on failure.
std::string output_of(const std::vector<std::string>& argv) {
  tools::ToolProcess process(argv, {{"PATH", "/usr/bin:/bin"}, {"LC_ALL", "C"}}, "/");
  process.close_stdin();
  std::string out;
  int status =
      process.read_to_exit(std::chrono::steady_clock::now() + std::chrono::minutes(5), out);
  if (status != 0)
    throw Error(ErrorKind::kEnvironment, argv[0] + " failed (" + tools::describe_status(status) +
                                             "): " + process.stderr_tail());
  return out;
}

// Copies `source` (following symlinks) to the same absolute path under `root`.
void copy_in(const fs::path& root, const fs::path& source) {
  fs::path target = root / source.relative_path();
  fs::create_directories(target.parent_path());
  fs::copy_file(source, target, fs::copy_options::overwrite_existing);
}

// The shared libraries `elf` loads, as ldd resolves them on this host.
std::set<fs::path> shared_libraries(const fs::path& elf) {
  std::set<fs::path> libraries;
  std::istringstream lines(output_of({"/usr/bin/ldd", elf.string()}));
  for (std::string line; std::getline(lines, line);) {
    auto start = line.find('/');
    auto end = line.find(" (0x");
    if (start == std::string::npos || end == std::string::npos || end < start) continue;
    libraries.insert(line.substr(start, end - start));
  }
  return libraries;
}

bool is_elf(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F';
}

struct BuiltRootfs {
  std::string python_version;
  std::uintmax_t bytes = 0;
};

BuiltRootfs build_rootfs(const fs::path& python, const fs::path& destination) {
  if (::access(python.c_str(), X_OK) != 0)
    throw Error(ErrorKind::kInvalidInput, "--python: " + python.string() + " is not executable");
  std::istringstream facts(output_of({python.string(), "-I", "-c",
                                      "import sys, sysconfig; print(sysconfig.get_path('stdlib')); "
                                      "print(sys.version.split()[0])"}));
  std::string stdlib, version;
  std::getline(facts, stdlib);
  std::getline(facts, version);
  if (stdlib.empty() || version.empty())
    throw Error(ErrorKind::kEnvironment, python.string() + " did not report its standard library");

  fs::path staging = destination.string() + ".new";
  fs::remove_all(staging);
  fs::create_directories(staging);
  // The host's top-level links (/lib -> usr/lib on merged-/usr systems), so
  // that library paths as ldd prints them land in the right place.
  for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"})
    if (fs::is_symlink(top) && fs::read_symlink(top).is_relative()) {
      fs::create_directories(staging / fs::read_symlink(top));
      fs::create_directory_symlink(fs::read_symlink(top), staging / (top + 1));
    }
  for (const char* dir : {"tmp", "sandbox", "proc", "dev", "sys", "run", "var/tmp", "etc"})
    fs::create_directories(staging / dir);
  ::chmod((staging / "tmp").c_str(), 01777);

  fs::path interpreter = fs::canonical(python);
  std::set<fs::path> elves = {interpreter};
  copy_in(staging, interpreter);
  fs::path link = staging / "usr/bin/python3";
  if (!fs::exists(link)) fs::create_symlink(interpreter.filename(), link);

  for (auto it = fs::recursive_directory_iterator(stdlib); it != fs::recursive_directory_iterator();
       ++it) {
    fs::path relative = fs::relative(it->path(), stdlib);
    if (it.depth() == 0 && kSkippedStdlib.count(relative.string())) {
      it.disable_recursion_pending();
      continue;
    }
    std::error_code ec;
    if (!it->is_regular_file(ec)) continue;  // dangling links are left out
    copy_in(staging, it->path());
    if (it->path().extension() == ".so" && is_elf(it->path())) elves.insert(it->path());
  }
  std::set<fs::path> libraries;
  for (const auto& elf : elves)
    for (const auto& library : shared_libraries(elf)) libraries.insert(library);
  for (const auto& library : libraries) copy_in(staging, library);

  std::ofstream(staging / "etc/passwd") << "root:x:0:0:root:/root:/usr/sbin/nologin\n"
                                           "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/"
                                           "nologin\n";
  std::ofstream(staging / "etc/group") << "root:x:0:\nnogroup:x:65534:\n";
  for (const char* empty : {"etc/hosts", "etc/hostname", "etc/resolv.conf"})
    std::ofstream(staging / empty).flush();
  std::ofstream(staging / "etc/warden-rootfs")
      << "python " << version << " from " << interpreter.string() << "\n";

  BuiltRootfs built;
  built.python_version = version;
  for (const auto& entry : fs::recursive_directory_iterator(staging))
    if (entry.is_regular_file() && !entry.is_symlink()) built.bytes += entry.file_size();
  fs::path old = destination.string() + ".old";
  fs::remove_all(old);
  if (fs::exists(destination)) fs::rename(destination, old);
  fs::rename(staging, destination);
  fs::remove_all(old);
  return built;
}

// Imports the folder as image `tag` through an engine's Docker-compatible
// API (POST /images/create?fromSrc=-). Errors can arrive inside a 200
// answer, one JSON message per line: each is checked.
std::string import_image(const std::string& engine, const fs::path& socket, const fs::path& rootfs,
                         const std::string& tag) {
  fs::path tarball = rootfs.string() + ".tar";
  output_of(
      {"/usr/bin/tar", "--numeric-owner", "-C", rootfs.string(), "-cf", tarball.string(), "."});
  EngineClient client(socket, std::chrono::seconds(30));
  std::string repo = tag, version = "latest";
  if (auto colon = tag.rfind(':');
      colon != std::string::npos && tag.find('/', colon) == std::string::npos) {
    repo = tag.substr(0, colon);
    version = tag.substr(colon + 1);
  }
  engine::Response response;
  try {
    response = client.upload("/v1.41/images/create?fromSrc=-&repo=" + repo + "&tag=" + version,
                             tarball, "application/x-tar");
  } catch (...) {
    fs::remove(tarball);
    throw;
  }
  fs::remove(tarball);
  if (response.status != 200)
    throw Error(ErrorKind::kEnvironment,
                engine + ": import refused: " + engine::error_message(response));
  std::istringstream lines(response.body);
  std::string id;
  for (std::string line; std::getline(lines, line);) {
    if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
    auto message = nlohmann::json::parse(line, nullptr, false);
    if (message.is_discarded()) continue;
    if (message.contains("error"))
      throw Error(ErrorKind::kEnvironment, engine + ": import failed: " + message["error"].dump());
    if (message.contains("status") && message["status"].is_string()) id = message["status"];
    if (message.contains("id") && message["id"].is_string()) id = message["id"];
  }
  return id;
}

// A setting of a backend in the configuration, or `fallback`.
std::string backend_setting(Context& context, const std::string& backend, const char* key,
                            const std::string& fallback) {
  const auto& settings = context.config().backends.settings;
  auto it = settings.find(backend);
  if (it == settings.end() || !it->second.value.contains(key)) return fallback;
  if (!it->second.value[key].is_string())
    throw Error(ErrorKind::kConfig,
                it->second.locate(std::string("/") + key + ": expected a string",
                                  "backends.settings." + backend));
  return it->second.value[key].get<std::string>();
}

}  // namespace

void add_image_commands(CLI::App& app, Context& context) {
  auto* image =
      app.add_subcommand("image", "The container image the docker and podman backends run");
  image->require_subcommand(1);
  auto* build = image->add_subcommand(
      "build", "Make a minimal Python root filesystem from the host's interpreter and import it");
  static std::string python = "/usr/bin/python3", rootfs, tag;
  static std::vector<std::string> into = {"docker", "podman"};
  build->add_option("--python", python, "The interpreter to copy")->capture_default_str();
  build->add_option(
      "--rootfs", rootfs,
      std::string("Folder to build (default: backends.settings.podman.rootfs, else ") +
          engine::kDefaultRootfs + ")");
  build->add_option("--tag", tag,
                    std::string("Image name (default: backends.settings.docker.image, else ") +
                        engine::kDefaultImage + ")");
  build->add_option("--import", into, "Engines to import the image into (none: only the folder)")
      ->capture_default_str();
  set_handler(build, [&context] {
    for (const auto& engine : into)
      if (engine != "docker" && engine != "podman" && engine != "none")
        throw Error(ErrorKind::kInvalidInput,
                    "--import: unknown engine '" + engine + "' (docker, podman, none)");
    if (rootfs.empty())
      rootfs = backend_setting(context, "podman", "rootfs", engine::kDefaultRootfs);
    if (tag.empty()) tag = backend_setting(context, "docker", "image", engine::kDefaultImage);
    BuiltRootfs built;
    Progress progress(context.verbosity >= 0, "building the root filesystem " + rootfs);
    try {
      built = build_rootfs(python, rootfs);
    } catch (const fs::filesystem_error& e) {
      throw Error(ErrorKind::kEnvironment,
                  std::string("building the root filesystem: ") + e.what());
    }
    progress.clear();
    std::cout << "built " << rootfs << ": python " << built.python_version << ", "
              << built.bytes / (1 << 20) << " MiB\n";
    int failures = 0;
    for (const auto& engine : into) {
      if (engine == "none") continue;
      std::string socket = backend_setting(
          context, engine, "socket",
          engine == "docker" ? warden::engine::kDockerSocket : warden::engine::kPodmanSocket);
      try {
        Progress importing(context.verbosity >= 0, "importing the image into " + engine);
        std::string id = import_image(engine, socket, rootfs, tag);
        importing.clear();
        std::cout << "imported into " << engine << " as " << tag << " (" << id << ")\n";
      } catch (const EngineError& e) {
        std::cerr << "warden: " << engine << ": not imported: " << e.what() << "\n";
        ++failures;
      }
    }
    return failures == 0 ? 0 : 3;
  });
}

}  // namespace warden::cli
