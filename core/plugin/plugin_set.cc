#include "plugin/plugin_set.h"

#include "common/paths.h"

namespace warden {

PluginSet::PluginSet(const Config& config) : catalog_(config.plugins_in_process) {
  if (config.plugin_directories.empty()) {
    catalog_.load_directory(default_plugin_directory());
  } else {
    for (const auto& dir : config.plugin_directories) catalog_.load_directory(dir);
  }
  instantiate(config);
}

PluginSet::PluginSet(const Config& config, PluginCatalog catalog) : catalog_(std::move(catalog)) {
  instantiate(config);
}

void PluginSet::instantiate(const Config& config) {
  auto why_missing = [&](const std::string& name) {
    for (const auto& r : catalog_.records())
      if (r.name == name && !r.loaded) return "refused: " + r.error;
    return std::string("not installed (no plugin of that name in the plugin folders)");
  };
  for (const auto& name : config.assessors.enabled) {
    enabled_.emplace_back(name, "assessor");
    if (!catalog_.find(name)) {
      missing_[name] = why_missing(name);
      continue;
    }
    auto it = config.assessors.settings.find(name);
    assessors_.push_back(catalog_.create_assessor(
        name, it == config.assessors.settings.end() ? JsonWithMarks{} : it->second,
        "assessors.settings." + name));
  }
  for (const auto& name : config.backends.enabled) {
    enabled_.emplace_back(name, "sandbox");
    if (!catalog_.find(name)) {
      missing_[name] = why_missing(name);
      continue;
    }
    auto it = config.backends.settings.find(name);
    backends_.push_back(catalog_.create_sandbox(
        name, it == config.backends.settings.end() ? JsonWithMarks{} : it->second,
        "backends.settings." + name));
  }
}

const Assessor* PluginSet::assessor(std::string_view name) const {
  for (const auto& a : assessors_)
    if (a->name() == name) return a.get();
  return nullptr;
}

const SandboxBackend* PluginSet::backend(std::string_view name) const {
  for (const auto& b : backends_)
    if (b->name() == name) return b.get();
  return nullptr;
}

std::vector<std::string> PluginSet::backend_names() const {
  std::vector<std::string> names;
  for (const auto& b : backends_) names.push_back(b->name());
  return names;
}

std::string PluginSet::missing_reason(std::string_view name) const {
  auto it = missing_.find(name);
  return it == missing_.end() ? "" : it->second;
}

std::vector<PluginStatus> PluginSet::status() const {
  std::vector<PluginStatus> out;
  for (const auto& [name, kind] : enabled_) {
    PluginStatus s{.name = name, .kind = kind};
    const PluginInstance* instance = kind == "assessor"
                                         ? static_cast<const PluginInstance*>(assessor(name))
                                         : static_cast<const PluginInstance*>(backend(name));
    if (instance == nullptr) {
      s.reason = missing_reason(name);
    } else {
      auto plugin = catalog_.find(name);
      s.version = instance->version();
      s.origin = plugin->origin().string();
      Availability a = instance->probe();
      s.available = a.available;
      s.reason = a.reason;
      s.tool_version = a.tool_version;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace warden
