// warden._warden: warden::Host (warden/host.h) for Python. The Python-facing
// API Mai calls is warden.SafetyAPI (warden/api.py); this module is the thin,
// typed layer under it.
//
// Every call into the Host runs with the GIL released, so Python threads run
// while code runs in the sandbox, and several threads may call one Host at once
// (Host is thread-safe). warden::Error becomes ValueError for bad input or
// configuration (kInvalidInput, kConfig) and warden.WardenError, a
// RuntimeError with a `kind` attribute, for everything else.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <warden/host.h>
#include <warden/version.h>

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/paths.h"
#include "config/config.h"
#include "json_value.h"
#include "service/api.h"

namespace py = pybind11;

namespace warden::python {
namespace {

bool python_is_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

// The C++ core's log messages, handed to a Python callable (level name,
// message) that passes them to the `logging` logger "warden". The GIL
// serialises the calls (hence no mutex of its own): every call into the core
// runs with the GIL released, so a thread of the core that logs takes it in
// turn. While Python shuts down, messages go to stderr as before.
class PythonLogSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  // Holds a reference to `handler` for the life of the process: the sink may
  // outlive the interpreter, and must never release a Python object after it.
  explicit PythonLogSink(py::handle handler) : handler_(handler.inc_ref().ptr()) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text(msg.payload.data(), msg.payload.size());
    auto level = spdlog::level::to_string_view(msg.level);
    if (!Py_IsInitialized() || python_is_finalizing()) {
      std::fprintf(stderr, "warden: %.*s: %s\n", static_cast<int>(level.size()), level.data(),
                   text.c_str());
      return;
    }
    py::gil_scoped_acquire gil;
    try {
      py::handle handler{handler_};
      handler(std::string(level.data(), level.size()), text);
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable("warden's log handler");
    }
  }
  void flush_() override {}

 private:
  PyObject* handler_;
};

// Routes the core's logging to `handler` from now on, at `level` and above
// (a spdlog level name: "trace" ... "critical", "off").
void set_log_handler(py::handle handler, const std::string& level) {
  auto logger =
      std::make_shared<spdlog::logger>("warden", std::make_shared<PythonLogSink>(handler));
  logger->set_level(spdlog::level::from_str(level));
  spdlog::drop("warden");
  spdlog::register_logger(logger);
  spdlog::set_default_logger(logger);
}

void set_log_level(const std::string& level) {
  if (auto logger = spdlog::get("warden")) logger->set_level(spdlog::level::from_str(level));
}

// One open warden::Host. close() may race with calls on other threads: each
// call holds its own reference, so the Host is destroyed (and its audit log
// closed with a system_stop record) when the last call using it returns.
class HostHandle {
 public:
  explicit HostHandle(const std::string& config_path) {
    py::gil_scoped_release release;
    host_ = Host::open(config_path);
  }

  // The Host's threads may log while it shuts down, which needs the GIL.
  ~HostHandle() { close(); }

  // The request of assess_and_execute and explain, from their keywords.
  static ExecutionRequest make_request(
      const std::string& code, const std::string& language, const std::string& file_name,
      const std::string& stdin_data, std::vector<std::string> args,
      std::vector<std::pair<std::string, std::string>> files, std::vector<std::string> dependencies,
      const std::string& user, bool confirmed, bool override_blocked,
      const std::string& override_explanation, std::optional<std::string> backend,
      std::map<std::string, std::string> limits, py::handle metadata) {
    ExecutionRequest request;
    request.code = code;
    request.language = language;
    request.file_name = file_name;
    request.stdin_data = stdin_data;
    request.args = std::move(args);
    request.files.reserve(files.size());
    for (auto& [path, content] : files)
      request.files.push_back(RunFile{.path = std::move(path), .content = std::move(content)});
    request.dependencies = std::move(dependencies);
    request.user = user;
    request.confirmed = confirmed;
    request.override_blocked = override_blocked;
    request.override_explanation = override_explanation;
    request.backend = std::move(backend);
    request.limits = std::move(limits);
    if (!metadata.is_none()) {
      if (!py::isinstance<py::dict>(metadata))
        throw Error(ErrorKind::kInvalidInput, "Metadata must be a dictionary");
      request.metadata = from_python(metadata, "metadata");
    }
    return request;
  }

  py::object assess_and_execute(const std::string& code, const std::string& language,
                                const std::string& file_name, const std::string& stdin_data,
                                std::vector<std::string> args,
                                std::vector<std::pair<std::string, std::string>> files,
                                std::vector<std::string> dependencies, const std::string& user,
                                bool confirmed, bool override_blocked,
                                const std::string& override_explanation,
                                std::optional<std::string> backend,
                                std::map<std::string, std::string> limits, py::handle metadata) {
    ExecutionRequest request =
        make_request(code, language, file_name, stdin_data, std::move(args), std::move(files),
                     std::move(dependencies), user, confirmed, override_blocked,
                     override_explanation, std::move(backend), std::move(limits), metadata);
    std::shared_ptr<Host> host = open_host();
    nlohmann::json result;
    {
      py::gil_scoped_release release;
      result = host->assess_and_execute(request).to_json();
    }
    return to_python(result);
  }

  py::object assess_code_only(const std::string& code, const std::string& language,
                              const std::string& file_name) {
    return call([&](Host& h) { return h.assess_code_only(code, language, file_name); });
  }

  py::object explain(const std::string& code, const std::string& language,
                     const std::string& file_name, const std::string& user, bool confirmed,
                     bool override_blocked, const std::string& override_explanation,
                     std::optional<std::string> backend, std::map<std::string, std::string> limits,
                     py::handle metadata) {
    ExecutionRequest request =
        make_request(code, language, file_name, "", {}, {}, {}, user, confirmed, override_blocked,
                     override_explanation, std::move(backend), std::move(limits), metadata);
    return call([&](Host& h) { return h.explain(request); });
  }

  py::object get_execution_history(int limit) {
    return call([&](Host& h) { return h.get_execution_history(limit); });
  }

  py::object get_security_status() {
    return call([](Host& h) { return h.get_security_status(); });
  }

  py::object configure_policies(const std::string& directory,
                                std::vector<std::pair<std::string, std::string>> files) {
    PolicyUpdate update{directory, std::move(files)};
    return call([&](Host& h) { return h.configure_policies(update); });
  }

  py::object get_audit_report(int hours) {
    return call([&](Host& h) { return h.get_audit_report(hours); });
  }

  void close() {
    std::shared_ptr<Host> host = std::move(host_);
    if (!host) return;
    py::gil_scoped_release release;
    host.reset();
  }

  bool closed() const { return host_ == nullptr; }

 private:
  std::shared_ptr<Host> open_host() const {
    if (!host_) throw Error(ErrorKind::kInvalidInput, "This warden host is closed");
    return host_;
  }

  template <typename Call>
  py::object call(Call&& method) {
    std::shared_ptr<Host> host = open_host();
    nlohmann::json result;
    {
      py::gil_scoped_release release;
      result = method(*host);
    }
    return to_python(result);
  }

  std::shared_ptr<Host> host_;
};

// What a client of `warden serve` needs from the configuration at
// `config_path` (resolved as Host::open resolves it): the service's socket,
// whether clients use it (service.cli), and the fingerprint the service
// compares with its own (X-Warden-Config), computed by the same function.
py::dict service_settings(const std::string& config_path) {
  std::string socket, fingerprint, file;
  bool cli = true;
  {
    py::gil_scoped_release release;
    Config config = load_config(resolve_config_path(config_path));
    socket = config.service.socket.string();
    cli = config.service.cli_uses_service;
    fingerprint = service::config_fingerprint(config);
    file = config.file.string();
  }
  py::dict settings;
  settings["socket"] = socket;
  settings["cli"] = cli;
  settings["fingerprint"] = fingerprint;
  settings["config"] = file;
  settings["header"] = service::kFingerprintHeader;
  return settings;
}

}  // namespace
}  // namespace warden::python

PYBIND11_MODULE(_warden, m) {
  using warden::python::HostHandle;
  m.doc() = "warden::Host for Python; use warden.SafetyAPI";

  static py::exception<warden::Error> warden_error(m, "WardenError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr thrown) {
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const warden::Error& e) {
      if (e.kind() == warden::ErrorKind::kInvalidInput || e.kind() == warden::ErrorKind::kConfig) {
        PyErr_SetString(PyExc_ValueError, e.what());
        return;
      }
      py::object error = py::reinterpret_borrow<py::object>(warden_error.ptr())(e.what());
      error.attr("kind") = warden::service::error_kind_name(e.kind());
      PyErr_SetObject(warden_error.ptr(), error.ptr());
    }
  });

  m.def(
      "version", [] { return std::string(WARDEN_VERSION); }, "warden's version");
  m.def("set_log_handler", &warden::python::set_log_handler, py::arg("handler"), py::arg("level"),
        "Sends the core's log messages to handler(level_name, message) from now on");
  m.def("set_log_level", &warden::python::set_log_level, py::arg("level"),
        "The lowest level of the core's messages passed to the log handler");
  m.def(
      "data_directory", [] { return warden::data_directory().string(); },
      "The folder holding config/warden.yaml and policies/ of this installation");

  m.def("service_settings", &warden::python::service_settings, py::arg("config_path") = "",
        "The `warden serve` a client of this configuration uses: {socket, cli, fingerprint, "
        "config, header}; raises ValueError for a configuration that does not load");

  py::class_<HostHandle>(m, "Host", "An open warden host (warden::Host); thread-safe")
      .def(py::init<const std::string&>(), py::arg("config_path") = "",
           "Opens a host from warden.yaml; an empty path means $WARDEN_CONFIG, then the "
           "installed warden.yaml")
      .def("assess_and_execute", &HostHandle::assess_and_execute, py::arg("code"), py::kw_only(),
           py::arg("language") = "python", py::arg("file_name") = "main.py", py::arg("stdin") = "",
           py::arg("args") = std::vector<std::string>{},
           py::arg("files") = std::vector<std::pair<std::string, std::string>>{},
           py::arg("dependencies") = std::vector<std::string>{}, py::arg("user") = "",
           py::arg("confirmed") = false, py::arg("override_blocked") = false,
           py::arg("override_explanation") = "", py::arg("backend") = py::none(),
           py::arg("limits") = std::map<std::string, std::string>{},
           py::arg("metadata") = py::none(),
           "Assess, decide, run and audit; returns the `warden run --json` dict. `files` are the "
           "input files, (path, content) pairs placed read-only in the program's working folder; "
           "the files it leaves there come back in the result's `files` (content_base64). "
           "`dependencies` are PEP 508 requirements by name, beside the program's PEP 723 block")
      .def("assess_code_only", &HostHandle::assess_code_only, py::arg("code"), py::kw_only(),
           py::arg("language") = "python", py::arg("file_name") = "main.py")
      .def("explain", &HostHandle::explain, py::arg("code"), py::kw_only(),
           py::arg("language") = "python", py::arg("file_name") = "main.py", py::arg("user") = "",
           py::arg("confirmed") = false, py::arg("override_blocked") = false,
           py::arg("override_explanation") = "", py::arg("backend") = py::none(),
           py::arg("limits") = std::map<std::string, std::string>{},
           py::arg("metadata") = py::none(),
           "What assess_and_execute would decide, as a dry run: runs and records nothing")
      .def("get_execution_history", &HostHandle::get_execution_history, py::arg("limit") = 10)
      .def("get_security_status", &HostHandle::get_security_status)
      .def("configure_policies", &HostHandle::configure_policies, py::kw_only(),
           py::arg("directory") = "",
           py::arg("files") = std::vector<std::pair<std::string, std::string>>{})
      .def("get_audit_report", &HostHandle::get_audit_report, py::arg("hours") = 24)
      .def("close", &HostHandle::close,
           "Closes the audit log (system_stop); calls made later raise ValueError")
      .def_property_readonly("closed", &HostHandle::closed);
}
