#include "plugin/loader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <nlohmann/json.hpp>
#include <regex>
#include <system_error>

namespace warden {
namespace fs = std::filesystem;

const char* to_string(warden_status status) {
  switch (status) {
    case WARDEN_OK: return "ok";
    case WARDEN_ERR_INVALID_ARGUMENT: return "invalid argument";
    case WARDEN_ERR_UNAVAILABLE: return "unavailable";
    case WARDEN_ERR_UNSUPPORTED: return "unsupported";
    case WARDEN_ERR_TIMEOUT: return "timed out";
    case WARDEN_ERR_FAILED: return "failed";
    case WARDEN_ERR_INTERNAL: return "internal error";
    case WARDEN_ERR_CANCELLED: return "cancelled";
  }
  return "unknown status";
}

const char* kind_name(std::uint32_t kind) {
  switch (kind) {
    case WARDEN_KIND_ASSESSOR: return "assessor";
    case WARDEN_KIND_SANDBOX: return "sandbox";
    default: return "unknown";
  }
}

namespace {

ErrorKind error_kind_for(warden_status status) {
  switch (status) {
    case WARDEN_ERR_INVALID_ARGUMENT: return ErrorKind::kInvalidInput;
    case WARDEN_ERR_UNSUPPORTED: return ErrorKind::kRefused;
    case WARDEN_ERR_INTERNAL: return ErrorKind::kInternal;
    default: return ErrorKind::kEnvironment;
  }
}

// A warden_sink that appends to a std::string.
struct StringSink {
  std::string text;
  warden_sink sink() {
    return {this, [](void* context, const char* data, std::size_t size) {
              static_cast<StringSink*>(context)->text.append(data, size);
            }};
  }
};

struct CancelContext {
  const std::function<bool()>* cancelled;
  warden_cancel abi() {
    return {this, [](void* context) -> int {
              auto* self = static_cast<CancelContext*>(context);
              return (self->cancelled != nullptr && *self->cancelled && (*self->cancelled)()) ? 1
                                                                                              : 0;
            }};
  }
};

std::string abi_string(std::uint32_t major, std::uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

// Why a plugin file must not be loaded because others could have changed it,
// or an empty string when it is safe.
std::string writable_by_others(const fs::path& file) {
  for (const fs::path& p : {file, file.parent_path()}) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) continue;
    bool shared_dir = p != file && (st.st_mode & S_ISVTX);
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !shared_dir)
      return (p == file ? "the file " : "its folder ") + p.string() +
             " can be written by other users (mode " +
             [&] {
               char mode[8];
               std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
               return std::string(mode);
             }() +
             "); run 'chmod go-w " + p.string() + "' if you trust it";
    if (st.st_uid != 0 && st.st_uid != ::geteuid())
      return (p == file ? "the file " : "its folder ") + p.string() + " is owned by uid " +
             std::to_string(st.st_uid) + ", neither root nor the user running warden; chown it " +
             "if you trust it";
  }
  return "";
}

}  // namespace

PluginCallError::PluginCallError(warden_status status, const std::string& message)
    : Error(error_kind_for(status), message), status_(status) {}

LoadedPlugin::LoadedPlugin(const warden_plugin_descriptor* descriptor, fs::path origin,
                           std::shared_ptr<void> library)
    : descriptor_(descriptor), origin_(std::move(origin)), library_(std::move(library)) {}

// ------------------------------------------------------------------ instances

PluginInstance::PluginInstance(std::shared_ptr<const LoadedPlugin> plugin, void* instance)
    : plugin_(std::move(plugin)),
      instance_(instance),
      name_(plugin_->descriptor().name),
      version_(plugin_->descriptor().version ? plugin_->descriptor().version : "") {}

PluginInstance::~PluginInstance() {
  const auto& d = plugin_->descriptor();
  if (d.kind == WARDEN_KIND_ASSESSOR)
    d.assessor->destroy(instance_);
  else
    d.sandbox->destroy(instance_);
}

Availability PluginInstance::probe() const {
  const auto& d = plugin_->descriptor();
  StringSink out, error;
  warden_status status = d.kind == WARDEN_KIND_ASSESSOR
                             ? d.assessor->probe(instance_, out.sink(), error.sink())
                             : d.sandbox->probe(instance_, out.sink(), error.sink());
  Availability a;
  if (status != WARDEN_OK) {
    a.reason = std::string("probe ") + to_string(status) + ": " + error.text;
    return a;
  }
  try {
    a = nlohmann::json::parse(out.text).get<Availability>();
  } catch (const std::exception& e) {
    a = Availability{};
    a.reason = std::string("probe returned malformed JSON: ") + e.what();
  }
  return a;
}

std::vector<Finding> Assessor::assess(std::string_view code, std::string_view language,
                                      std::string_view file_name,
                                      std::chrono::milliseconds deadline,
                                      const std::function<bool()>& cancelled) const {
  std::string language_z(language), file_name_z(file_name);
  CancelContext cancel{&cancelled};
  warden_assess_request request{};
  request.struct_size = sizeof request;
  request.code = {code.data(), code.size()};
  request.language = language_z.c_str();
  request.file_name = file_name_z.c_str();
  request.deadline_ms = static_cast<std::uint64_t>(std::max<std::int64_t>(deadline.count(), 0));
  request.cancel = cancel.abi();
  StringSink out, error;
  warden_status status =
      plugin_->descriptor().assessor->assess(instance_, &request, out.sink(), error.sink());
  if (status != WARDEN_OK) throw PluginCallError(status, error.text);
  std::vector<Finding> findings;
  try {
    findings = nlohmann::json::parse(out.text).at("findings").get<std::vector<Finding>>();
  } catch (const std::exception& e) {
    throw PluginCallError(WARDEN_ERR_FAILED,
                          "assessor " + name_ + " returned malformed findings: " + e.what());
  }
  for (auto& f : findings) f.assessor = name_;
  return findings;
}

RunResult SandboxBackend::run(const RunSpec& spec, std::string_view code,
                              std::string_view stdin_data,
                              const std::function<bool()>& cancelled) const {
  std::string spec_json = nlohmann::json(spec).dump();
  CancelContext cancel{&cancelled};
  warden_run_request request{};
  request.struct_size = sizeof request;
  request.spec_json = spec_json.c_str();
  request.code = {code.data(), code.size()};
  request.stdin_data = {stdin_data.data(), stdin_data.size()};
  request.cancel = cancel.abi();
  StringSink result, out, err, error;
  warden_status status = plugin_->descriptor().sandbox->run(instance_, &request, result.sink(),
                                                            out.sink(), err.sink(), error.sink());
  if (status != WARDEN_OK) throw PluginCallError(status, error.text);
  RunResult r;
  try {
    r = nlohmann::json::parse(result.text).get<RunResult>();
  } catch (const std::exception& e) {
    throw PluginCallError(WARDEN_ERR_FAILED,
                          "backend " + name_ + " returned a malformed result: " + e.what());
  }
  r.stdout_data = std::move(out.text);
  r.stderr_data = std::move(err.text);
  return r;
}

// -------------------------------------------------------------------- catalog

void PluginCatalog::load_directory(const fs::path& directory) {
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) {
    refuse(PluginRecord{.origin = directory.string()},
           "plugin folder does not exist; create it or fix plugins.directories");
    return;
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory, ec))
    if (entry.path().extension() == ".so" && entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) load_file(file);
}

void PluginCatalog::load_file(const fs::path& file) {
  PluginRecord record{.kind = "unknown", .origin = file.string()};
  if (std::string why = writable_by_others(file); !why.empty()) return refuse(record, why);
  auto library = std::make_shared<boost::dll::shared_library>();
  try {
    library->load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::system_error& e) {
    return refuse(record, std::string("cannot be loaded: ") + e.what());
  }
  if (!library->has(WARDEN_PLUGIN_ENTRY_SYMBOL))
    return refuse(record, std::string("does not export ") + WARDEN_PLUGIN_ENTRY_SYMBOL +
                              ": it is not a warden plugin, or was built without "
                              "WARDEN_ASSESSOR_PLUGIN / WARDEN_SANDBOX_PLUGIN");
  auto entry = library->get<const warden_plugin_descriptor*()>(WARDEN_PLUGIN_ENTRY_SYMBOL);
  admit(entry(), file.string(), library);
}

void PluginCatalog::add_descriptor(const warden_plugin_descriptor* descriptor, std::string origin) {
  admit(descriptor, origin, nullptr);
}

void PluginCatalog::refuse(PluginRecord record, const std::string& why) {
  record.loaded = false;
  record.error = record.origin + ": " + why;
  records_.push_back(std::move(record));
}

void PluginCatalog::admit(const warden_plugin_descriptor* d, const std::string& origin,
                          std::shared_ptr<void> library) {
  PluginRecord record{.kind = "unknown", .origin = origin};
  if (d == nullptr)
    return refuse(record, std::string(WARDEN_PLUGIN_ENTRY_SYMBOL) + " returned null");
  record.abi = abi_string(d->abi_major, d->abi_minor);
  record.kind = kind_name(d->kind);
  if (d->abi_major != WARDEN_ABI_MAJOR)
    return refuse(record, "built for plugin ABI " + record.abi + ", but this warden speaks ABI " +
                              abi_string(WARDEN_ABI_MAJOR, WARDEN_ABI_MINOR) +
                              "; rebuild the plugin against the warden " +
                              std::to_string(WARDEN_ABI_MAJOR) + ".x SDK");
  if (d->abi_minor > WARDEN_ABI_MINOR)
    return refuse(record, "built for plugin ABI " + record.abi + ", newer than this warden's ABI " +
                              abi_string(WARDEN_ABI_MAJOR, WARDEN_ABI_MINOR) +
                              "; upgrade warden or rebuild the plugin against this SDK");
  if (d->name == nullptr || !std::regex_match(d->name, std::regex("[a-z0-9_-]{1,64}")))
    return refuse(record, "has an invalid name (expected 1-64 characters of a-z, 0-9, '_', '-')");
  record.name = d->name;
  record.version = d->version ? d->version : "";
  record.description = d->description ? d->description : "";
  if (d->kind == WARDEN_KIND_ASSESSOR) {
    const auto* v = d->assessor;
    if (v == nullptr || v->struct_size < sizeof(warden_assessor_vtable) || !v->create ||
        !v->destroy || !v->probe || !v->assess)
      return refuse(record,
                    "declares kind assessor but its assessor table is missing or incomplete");
  } else if (d->kind == WARDEN_KIND_SANDBOX) {
    const auto* v = d->sandbox;
    if (v == nullptr || v->struct_size < sizeof(warden_sandbox_vtable) || !v->create ||
        !v->destroy || !v->probe || !v->run)
      return refuse(record, "declares kind sandbox but its sandbox table is missing or incomplete");
  } else {
    return refuse(record, "has unknown plugin kind " + std::to_string(d->kind) +
                              " (this warden knows assessor = 1 and sandbox = 2)");
  }
  if (auto existing = find(record.name))
    return refuse(record, "plugin name '" + record.name + "' is already taken by " +
                              existing->origin().string() + "; remove or rename one of them");
  record.loaded = true;
  records_.push_back(record);
  plugins_.push_back(std::make_shared<LoadedPlugin>(d, origin, std::move(library)));
}

std::shared_ptr<const LoadedPlugin> PluginCatalog::find(std::string_view name) const {
  for (const auto& p : plugins_)
    if (p->descriptor().name == name) return p;
  return nullptr;
}

void* PluginCatalog::create_instance(std::string_view name, std::uint32_t kind,
                                     const JsonWithMarks& settings, const std::string& field,
                                     std::shared_ptr<const LoadedPlugin>& plugin) const {
  plugin = find(name);
  if (!plugin) {
    std::string why = "is not loaded";
    for (const auto& r : records_)
      if (r.name == name && !r.loaded) why = "was refused: " + r.error;
    throw Error(ErrorKind::kConfig,
                std::string(kind_name(kind)) + " plugin '" + std::string(name) + "' " + why);
  }
  if (plugin->descriptor().kind != kind)
    throw Error(ErrorKind::kConfig, "plugin '" + std::string(name) + "' is a " +
                                        kind_name(plugin->descriptor().kind) + ", not a " +
                                        kind_name(kind));
  StringSink error;
  std::string json = settings.value.dump();
  const auto& d = plugin->descriptor();
  void* instance = kind == WARDEN_KIND_ASSESSOR ? d.assessor->create(json.c_str(), error.sink())
                                                : d.sandbox->create(json.c_str(), error.sink());
  if (instance == nullptr)
    throw Error(ErrorKind::kConfig, settings.origin.file.empty()
                                        ? field + ": plugin '" + std::string(name) +
                                              "' refused its settings: " + error.text
                                        : settings.locate(error.text, field));
  return instance;
}

std::unique_ptr<Assessor> PluginCatalog::create_assessor(std::string_view name,
                                                         const JsonWithMarks& settings,
                                                         const std::string& field) const {
  std::shared_ptr<const LoadedPlugin> plugin;
  void* instance = create_instance(name, WARDEN_KIND_ASSESSOR, settings, field, plugin);
  return std::unique_ptr<Assessor>(new Assessor(plugin, instance));
}

std::unique_ptr<SandboxBackend> PluginCatalog::create_sandbox(std::string_view name,
                                                              const JsonWithMarks& settings,
                                                              const std::string& field) const {
  std::shared_ptr<const LoadedPlugin> plugin;
  void* instance = create_instance(name, WARDEN_KIND_SANDBOX, settings, field, plugin);
  return std::unique_ptr<SandboxBackend>(new SandboxBackend(plugin, instance));
}

}  // namespace warden
