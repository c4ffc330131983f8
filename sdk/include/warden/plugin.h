// The C++ face of the plugin ABI: write an ordinary class, add one macro.
//
//   class MyAnalyzer {
//    public:
//     explicit MyAnalyzer(const nlohmann::json& settings);
//     warden::Availability probe();
//     std::vector<warden::Finding> assess(const warden::AssessRequest& request);
//   };
//   WARDEN_ASSESSOR_PLUGIN(MyAnalyzer, "my-analyzer", "1.0.0", "Finds X in Python code")
//
// A sandbox backend has the same constructor and probe(), plus
//   warden::RunResult run(const warden::RunRequest& request);
// and is registered with WARDEN_SANDBOX_PLUGIN.
//
// Exceptions thrown by the class never cross the boundary: the adapter catches
// them and turns them into a warden_status plus message. Throw
// warden::PluginError to choose the status; any other exception becomes
// WARDEN_ERR_INTERNAL. The class must be safe to call from many threads at
// once (probe, assess, run); the host serialises construction and destruction.
#ifndef WARDEN_PLUGIN_H_
#define WARDEN_PLUGIN_H_

#include <warden/plugin_abi.h>
#include <warden/types.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <new>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace warden {

// An error with a chosen ABI status.
class PluginError : public std::runtime_error {
 public:
  PluginError(warden_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  warden_status status() const noexcept { return status_; }

 private:
  warden_status status_;
};

// A bad settings value. `pointer` is the JSON pointer of the field, e.g.
// "/timeout_ms"; the host turns it into file:line:column of the config.
inline PluginError settings_error(const std::string& pointer, const std::string& message) {
  return PluginError(WARDEN_ERR_INVALID_ARGUMENT, pointer + ": " + message);
}

// Reads a plugin's settings (the mapping under its name in warden.yaml's
// `settings`) field by field. Each getter checks one field and returns
// `fallback` when it is absent; finish() refuses any field no getter asked
// about. Every error is a settings_error with the field's JSON pointer, which
// the host turns into the file:line:column of warden.yaml. Not thread-safe;
// `settings` must outlive the reader.
class SettingsReader {
 public:
  SettingsReader(const nlohmann::json& settings, std::string plugin)
      : settings_(settings), plugin_(std::move(plugin)) {}

  // The field as given, or nullptr when absent, for a structure the plugin
  // reads itself (errors: settings_error("/" + key + ...)).
  const nlohmann::json* field(const std::string& key) {
    known_.push_back(key);
    return settings_.contains(key) ? &settings_[key] : nullptr;
  }
  // A non-empty string.
  std::string text(const std::string& key, std::string fallback) {
    const nlohmann::json* v = field(key);
    if (!v) return fallback;
    if (!v->is_string() || v->get<std::string>().empty())
      throw settings_error("/" + key, "expected a non-empty string");
    return v->get<std::string>();
  }
  // An absolute path to `what` ("semgrep-core", "a rules folder").
  std::string absolute_path(const std::string& key, std::string fallback, const std::string& what) {
    const nlohmann::json* v = field(key);
    if (!v) return fallback;
    if (!is_absolute_path(*v))
      throw settings_error("/" + key, "expected the absolute path of " + what);
    return v->get<std::string>();
  }
  // A list of absolute paths.
  std::vector<std::string> absolute_paths(const std::string& key,
                                          std::vector<std::string> fallback) {
    const nlohmann::json* v = field(key);
    if (!v) return fallback;
    if (!v->is_array()) throw settings_error("/" + key, "expected a list of absolute paths");
    std::vector<std::string> paths;
    for (const auto& p : *v) {
      if (!is_absolute_path(p)) throw settings_error("/" + key, "expected absolute paths");
      paths.push_back(p.get<std::string>());
    }
    return paths;
  }
  // A whole number from `min` to `max`.
  std::int64_t whole_number(const std::string& key, std::int64_t fallback, std::int64_t min,
                            std::int64_t max) {
    const nlohmann::json* v = field(key);
    if (!v) return fallback;
    if (!v->is_number_integer() || v->get<std::int64_t>() < min || v->get<std::int64_t>() > max)
      throw settings_error("/" + key, "expected a whole number from " + std::to_string(min) +
                                          " to " + std::to_string(max));
    return v->get<std::int64_t>();
  }
  // Refuses the fields no getter asked about: "unknown setting (<plugin> has ...)".
  void finish() const {
    for (const auto& [key, value] : settings_.items()) {
      if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
      std::string names;
      for (const auto& k : known_) names += (names.empty() ? "" : ", ") + k;
      throw settings_error("/" + key, "unknown setting (" + plugin_ + " has " + names + ")");
    }
  }

 private:
  static bool is_absolute_path(const nlohmann::json& v) {
    return v.is_string() && !v.get<std::string>().empty() && v.get<std::string>()[0] == '/';
  }
  const nlohmann::json& settings_;
  std::string plugin_;
  std::vector<std::string> known_;
};

// Wraps the host's cancellation callback.
class Cancellation {
 public:
  explicit Cancellation(warden_cancel cancel = {nullptr, nullptr}) : cancel_(cancel) {}
  bool cancelled() const {
    return cancel_.cancelled != nullptr && cancel_.cancelled(cancel_.context);
  }

 private:
  warden_cancel cancel_;
};

struct AssessRequest {
  std::string_view code;       // valid for the duration of assess()
  std::string_view language;   // "python"
  std::string_view file_name;  // display name
  std::chrono::steady_clock::time_point deadline;
  Cancellation cancellation;
};

// The program's output as it arrives, so that the host can show it while
// the program runs (warden serve streams it to its client). A backend calls
// write() with each piece of output it keeps (under the output cap, in the
// order it came), from any one thread at a time. Once a backend has written
// here, the host takes stdout and stderr from these pieces and ignores
// RunResult's stdout_data and stderr_data; a backend that never writes here
// hands its whole output back in RunResult, and the host gets it at the end.
class OutputStream {
 public:
  OutputStream() = default;
  OutputStream(warden_sink out, warden_sink err) : out_(out), err_(err) {}
  void write_stdout(std::string_view bytes) { write(out_, bytes); }
  void write_stderr(std::string_view bytes) { write(err_, bytes); }
  bool used() const { return used_; }

 private:
  void write(warden_sink sink, std::string_view bytes) {
    used_ = true;
    if (sink.write != nullptr && !bytes.empty())
      sink.write(sink.context, bytes.data(), bytes.size());
  }
  warden_sink out_{nullptr, nullptr};
  warden_sink err_{nullptr, nullptr};
  bool used_ = false;
};

// A file to place in the working directory; valid for the duration of run().
struct InputFile {
  std::string_view path;  // checked by the host: run_file_path_problem() is ""
  std::string_view content;
};

// Where a backend hands back the files the program left (ABI 1.1): call
// add() once per file kept, from one thread at a time.
class OutputFiles {
 public:
  OutputFiles() = default;
  explicit OutputFiles(warden_file_sink sink) : sink_(sink) {}
  void add(const std::string& path, std::string_view content) {
    if (sink_.add != nullptr)
      sink_.add(sink_.context, path.c_str(), content.data(), content.size());
  }

 private:
  warden_file_sink sink_{nullptr, nullptr};
};

struct RunRequest {
  RunSpec spec;
  std::string_view code;        // valid for the duration of run()
  std::string_view stdin_data;  // valid for the duration of run()
  std::vector<InputFile> input_files;
  Cancellation cancellation;
  mutable OutputStream output;  // the program's output, as it arrives
  mutable OutputFiles output_files;
};

namespace plugin_detail {

inline void write(warden_sink sink, std::string_view bytes) {
  if (sink.write != nullptr && !bytes.empty()) sink.write(sink.context, bytes.data(), bytes.size());
}

// Writes `j` as JSON. A string that is not UTF-8 (a finding quoting the code
// it looked at, say) gets U+FFFD for its bad bytes instead of failing the call.
inline void write_json(warden_sink sink, const nlohmann::json& j) {
  write(sink, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// Appends `text` to `out` as a JSON string. Printable ASCII without quotes
// or backslashes is copied as is; anything else (escapes, UTF-8, bytes that
// are not UTF-8) is written by nlohmann, as write_json would write it.
inline void append_json_string(std::string& out, std::string_view text) {
  bool plain = std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
  });
  if (plain) {
    out += '"';
    out += text;
    out += '"';
  } else {
    out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

// {"findings": [...]} with the fields to_json(Finding) writes, without building
// the nlohmann document first: for a small program with a few findings,
// building it cost more than the analysis (each finding is a map of eleven
// strings, copied from an initializer list).
inline std::string findings_json(const std::vector<Finding>& findings) {
  std::string out = "{\"findings\":[";
  for (const Finding& f : findings) {
    if (&f != findings.data()) out += ',';
    out += "{\"assessor\":";
    append_json_string(out, f.assessor);
    out += ",\"rule_id\":";
    append_json_string(out, f.rule_id);
    out += ",\"severity\":";
    append_json_string(out, to_string(f.severity));
    out += ",\"confidence\":";
    append_json_string(out, to_string(f.confidence));
    out += ",\"category\":";
    append_json_string(out, f.category);
    out += ",\"line\":" + std::to_string(f.line);
    out += ",\"column\":" + std::to_string(f.column);
    out += ",\"message\":";
    append_json_string(out, f.message);
    out += ",\"cwe\":" + std::to_string(f.cwe);
    out += ",\"source_line\":";
    append_json_string(out, f.source_line);
    if (!f.also_reported_by.empty()) {
      out += ",\"also_reported_by\":[";
      for (const std::string& other : f.also_reported_by) {
        if (&other != f.also_reported_by.data()) out += ',';
        append_json_string(out, other);
      }
      out += ']';
    }
    out += '}';
  }
  out += "]}";
  return out;
}

// Runs `body` and converts any exception into a status plus message.
template <class Body>
warden_status guarded(warden_sink error, Body&& body) noexcept {
  try {
    body();
    return WARDEN_OK;
  } catch (const PluginError& e) {
    write(error, e.what());
    return e.status();
  } catch (const nlohmann::json::exception& e) {
    write(error, std::string("malformed JSON: ") + e.what());
    return WARDEN_ERR_INVALID_ARGUMENT;
  } catch (const std::bad_alloc&) {
    write(error, "out of memory");
    return WARDEN_ERR_INTERNAL;
  } catch (const std::exception& e) {
    write(error, e.what());
    return WARDEN_ERR_INTERNAL;
  } catch (...) {
    write(error, "unknown exception");
    return WARDEN_ERR_INTERNAL;
  }
}

template <class T>
void* create(const char* settings_json, warden_sink error) noexcept {
  static_assert(std::is_constructible_v<T, const nlohmann::json&>,
                "a plugin class needs a constructor T(const nlohmann::json& settings)");
  T* instance = nullptr;
  guarded(error, [&] {
    nlohmann::json settings = nlohmann::json::parse(settings_json ? settings_json : "{}");
    if (!settings.is_object()) throw settings_error("", "settings must be a mapping");
    instance = new T(settings);
  });
  return instance;
}

template <class T>
void destroy(void* instance) noexcept {
  delete static_cast<T*>(instance);
}

template <class T>
warden_status probe(void* instance, warden_sink out, warden_sink error) noexcept {
  static_assert(std::is_same_v<decltype(std::declval<T&>().probe()), Availability>,
                "expected signature: warden::Availability probe()");
  return guarded(error, [&] { write_json(out, static_cast<T*>(instance)->probe()); });
}

template <class T>
struct AssessorAdapter {
  static_assert(
      std::is_same_v<decltype(std::declval<T&>().assess(std::declval<const AssessRequest&>())),
                     std::vector<Finding>>,
      "expected signature: std::vector<warden::Finding> assess(const "
      "warden::AssessRequest&)");

  static warden_status assess(void* instance, const warden_assess_request* request, warden_sink out,
                              warden_sink error) noexcept {
    return guarded(error, [&] {
      AssessRequest r;
      r.code = std::string_view(request->code.data, request->code.size);
      r.language = request->language ? request->language : "python";
      r.file_name = request->file_name ? request->file_name : "main.py";
      r.deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(request->deadline_ms);
      r.cancellation = Cancellation(request->cancel);
      write(out, findings_json(static_cast<T*>(instance)->assess(r)));
    });
  }

  static constexpr warden_assessor_vtable vtable = {sizeof(warden_assessor_vtable), &create<T>,
                                                    &destroy<T>, &probe<T>, &assess};
};

template <class T>
struct SandboxAdapter {
  static_assert(std::is_same_v<decltype(std::declval<T&>().run(std::declval<const RunRequest&>())),
                               RunResult>,
                "expected signature: warden::RunResult run(const warden::RunRequest&)");

  static warden_status run(void* instance, const warden_run_request* request, warden_sink result,
                           warden_sink out, warden_sink err, warden_sink error) noexcept {
    return guarded(error, [&] {
      RunRequest r;
      r.spec = nlohmann::json::parse(request->spec_json).get<RunSpec>();
      r.code = std::string_view(request->code.data, request->code.size);
      r.stdin_data = std::string_view(request->stdin_data.data, request->stdin_data.size);
      r.cancellation = Cancellation(request->cancel);
      r.output = OutputStream(out, err);
      if (request->struct_size >=
          offsetof(warden_run_request, output_files) + sizeof(warden_file_sink)) {
        for (std::size_t i = 0; i < request->input_file_count; ++i)
          r.input_files.push_back(
              {request->input_files[i].path,
               {request->input_files[i].content.data, request->input_files[i].content.size}});
        r.output_files = OutputFiles(request->output_files);
      }
      RunResult run_result = static_cast<T*>(instance)->run(r);
      if (!r.output.used()) {
        write(out, run_result.stdout_data);
        write(err, run_result.stderr_data);
      }
      write_json(result, run_result);
    });
  }

  static constexpr warden_sandbox_vtable vtable = {sizeof(warden_sandbox_vtable), &create<T>,
                                                   &destroy<T>, &probe<T>, &run};
};

}  // namespace plugin_detail

// Builds the descriptor for an assessor class. The strings must outlive the
// descriptor (string literals do). Used by WARDEN_ASSESSOR_PLUGIN, and by
// tests that hand the loader an in-memory plugin.
template <class T>
constexpr warden_plugin_descriptor make_assessor_descriptor(const char* name, const char* version,
                                                            const char* description) {
  return {WARDEN_ABI_MAJOR,
          WARDEN_ABI_MINOR,
          WARDEN_KIND_ASSESSOR,
          name,
          version,
          description,
          &plugin_detail::AssessorAdapter<T>::vtable,
          nullptr};
}

template <class T>
constexpr warden_plugin_descriptor make_sandbox_descriptor(const char* name, const char* version,
                                                           const char* description) {
  return {WARDEN_ABI_MAJOR,
          WARDEN_ABI_MINOR,
          WARDEN_KIND_SANDBOX,
          name,
          version,
          description,
          nullptr,
          &plugin_detail::SandboxAdapter<T>::vtable};
}

}  // namespace warden

#define WARDEN_DEFINE_PLUGIN_ENTRY_(MAKE, Class, Name, Version, Description)                  \
  extern "C" WARDEN_PLUGIN_EXPORT const warden_plugin_descriptor* warden_plugin_entry(void) { \
    static constexpr warden_plugin_descriptor descriptor =                                    \
        ::warden::MAKE<Class>(Name, Version, Description);                                    \
    return &descriptor;                                                                       \
  }

#define WARDEN_ASSESSOR_PLUGIN(Class, Name, Version, Description) \
  WARDEN_DEFINE_PLUGIN_ENTRY_(make_assessor_descriptor, Class, Name, Version, Description)

#define WARDEN_SANDBOX_PLUGIN(Class, Name, Version, Description) \
  WARDEN_DEFINE_PLUGIN_ENTRY_(make_sandbox_descriptor, Class, Name, Version, Description)

#endif  // WARDEN_PLUGIN_H_
