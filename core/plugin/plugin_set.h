// The plugins a configuration asks for, loaded and instantiated: the
// catalog of every plugin file found, plus one instance of each enabled
// assessor and backend.
//
// Thread safety: constructed on one thread; afterwards every const method may
// be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "plugin/loader.h"

namespace warden {

struct PluginStatus {
  std::string name;
  std::string kind;  // "assessor" or "sandbox"
  std::string version;
  std::string origin;
  bool available = false;
  std::string reason;  // why not available (or a caveat)
  std::string tool_version;
};

class PluginSet {
 public:
  // Loads the plugin folders of `config` and creates the enabled plugins.
  // Throws Error(kConfig) when a plugin rejects its settings. An enabled
  // plugin that is missing or refused is not an error here: it shows up as
  // unavailable in status(), and whoever needs it fails closed.
  explicit PluginSet(const Config& config);
  // For tests: plugins from `catalog` only, no folders scanned.
  PluginSet(const Config& config, PluginCatalog catalog);

  const PluginCatalog& catalog() const { return catalog_; }
  // The enabled assessors that exist, in configuration order.
  const std::vector<std::unique_ptr<Assessor>>& assessors() const { return assessors_; }
  const Assessor* assessor(std::string_view name) const;
  const SandboxBackend* backend(std::string_view name) const;
  std::vector<std::string> backend_names() const;
  // Why an enabled plugin has no instance ("not installed", or its refusal).
  std::string missing_reason(std::string_view name) const;

  // Probes every enabled plugin.
  std::vector<PluginStatus> status() const;

 private:
  void instantiate(const Config& config);

  PluginCatalog catalog_;
  std::vector<std::unique_ptr<Assessor>> assessors_;
  std::vector<std::unique_ptr<SandboxBackend>> backends_;
  std::map<std::string, std::string, std::less<>> missing_;   // enabled name -> why absent
  std::vector<std::pair<std::string, std::string>> enabled_;  // (name, kind) in order
};

}  // namespace warden
