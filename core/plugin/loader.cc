#include "plugin/loader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <system_error>

#include "plugin/plugin_host.h"

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
  // Also told each piece, with `stream` ("stdout", "stderr"), when set.
  const OutputCallback* forward = nullptr;
  const char* stream = "";
  warden_sink sink() {
    return {this, [](void* context, const char* data, std::size_t size) {
              auto* self = static_cast<StringSink*>(context);
              self->text.append(data, size);
              if (self->forward != nullptr && *self->forward)
                (*self->forward)(self->stream, std::string_view(data, size));
            }};
  }
};

// Takes the files a backend hands back, holding it to the run's limits and to
// run file paths whatever it does: what does not fit goes to `skipped`.
struct FileSink {
  const Limits& limits;
  std::vector<RunFile> files;
  std::vector<SkippedFile> skipped;
  std::uint64_t bytes = 0;
  std::set<std::string> paths;
  warden_file_sink sink() {
    return {this, [](void* context, const char* path, const char* data, std::size_t size) {
              static_cast<FileSink*>(context)->add(path ? path : "", std::string_view(data, size));
            }};
  }
  void add(std::string path, std::string_view content) {
    std::string why = run_file_path_problem(path);
    if (why.empty() && paths.count(path)) why = "handed back twice by the backend";
    if (why.empty() && files.size() >= limits.output_files)
      why = "over the output_files limit (the backend handed back more)";
    if (why.empty() && content.size() > limits.output_files_bytes - bytes)
      why = "over the output_files_size limit (the backend handed back more)";
    if (!why.empty()) {
      if (skipped.size() < 64) skipped.push_back({std::move(path), content.size(), why});
      return;
    }
    bytes += content.size();
    paths.insert(path);
    files.push_back({std::move(path), std::string(content), ""});
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

// What crosses the ABI as JSON: never fails on a string that is not UTF-8.
std::string as_json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string abi_string(std::uint32_t major, std::uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

std::string mode_string(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Why an opened plugin file or folder must not be trusted because other
// users could change it, or "" when it is safe. `what` is "the file X" or
// "the plugin folder X".
std::string writable_by_others(const struct stat& st, const std::string& what,
                               const fs::path& path) {
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return what + " can be written by other users (mode " + mode_string(st.st_mode) +
           (S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) ? ", sticky or not" : "") +
           "); run 'chmod go-w " + path.string() + "' if you trust it";
  if (st.st_uid != 0 && st.st_uid != ::geteuid())
    return what + " is owned by uid " + std::to_string(st.st_uid) +
           ", neither root nor the user running warden; chown it if you trust it";
  return "";
}

}  // namespace

PluginCallError::PluginCallError(warden_status status, const std::string& message)
    : Error(error_kind_for(status), message), status_(status) {}

LoadedPlugin::LoadedPlugin(const warden_plugin_descriptor* descriptor, fs::path origin,
                           std::shared_ptr<void> library)
    : descriptor_(descriptor), origin_(std::move(origin)), library_(std::move(library)) {}

LoadedPlugin::LoadedPlugin(const PluginRecord& record, std::shared_ptr<const PluginFile> file)
    : descriptor_(&own_descriptor_),
      origin_(record.origin),
      file_(std::move(file)),
      name_(record.name),
      version_(record.version),
      description_(record.description) {
  own_descriptor_.kind = WARDEN_KIND_ASSESSOR;
  own_descriptor_.name = name_.c_str();
  own_descriptor_.version = version_.c_str();
  own_descriptor_.description = description_.c_str();
}

PluginFile::PluginFile(int fd, fs::path origin) : fd_(fd), origin_(std::move(origin)) {}

PluginFile::~PluginFile() {
  ::close(fd_);
}

namespace {

// The name under which dlopen loads the opened file `fd`: "/proc/self/fd/N"
// for a descriptor N kept open on that file for the life of the process.
// glibc hands back an already loaded library whose name (or any name it was
// loaded under before) matches, before it looks at the file, and libraries
// that cannot be unloaded stay resident under their names; so a name must
// never come to mean another file. One descriptor per distinct file keeps
// that true. Returns "" when no descriptor can be had.
std::string load_path_for(int fd) {
  static std::mutex mutex;
  static std::map<std::pair<dev_t, ino_t>, int> kept;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return "";
  std::lock_guard lock(mutex);
  auto [it, fresh] = kept.try_emplace({st.st_dev, st.st_ino}, -1);
  if (fresh) it->second = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (it->second < 0) {
    kept.erase(it);
    return "";
  }
  return "/proc/self/fd/" + std::to_string(it->second);
}

}  // namespace

// ------------------------------------------------------------------ instances

PluginInstance::PluginInstance(std::shared_ptr<const LoadedPlugin> plugin, void* instance)
    : plugin_(std::move(plugin)),
      instance_(instance),
      name_(plugin_->descriptor().name),
      version_(plugin_->descriptor().version ? plugin_->descriptor().version : "") {}

PluginInstance::~PluginInstance() {
  if (instance_ == nullptr) return;  // it lives in warden-plugin-host
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
  return read_availability(status, out.text, error.text);
}

Availability read_availability(warden_status status, const std::string& out,
                               const std::string& error) {
  Availability a;
  if (status != WARDEN_OK) {
    a.reason = std::string("probe ") + to_string(status) + ": " + error;
    return a;
  }
  try {
    a = nlohmann::json::parse(out).get<Availability>();
  } catch (const std::exception& e) {
    a = Availability{};
    a.reason = std::string("probe returned malformed JSON: ") + e.what();
  }
  return a;
}

namespace {

// Reads `{"findings":[...]}` straight into Findings through nlohmann's SAX
// interface, without building a document: about half the cost of the
// document and its from_json for an answer with findings. It takes only what from_json(Finding)
// would read the same way: the fields it knows, with string or integer values, each finding with
// rule_id and severity, and nothing else. On anything else (another shape, a
// float, an unknown key or severity, a syntax error) it stops, and
// read_findings() reads the answer again as a document, which accepts what
// from_json accepts and fails with the same message as before.
class FindingsReader {
 public:
  using json = nlohmann::json;

  std::vector<Finding> findings;

  bool start_object(std::size_t) {
    if (level_ == Level::kTop && !seen_findings_) return enter(Level::kAnswer);
    if (level_ == Level::kFindings) {
      findings.emplace_back();
      has_rule_id_ = has_severity_ = false;
      return enter(Level::kFinding);
    }
    return false;
  }
  bool end_object() {
    if (level_ == Level::kFinding)
      return (has_rule_id_ && has_severity_) && enter(Level::kFindings);
    return level_ == Level::kAnswer && seen_findings_ && enter(Level::kTop);
  }
  bool start_array(std::size_t) {
    if (level_ == Level::kAnswer && field_ == Field::kFindings) return enter(Level::kFindings);
    if (level_ == Level::kFinding && field_ == Field::kAlsoReportedBy) {
      findings.back().also_reported_by.clear();  // a repeated key: the last one counts
      return enter(Level::kAlsoReportedBy);
    }
    return false;
  }
  bool end_array() {
    if (level_ == Level::kFindings) return enter(Level::kAnswer);
    return level_ == Level::kAlsoReportedBy && enter(Level::kFinding);
  }
  bool key(std::string& name) {
    if (level_ == Level::kAnswer) {
      if (name != "findings" || seen_findings_) return false;
      seen_findings_ = true;
      field_ = Field::kFindings;
      return true;
    }
    field_ = field_named(name);
    return field_ != Field::kUnknown;
  }
  bool string(std::string& value) {
    if (level_ == Level::kAlsoReportedBy) {
      findings.back().also_reported_by.push_back(value);
      return true;
    }
    if (level_ != Level::kFinding) return false;
    Finding& f = findings.back();
    switch (field_) {
      case Field::kAssessor: f.assessor = value; return true;
      case Field::kRuleId:
        f.rule_id = value;
        has_rule_id_ = true;
        return true;
      case Field::kSeverity:
        has_severity_ = read_level(value, f.severity, severity_from_string);
        return has_severity_;
      case Field::kConfidence: return read_level(value, f.confidence, confidence_from_string);
      case Field::kCategory: f.category = value; return true;
      case Field::kMessage: f.message = value; return true;
      case Field::kSourceLine: f.source_line = value; return true;
      default: return false;
    }
  }
  bool number_integer(json::number_integer_t value) { return integer(value); }
  bool number_unsigned(json::number_unsigned_t value) { return integer(value); }
  bool number_float(json::number_float_t, const std::string&) { return false; }
  bool boolean(bool) { return false; }
  bool null() { return false; }
  bool binary(json::binary_t&) { return false; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

 private:
  enum class Level { kTop, kAnswer, kFindings, kFinding, kAlsoReportedBy };
  enum class Field {
    kUnknown,
    kFindings,
    kAssessor,
    kRuleId,
    kSeverity,
    kConfidence,
    kCategory,
    kLine,
    kColumn,
    kMessage,
    kCwe,
    kSourceLine,
    kAlsoReportedBy,
  };

  bool enter(Level level) {
    level_ = level;
    return true;
  }
  static Field field_named(std::string_view name) {
    static constexpr std::pair<std::string_view, Field> kFields[] = {
        {"assessor", Field::kAssessor},
        {"rule_id", Field::kRuleId},
        {"severity", Field::kSeverity},
        {"confidence", Field::kConfidence},
        {"category", Field::kCategory},
        {"line", Field::kLine},
        {"column", Field::kColumn},
        {"message", Field::kMessage},
        {"cwe", Field::kCwe},
        {"source_line", Field::kSourceLine},
        {"also_reported_by", Field::kAlsoReportedBy},
    };
    for (const auto& [known, field] : kFields)
      if (name == known) return field;
    return Field::kUnknown;
  }
  // An unknown level is left to the document path, whose from_json names it.
  template <class Value>
  static bool read_level(const std::string& text, Value& out, Value (*parse)(std::string_view)) {
    try {
      out = parse(text);
      return true;
    } catch (const std::invalid_argument&) {
      return false;
    }
  }
  // As from_json's get<int>(): the integer converted to int.
  template <class Integer>
  bool integer(Integer value) {
    if (level_ != Level::kFinding) return false;
    Finding& f = findings.back();
    switch (field_) {
      case Field::kLine: f.line = static_cast<int>(value); return true;
      case Field::kColumn: f.column = static_cast<int>(value); return true;
      case Field::kCwe: f.cwe = static_cast<int>(value); return true;
      default: return false;
    }
  }

  Level level_ = Level::kTop;
  Field field_ = Field::kUnknown;
  bool seen_findings_ = false;
  bool has_rule_id_ = false;
  bool has_severity_ = false;
};

}  // namespace

std::vector<Finding> read_findings(const std::string& assessor, warden_status status,
                                   const std::string& out, const std::string& error) {
  if (status != WARDEN_OK) throw PluginCallError(status, error);
  // Most answers, as the SDK writes them, need no parser at all.
  if (out == R"({"findings":[]})") return {};
  std::vector<Finding> findings;
  try {
    FindingsReader reader;
    if (nlohmann::json::sax_parse(out, &reader))
      findings = std::move(reader.findings);
    else
      findings = nlohmann::json::parse(out).at("findings").get<std::vector<Finding>>();
  } catch (const std::exception& e) {
    throw PluginCallError(WARDEN_ERR_FAILED,
                          "assessor " + assessor + " returned malformed findings: " + e.what());
  }
  for (auto& f : findings) f.assessor = assessor;
  return findings;
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
  return read_findings(name_, status, out.text, error.text);
}

RunResult SandboxBackend::run(const RunSpec& spec, std::string_view code,
                              std::string_view stdin_data, const std::function<bool()>& cancelled,
                              const OutputCallback& on_output,
                              const std::vector<RunFile>& input_files) const {
  if (plugin_->descriptor().abi_minor < 1) {
    // What a 1.0 backend would drop or misread: refused here, with the
    // reason, rather than run without it.
    const char* missing = !spec.args.empty()                     ? "program arguments"
                          : !input_files.empty()                 ? "input files"
                          : spec.network == NetworkMode::kEgress ? "network egress"
                          : !spec.egress_socket.empty()          ? "egress sockets"
                          : !spec.site_dir.empty()               ? "site folders (site_dir)"
                                                                 : nullptr;
    if (missing)
      throw PluginCallError(WARDEN_ERR_UNSUPPORTED,
                            "backend " + name_ + " was built for plugin ABI 1.0, which has no " +
                                missing + ": rebuild it against 1.1 or newer");
  }
  std::vector<warden_file> files;
  for (const RunFile& f : input_files)
    files.push_back({f.path.c_str(), {f.content.data(), f.content.size()}});
  FileSink output_files{.limits = spec.limits};
  std::string spec_json = as_json_text(spec);
  CancelContext cancel{&cancelled};
  warden_run_request request{};
  request.struct_size = sizeof request;
  request.spec_json = spec_json.c_str();
  request.code = {code.data(), code.size()};
  request.stdin_data = {stdin_data.data(), stdin_data.size()};
  request.cancel = cancel.abi();
  request.input_files = files.data();
  request.input_file_count = files.size();
  request.output_files = output_files.sink();
  StringSink result, out{.forward = &on_output, .stream = "stdout"},
      err{.forward = &on_output, .stream = "stderr"}, error;
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
  r.files = std::move(output_files.files);
  std::sort(r.files.begin(), r.files.end(),
            [](const RunFile& a, const RunFile& b) { return a.path < b.path; });
  r.files_skipped.insert(r.files_skipped.end(), output_files.skipped.begin(),
                         output_files.skipped.end());
  return r;
}

// -------------------------------------------------------------------- catalog

PluginCatalog::PluginCatalog(std::vector<std::string> in_process)
    : everything_in_process_(false), in_process_(std::move(in_process)) {}

namespace {

// Opens a plugin folder and checks the opened folder; returns -1 and sets
// `why` when it must not be used.
int open_plugin_folder(const fs::path& folder, std::string& why) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    why = errno == ENOENT ? "plugin folder does not exist; create it or fix plugins.directories"
                          : std::string("cannot open the plugin folder: ") + std::strerror(errno);
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    why = std::string("cannot inspect the plugin folder: ") + std::strerror(errno);
  } else {
    why = writable_by_others(st, "the plugin folder " + folder.string(), folder);
    // Anyone who can write the folder can swap a file in: no file in it is safe.
    if (!why.empty()) why += "; no plugin is loaded from it";
  }
  if (why.empty()) return fd;
  ::close(fd);
  return -1;
}

}  // namespace

void PluginCatalog::load_directory(const fs::path& directory) {
  std::string why;
  int folder_fd = open_plugin_folder(directory, why);
  if (folder_fd < 0) return refuse(PluginRecord{.origin = directory.string()}, why);
  std::vector<std::string> names;
  if (DIR* listing = ::fdopendir(::fcntl(folder_fd, F_DUPFD_CLOEXEC, 0))) {
    while (const dirent* entry = ::readdir(listing)) {
      std::string name = entry->d_name;
      if (name.size() > 3 && name.ends_with(".so")) names.push_back(name);
    }
    ::closedir(listing);
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) load_entry(folder_fd, directory, name);
  ::close(folder_fd);
}

void PluginCatalog::load_file(const fs::path& file) {
  fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::string why;
  int folder_fd = open_plugin_folder(folder, why);
  if (folder_fd < 0) return refuse(PluginRecord{.kind = "unknown", .origin = file.string()}, why);
  load_entry(folder_fd, folder, file.filename().string());
  ::close(folder_fd);
}

void PluginCatalog::load_entry(int folder_fd, const fs::path& folder, const std::string& name) {
  fs::path path = folder / name;
  PluginRecord record{.kind = "unknown", .origin = path.string()};
  // O_NOFOLLOW: a link could point anywhere, and be swapped at any moment.
  // O_NONBLOCK: a FIFO must not stall the loader; it is refused below.
  int fd = ::openat(folder_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return refuse(record, errno == ELOOP
                              ? "is a symbolic link; warden loads only regular files from a "
                                "plugin folder (copy the plugin in instead)"
                              : std::string("cannot be opened: ") + std::strerror(errno));
  auto file = std::make_shared<PluginFile>(fd, path);
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return refuse(record, std::string("cannot be inspected: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return refuse(record, "is not a regular file");
  if (std::string why = writable_by_others(st, "the file " + path.string(), path); !why.empty())
    return refuse(record, why);
  std::string stem = fs::path(name).stem().string();
  if (everything_in_process_) return load_in_process(*file, "");
  if (std::find(in_process_.begin(), in_process_.end(), stem) != in_process_.end())
    return load_in_process(*file, stem);
  load_isolated(std::move(file));
}

void PluginCatalog::load_opened(int fd, const fs::path& origin) {
  load_in_process(PluginFile(::fcntl(fd, F_DUPFD_CLOEXEC, 0), origin), "");
}

void PluginCatalog::load_in_process(const PluginFile& file, const std::string& trusted_name) {
  PluginRecord record{.kind = "unknown", .origin = file.origin().string()};
  auto library = std::make_shared<boost::dll::shared_library>();
  try {
    // Through the opened descriptor: the file that was checked is the one loaded.
    std::string path = load_path_for(file.fd());
    if (path.empty()) throw std::system_error(errno, std::generic_category(), "dup");
    library->load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::system_error& e) {
    return refuse(record, std::string("cannot be loaded: ") + e.what());
  }
  if (!library->has(WARDEN_PLUGIN_ENTRY_SYMBOL))
    return refuse(record, std::string("does not export ") + WARDEN_PLUGIN_ENTRY_SYMBOL +
                              ": it is not a warden plugin, or was built without "
                              "WARDEN_ASSESSOR_PLUGIN / WARDEN_SANDBOX_PLUGIN");
  auto entry = library->get<const warden_plugin_descriptor*()>(WARDEN_PLUGIN_ENTRY_SYMBOL);
  const warden_plugin_descriptor* d = entry();
  if (!trusted_name.empty() && d != nullptr && (d->name == nullptr || d->name != trusted_name))
    return refuse(record, "holds plugin '" + std::string(d->name ? d->name : "") +
                              "', but plugins.in_process trusts this file as '" + trusted_name +
                              "'; a trusted plugin must be in <name>.so");
  admit(d, file.origin().string(), library);
}

void PluginCatalog::load_isolated(std::shared_ptr<const PluginFile> file) {
  PluginRecord record{.kind = "unknown", .origin = file->origin().string()};
  std::vector<std::string> hello;
  try {
    PluginHostProcess helper(*file);
    hello = helper.call({}, "loading", std::chrono::steady_clock::now() + std::chrono::seconds(10));
  } catch (const std::exception& e) {
    return refuse(record, e.what());
  }
  if (hello.size() != 8 || hello[0] != "plugin")
    return refuse(record, "the plugin host answered with something else than a plugin");
  record = PluginRecord{.name = hello[1],
                        .kind = hello[2],
                        .version = hello[3],
                        .description = hello[4],
                        .abi = hello[5],
                        .origin = file->origin().string(),
                        .loaded = hello[6] == "1",
                        .error = hello[7]};
  if (!record.loaded) {
    records_.push_back(std::move(record));  // the helper's reason names the file already
    return;
  }
  if (record.kind != "assessor")
    return refuse(record, "is a " + record.kind +
                              " plugin: those run in warden's own process, so it loads only "
                              "when plugins.in_process lists '" +
                              record.name + "' (and the file is " + record.name + ".so)");
  if (std::string why = name_taken(record.name); !why.empty()) return refuse(record, why);
  records_.push_back(record);
  plugins_.push_back(std::make_shared<LoadedPlugin>(record, std::move(file)));
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
  if (std::string why = name_taken(record.name); !why.empty()) return refuse(record, why);
  record.loaded = true;
  records_.push_back(record);
  plugins_.push_back(std::make_shared<LoadedPlugin>(d, origin, std::move(library)));
}

std::string PluginCatalog::name_taken(const std::string& name) const {
  if (auto existing = find(name))
    return "plugin name '" + name + "' is already taken by " + existing->origin().string() +
           "; remove or rename one of them";
  return "";
}

std::shared_ptr<const LoadedPlugin> PluginCatalog::find(std::string_view name) const {
  for (const auto& p : plugins_)
    if (p->descriptor().name == name) return p;
  return nullptr;
}

namespace {

// The configuration error for a plugin that refused its settings.
std::string settings_refusal(const JsonWithMarks& settings, const std::string& field,
                             std::string_view name, const std::string& message) {
  return settings.origin.file.empty()
             ? field + ": plugin '" + std::string(name) + "' refused its settings: " + message
             : settings.locate(message, field);
}

}  // namespace

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
  if (plugin->isolated_file()) return nullptr;  // IsolatedAssessor creates it in its helper
  StringSink error;
  std::string json = as_json_text(settings.value);
  const auto& d = plugin->descriptor();
  void* instance = kind == WARDEN_KIND_ASSESSOR ? d.assessor->create(json.c_str(), error.sink())
                                                : d.sandbox->create(json.c_str(), error.sink());
  if (instance == nullptr)
    throw Error(ErrorKind::kConfig, settings_refusal(settings, field, name, error.text));
  return instance;
}

std::unique_ptr<Assessor> PluginCatalog::create_assessor(std::string_view name,
                                                         const JsonWithMarks& settings,
                                                         const std::string& field) const {
  std::shared_ptr<const LoadedPlugin> plugin;
  void* instance = create_instance(name, WARDEN_KIND_ASSESSOR, settings, field, plugin);
  if (plugin->isolated_file())
    return std::make_unique<IsolatedAssessor>(
        plugin, as_json_text(settings.value), [&](const std::string& message) {
          return settings_refusal(settings, field, name, message);
        });
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
