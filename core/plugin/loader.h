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

// One plugin that passed every check. Holds its library open.
class LoadedPlugin {
 public:
  LoadedPlugin(const warden_plugin_descriptor* descriptor, std::filesystem::path origin,
               std::shared_ptr<void> library);
  const warden_plugin_descriptor& descriptor() const { return *descriptor_; }
  std::string name() const { return descriptor_->name; }
  const std::filesystem::path& origin() const { return origin_; }

 private:
  const warden_plugin_descriptor* descriptor_;
  std::filesystem::path origin_;  // the .so file, or "<memory>"
  std::shared_ptr<void> library_;
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

// The common part of an instance: creation, probe, destruction.
class PluginInstance {
 public:
  PluginInstance(const PluginInstance&) = delete;
  PluginInstance& operator=(const PluginInstance&) = delete;
  virtual ~PluginInstance();

  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  // Asks the plugin whether it can work right now. Never throws: a failing
  // probe reads as unavailable with the reason.
  Availability probe() const;

  // Takes ownership of `instance`, made by `plugin`'s create(). Used by
  // PluginCatalog; embedders get instances from there.
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
  // Throws PluginCallError on a failing status or a malformed answer.
  std::vector<Finding> assess(std::string_view code, std::string_view language,
                              std::string_view file_name, std::chrono::milliseconds deadline,
                              const std::function<bool()>& cancelled) const;
};

class SandboxBackend : public PluginInstance {
 public:
  using PluginInstance::PluginInstance;
  // Runs a program. Throws PluginCallError; WARDEN_ERR_UNSUPPORTED means the
  // backend refused because it cannot enforce something that was asked.
  RunResult run(const RunSpec& spec, std::string_view code, std::string_view stdin_data,
                const std::function<bool()>& cancelled) const;
};

class PluginCatalog {
 public:
  // Loads every regular file ending in ".so" in `directory`, in name order.
  // A missing directory is recorded as a note, not an error.
  void load_directory(const std::filesystem::path& directory);
  // Loads one file. Refusals are recorded, never thrown.
  void load_file(const std::filesystem::path& file);
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
  void admit(const warden_plugin_descriptor* descriptor, const std::string& origin,
             std::shared_ptr<void> library);
  void refuse(PluginRecord record, const std::string& why);
  void* create_instance(std::string_view name, std::uint32_t kind, const JsonWithMarks& settings,
                        const std::string& field,
                        std::shared_ptr<const LoadedPlugin>& plugin) const;

  std::vector<PluginRecord> records_;
  std::vector<std::shared_ptr<const LoadedPlugin>> plugins_;
};

}  // namespace warden
