// Loads plugins through the versioned C ABI (sdk/include/warden/plugin_abi.h)
// and wraps their instances in C++ objects.
//
// Ownership: a library stays loaded while anything it created is alive. Every
// Assessor and SandboxBackend holds a reference to its LoadedPlugin, which
// holds the library; the catalog can be destroyed before them.
//
// Thread safety: a PluginCatalog is filled from one thread; once filled, its
// const methods may be called from any thread. Assessor::assess(),
// SandboxBackend::run() and probe() may be called from many threads at once.
#pragma once

#include <warden/plugin_abi.h>
#include <warden/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <warden/error.h>
#include "config/yaml_reader.h"

namespace warden {

const char* to_string(warden_status status);
const char* kind_name(std::uint32_t kind);

// A call into a plugin failed; status() is what the plugin returned.
class PluginCallError : public Error {
 public:
  PluginCallError(warden_status status, const std::string& message);
  warden_status status() const noexcept { return status_; }

 private:
  warden_status status_;
};

// What the loader made of one file or descriptor, for `warden plugins list`.
struct PluginRecord {
  std::string name;  // empty when the file could not be read at all
  std::string kind;  // "assessor", "sandbox" or "unknown"
  std::string version;
  std::string description;
  std::string abi;     // "major.minor" the plugin was built for
  std::string origin;  // file path or "<memory>"
  bool loaded = false;
  std::string error;  // why it was refused, when not loaded
};

// A plugin file opened once and checked through its descriptor (owner, mode,
// regular file): whatever is loaded from it, here or in warden-plugin-host,
// is the file that was checked, whatever happens to its name afterwards.
class PluginFile {
 public:
  // Takes ownership of `fd`.
  PluginFile(int fd, std::filesystem::path origin);
  ~PluginFile();
  PluginFile(const PluginFile&) = delete;
  PluginFile& operator=(const PluginFile&) = delete;
  int fd() const { return fd_; }
  const std::filesystem::path& origin() const { return origin_; }

 private:
  int fd_;
  std::filesystem::path origin_;
};

// One plugin that passed every check. An in-process plugin holds its library
// open; an isolated one (an assessor run by warden-plugin-host) holds its
// opened file, from which every helper process loads it.
class LoadedPlugin {
 public:
  LoadedPlugin(const warden_plugin_descriptor* descriptor, std::filesystem::path origin,
               std::shared_ptr<void> library);
  // An isolated plugin, described by what the helper reported.
  LoadedPlugin(const PluginRecord& record, std::shared_ptr<const PluginFile> file);
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;
  // For an isolated plugin only name, version, description and kind are set;
  // its function tables are null.
  const warden_plugin_descriptor& descriptor() const { return *descriptor_; }
  std::string name() const { return descriptor_->name; }
  const std::filesystem::path& origin() const { return origin_; }
  // Set for a plugin that runs in warden-plugin-host, null in process.
  const std::shared_ptr<const PluginFile>& isolated_file() const { return file_; }

 private:
  const warden_plugin_descriptor* descriptor_;
  std::filesystem::path origin_;  // the .so file, or "<memory>"
  std::shared_ptr<void> library_;
  std::shared_ptr<const PluginFile> file_;
  // The descriptor of an isolated plugin and the strings it points to.
  std::string name_, version_, description_;
  warden_plugin_descriptor own_descriptor_{};
};

// The common part of an instance: creation, probe, destruction.
class PluginInstance {
 public:
  PluginInstance(const PluginInstance&) = delete;
  PluginInstance& operator=(const PluginInstance&) = delete;
  virtual ~PluginInstance();

  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  // The file the plugin was loaded from, or "<memory>".
  const std::filesystem::path& origin() const { return plugin_->origin(); }
  // Asks the plugin whether it can work right now. Never throws: a failing
  // probe reads as unavailable with the reason.
  virtual Availability probe() const;

  // Takes ownership of `instance`, made by `plugin`'s create() in this
  // process, or null for an instance that lives in warden-plugin-host. Used
  // by PluginCatalog; embedders get instances from there.
  PluginInstance(std::shared_ptr<const LoadedPlugin> plugin, void* instance);

 protected:
  std::shared_ptr<const LoadedPlugin> plugin_;
  void* instance_;
  std::string name_;
  std::string version_;
};

class Assessor : public PluginInstance {
 public:
  using PluginInstance::PluginInstance;
  // Runs the assessor. Findings come back with `assessor` set to name().
  // Throws PluginCallError on a failing status or a malformed answer; for an
  // isolated assessor also when its helper process crashed, hung past the
  // deadline or broke the protocol (the helper is then replaced).
  virtual std::vector<Finding> assess(std::string_view code, std::string_view language,
                                      std::string_view file_name,
                                      std::chrono::milliseconds deadline,
                                      const std::function<bool()>& cancelled) const;
};

// What a plugin's probe() answered, read into an Availability (never throws).
// Shared by the in-process and the isolated path.
Availability read_availability(warden_status status, const std::string& out,
                               const std::string& error);
// What a plugin's assess() answered, read into findings named after
// `assessor`. Throws PluginCallError on a failing status or malformed JSON.
std::vector<Finding> read_findings(const std::string& assessor, warden_status status,
                                   const std::string& out, const std::string& error);

class SandboxBackend : public PluginInstance {
 public:
  using PluginInstance::PluginInstance;
  // Runs a program. Throws PluginCallError; WARDEN_ERR_UNSUPPORTED means the
  // backend refused because it cannot enforce something that was asked.
  // `on_output` (when set) gets each piece of output as the backend hands it
  // over ("stdout" or "stderr", the bytes): as it arrives from a backend
  // that streams (warden::OutputStream), at the end from one that does not.
  // `input_files` (paths already checked) are placed read-only in the
  // working directory; the files the program left come back in the result's
  // `files`, in path order, held to spec.limits and to run file paths
  // whatever the backend hands over (their sha256 is left to the caller).
  // Program arguments or input files for a backend built for ABI 1.0 are
  // refused (WARDEN_ERR_UNSUPPORTED).
  RunResult run(const RunSpec& spec, std::string_view code, std::string_view stdin_data,
                const std::function<bool()>& cancelled, const OutputCallback& on_output = {},
                const std::vector<RunFile>& input_files = {}) const;
};

class PluginCatalog {
 public:
  // A catalog that loads every plugin file into this process: for tests and
  // embedders that load only code they trust.
  PluginCatalog() = default;
  // A catalog that loads into this process only the plugins named in
  // `in_process` (each from the file <name>.so). Every other assessor plugin
  // runs in warden-plugin-host (see plugin_host.h), so that its crash or hang
  // is a failed assessment, not a dead host; every other sandbox plugin is
  // refused, since backends always run in this process.
  explicit PluginCatalog(std::vector<std::string> in_process);

  // Loads every file ending in ".so" in `directory`, in name order. A missing
  // directory is recorded as a note, not an error; a folder that users other
  // than root and warden's own can write to (sticky or not) is refused whole.
  // Each file is opened once without following links and checked through the
  // opened descriptor (a regular file, owned by root or warden's user, not
  // writable by group or others); that same file is what gets loaded.
  void load_directory(const std::filesystem::path& directory);
  // Loads one file, checked like the files of a folder (its folder too).
  // Refusals are recorded, never thrown.
  void load_file(const std::filesystem::path& file);
  // For warden-plugin-host: loads an opened, already checked file into this
  // process. `fd` stays owned by the caller.
  void load_opened(int fd, const std::filesystem::path& origin);
  // Adds a plugin that lives in this process (tests, built-ins). The
  // descriptor must outlive the catalog and every instance made from it.
  void add_descriptor(const warden_plugin_descriptor* descriptor, std::string origin = "<memory>");

  const std::vector<PluginRecord>& records() const { return records_; }
  std::shared_ptr<const LoadedPlugin> find(std::string_view name) const;

  // Creates an instance with the given settings. Throws Error(kConfig) when
  // the plugin is not loaded, has another kind, or rejects its settings (the
  // message points into the configuration file through `settings`).
  std::unique_ptr<Assessor> create_assessor(std::string_view name, const JsonWithMarks& settings,
                                            const std::string& field) const;
  std::unique_ptr<SandboxBackend> create_sandbox(std::string_view name,
                                                 const JsonWithMarks& settings,
                                                 const std::string& field) const;

 private:
  void load_entry(int folder_fd, const std::filesystem::path& folder, const std::string& name);
  void load_in_process(const PluginFile& file, const std::string& trusted_name);
  void load_isolated(std::shared_ptr<const PluginFile> file);
  void admit(const warden_plugin_descriptor* descriptor, const std::string& origin,
             std::shared_ptr<void> library);
  void refuse(PluginRecord record, const std::string& why);
  // Why `name` cannot be admitted because another plugin has it, or "".
  std::string name_taken(const std::string& name) const;

  bool everything_in_process_ = true;
  std::vector<std::string> in_process_;
  void* create_instance(std::string_view name, std::uint32_t kind, const JsonWithMarks& settings,
                        const std::string& field,
                        std::shared_ptr<const LoadedPlugin>& plugin) const;

  std::vector<PluginRecord> records_;
  std::vector<std::shared_ptr<const LoadedPlugin>> plugins_;
};

}  // namespace warden
