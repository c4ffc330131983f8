// warden run, warden history, warden report: the pipeline from the command
// line, through the same warden::Host that embedders use.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <warden/host.h>

#include <fcntl.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>

#include "audit/audit_reader.h"
#include "audit/note_signer.h"
#include "audit/report.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "common/text.h"
#include "common/units.h"
#include "service/api.h"
#include "service/identity.h"

namespace warden::cli {

std::string read_input_file(const std::string& path, const std::string& what,
                            std::uint64_t max_bytes, const char* limit_name) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::kInvalidInput, what + " " + path + ": cannot be read");
  std::string data;
  char buffer[64 * 1024];
  while (in) {
    in.read(buffer, sizeof buffer);
    data.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (data.size() > max_bytes)
      throw Error(ErrorKind::kInvalidInput, what + " " + path + ": larger than the limit of " +
                                                std::to_string(max_bytes) + " bytes (" +
                                                limit_name + ")");
  }
  if (in.bad()) throw Error(ErrorKind::kInvalidInput, what + " " + path + ": cannot be read");
  return data;
}

namespace {

// The signal (SIGTERM, SIGINT) that asked `warden run` to stop, or 0.
std::atomic<int> stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "set from a signal handler");
// The service connection a run goes through, if any: a signal cancels it.
service::Client* signalled_client = nullptr;

// From here on SIGTERM and SIGINT end the run in progress (the backend kills
// it, in process or in the service) instead of warden, which then prints the
// run's result and exits with 128 + the signal.
void stop_runs_on_signals() {
  struct sigaction action {};
  action.sa_handler = [](int signal) {
    stop_signal = signal;
    if (signalled_client != nullptr) signalled_client->cancel();
  };
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signal : {SIGTERM, SIGINT}) ::sigaction(signal, &action, nullptr);
}

// The exit code of `warden run`: the program's own when it ran, otherwise 1
// for a negative verdict (docs/cli.md).
int exit_code_of(const nlohmann::json& r) {
  if (r["decision"] != "ran") return 1;
  if (r["exit_code"].is_number()) return r["exit_code"].get<int>();
  if (r["signal"].is_number()) return 128 + r["signal"].get<int>();
  return 1;
}

std::string text(const nlohmann::json& j) {
  return j.is_string() ? j.get<std::string>() : j.dump();
}

void print_output(const char* label, const std::string& output, bool truncated) {
  if (output.empty()) return;
  std::cout << "--- " << label << (truncated ? " (truncated by the output cap)" : "") << " ---\n"
            << output;
  if (output.back() != '\n') std::cout << "\n";
}

// "--input [NAME=]PATH": the file at PATH, to be placed at NAME in the
// program's working folder (at PATH's file name when no NAME is given).
RunFile input_file_option(const std::string& option, std::uint64_t max_bytes) {
  auto eq = option.find('=');
  std::string path = eq == std::string::npos ? option : option.substr(eq + 1);
  std::string name = eq == std::string::npos ? std::filesystem::path(option).filename().string()
                                             : option.substr(0, eq);
  return {name, read_input_file(path, "--input file", max_bytes, "requests.max_input_size"), ""};
}

// Writes the run's files (the `files` of `warden run --json`) under `dir`,
// creating folders, replacing files of the same name, and never following a
// symbolic link on the way (the names come from the program).
void save_output_files(const nlohmann::json& files, const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  int root = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    throw Error(ErrorKind::kEnvironment,
                "--output-dir " + dir.string() + ": cannot open: " + std::strerror(errno));
  auto fail = [&](const std::string& path, const char* step) {
    int err = errno;
    ::close(root);
    throw Error(ErrorKind::kEnvironment, "cannot save output file " + path + " in " + dir.string() +
                                             ": " + step + ": " + std::strerror(err));
  };
  for (const auto& f : files) {
    std::string path = f["path"].get<std::string>(), content;
    if (std::string why = run_file_path_problem(path); !why.empty()) {
      errno = EINVAL;
      fail(path, why.c_str());
    }
    if (!from_base64(f["content_base64"].get<std::string>(), content)) {
      errno = EINVAL;
      fail(path, "its content is not base64");
    }
    int folder = ::dup(root);
    std::filesystem::path relative(path);
    for (const auto& name : relative.parent_path()) {
      if (::mkdirat(folder, name.c_str(), 0755) != 0 && errno != EEXIST) fail(path, "mkdir");
      int next = ::openat(folder, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      ::close(folder);
      if ((folder = next) < 0) fail(path, "open folder");
    }
    int fd = ::openat(folder, relative.filename().c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    ::close(folder);
    if (fd < 0) fail(path, "open");
    bool written =
        ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
    if (::close(fd) != 0 || !written) fail(path, "write");
  }
  ::close(root);
}

// The files the run handed back and those it left out, on stdout.
void print_files(const nlohmann::json& r, const std::string& output_dir) {
  for (const auto& f : r["files"])
    std::cout << "file:     " << text(f["path"]) << " ("
              << format_size(f["size"].get<std::uint64_t>()) << ", sha256 "
              << text(f["sha256"]).substr(0, 16) << "…) "
              << (output_dir.empty() ? "not saved (--output-dir DIR saves it)"
                                     : "saved in " + output_dir)
              << "\n";
  for (const auto& f : r["files_skipped"])
    std::cout << "left out: " << (f["path"] == "" ? "" : text(f["path"]) + ": ")
              << text(f["reason"]) << "\n";
}

// `r` is the `warden run --json` object, from this process's host or the
// service's. `exact` is the run's own output when this process ran it: its
// bytes are printed as they are, where JSON's text has U+FFFD for bytes that
// are not UTF-8.
void print_human(const nlohmann::json& r, const RunResult* exact, const std::string& output_dir) {
  std::cout << "level:    " << text(r["level"]) << " (score " << r["score"] << ")\n";
  for (const auto& reason : r["reasons"]) std::cout << "          " << text(reason) << "\n";
  for (const auto& f : r["findings"])
    std::cout << "  " << std::setw(4) << f["line"].get<int>() << "  " << std::left << std::setw(9)
              << text(f["severity"]) << std::setw(11) << text(f["assessor"]) << text(f["rule_id"])
              << ": " << text(f["message"]) << std::right << "\n";
  std::cout << "decision: " << text(r["decision"]);
  if (!r["reason"].get<std::string>().empty()) std::cout << " — " << text(r["reason"]);
  std::cout << "\n";
  for (const auto& w : r["warnings"]) std::cout << "warning:  " << text(w) << "\n";
  if (r["decision"] != "ran") return;
  const auto& l = r["limits"];
  std::cout << "trust:    " << text(r["trust"])
            << (r["override_used"].get<bool>() ? " (override)" : "") << "\n"
            << "backend:  " << text(r["backend"]) << " (" << text(r["backend_run_id"]) << ")\n"
            << "limits:   memory " << format_size(l["memory_bytes"].get<std::uint64_t>())
            << ", cpus " << l["cpus"] << ", wall " << l["wall_time_ms"] << " ms, cpu "
            << l["cpu_time_ms"] << " ms, pids " << l["pids"] << ", file "
            << format_size(l["file_size_bytes"].get<std::uint64_t>()) << ", output "
            << format_size(l["output_bytes"].get<std::uint64_t>()) << ", network "
            << text(r["network"]) << "\n";
  if (const auto& deps = r["dependencies"]; deps.is_object() && deps.contains("packages")) {
    std::cout << "packages:";
    const char* separator = " ";
    for (const auto& p : deps["packages"]) {
      std::cout << separator << text(p["name"]) << " " << text(p["version"]);
      separator = ", ";
    }
    if (deps["cached"].get<bool>())
      std::cout << " (from the cache)\n";
    else
      std::cout << " (installed in " << static_cast<long>(deps["install_ms"].get<double>())
                << " ms)\n";
  }
  std::cout << "exit:     ";
  if (r["exit_code"].is_number()) std::cout << r["exit_code"];
  if (r["signal"].is_number()) std::cout << "signal " << r["signal"];
  if (r["timed_out"].get<bool>()) std::cout << ", timed out";
  if (r["cpu_time_exceeded"].get<bool>()) std::cout << ", CPU time exceeded";
  if (r["oom_killed"].get<bool>()) std::cout << ", killed for memory";
  for (const auto& hit : r["limits_hit"]) std::cout << ", " << text(hit) << " limit hit";
  const auto& usage = r["resource_usage"];
  std::cout << "\nusage:    peak memory "
            << format_size(usage["peak_memory_bytes"].get<std::uint64_t>()) << ", cpu "
            << usage["cpu_time_ms"] << " ms, wall " << usage["wall_time_ms"] << " ms\n";
  bool truncated = r["output_truncated"].get<bool>();
  print_output("stdout", exact ? exact->stdout_data : r["stdout"].get<std::string>(), truncated);
  print_output("stderr", exact ? exact->stderr_data : r["stderr"].get<std::string>(), truncated);
  print_files(r, output_dir);
}

}  // namespace

void add_run_commands(CLI::App& app, Context& context) {
  struct RunOptions {
    std::string file, stdin_file, override_reason, user, backend, output_dir;
    std::vector<std::string> limits, args, inputs, dependencies;
    bool confirm = false, json = false;
  };
  static RunOptions o;
  auto* run = app.add_subcommand("run", "Assess a program, decide, run it in a sandbox, audit it");
  run->add_option("FILE", o.file, "The program (Python)")->required();
  run->add_option("ARGS", o.args, "The program's arguments, after --: warden run prog.py -- a b");
  run->add_option("--stdin", o.stdin_file,
                  "Feed this file to the program's standard input ('-': warden's own)");
  run->add_option("--input", o.inputs,
                  "Place this file, read-only, in the program's working folder: [NAME=]PATH "
                  "(NAME: where, relative; PATH's file name by default)");
  run->add_option("--with", o.dependencies,
                  "A package the program needs, beside its PEP 723 `# /// script` block "
                  "(\"requests>=2\"); the policy decides what installs");
  run->add_option("--output-dir", o.output_dir,
                  "Save the files the program leaves in its working folder here");
  run->add_flag("--confirm", o.confirm, "Confirm running code judged HIGH");
  run->add_option("--override", o.override_reason,
                  "Run code judged BLOCKED anyway, with this explanation (audited)");
  run->add_option("--as", o.user, "The requesting user, for policies that trust by identity");
  run->add_option("--backend", o.backend, "Ask for this sandbox backend");
  run->add_flag("--json", o.json, "Print one JSON object");
  run->add_option("--limit", o.limits,
                  "A limit for this run instead of the policy's, e.g. memory=512MiB")
      ->delimiter(',');
  set_handler(run, [&context] {
    stop_runs_on_signals();
    const auto max_bytes = context.config().requests.max_code_bytes;  // also sets up logging
    ExecutionRequest request;
    request.code = read_input_file(o.file, "program", max_bytes);
    request.file_name = o.file;
    request.args = o.args;
    if (!o.stdin_file.empty())
      request.stdin_data = read_input_file(o.stdin_file == "-" ? "/dev/stdin" : o.stdin_file,
                                           "--stdin file", max_bytes);
    for (const auto& input : o.inputs)
      request.files.push_back(input_file_option(input, context.config().requests.max_input_bytes));
    request.dependencies = o.dependencies;
    request.confirmed = o.confirm;
    request.override_blocked = !o.override_reason.empty();
    request.override_explanation = o.override_reason;
    if (!o.backend.empty()) request.backend = o.backend;
    for (const auto& limit : o.limits) {
      auto eq = limit.find('=');
      if (eq == std::string::npos)
        throw Error(ErrorKind::kInvalidInput,
                    "--limit '" + limit + "': expected NAME=VALUE, e.g. memory=512MiB");
      request.limits[limit.substr(0, eq)] = limit.substr(eq + 1);
    }
    // A typed --as is a claim; without it the requester is this process's
    // user, as the kernel knows it (the service takes its peer's instead).
    request.user = o.user;
    std::optional<nlohmann::json> result;
    std::optional<RunResult> exact;  // the output's bytes, when run in this process
    if (auto* service = context.service()) {
      signalled_client = service;
      result = service->call("POST", "/v1/run", service::request_to_json(request));
      signalled_client = nullptr;
    }
    if (!result) {
      if (request.user.empty()) {
        request.user = service::user_name(::geteuid());
        request.user_verified = true;
      }
      request.cancelled = [] { return stop_signal != 0; };
      Progress progress(!o.json && context.verbosity >= 0, "starting warden's plugins");
      auto host = Host::open(context.config_path());
      progress.step("assessing and running " + o.file);
      ExecutionResult ran = host->assess_and_execute(request);
      result = ran.to_json();
      exact = std::move(ran.run);
    }
    if (!o.output_dir.empty()) save_output_files((*result)["files"], o.output_dir);
    if (o.json)
      print_json(*result);
    else
      print_human(*result, exact ? &*exact : nullptr, o.output_dir);
    return stop_signal != 0 ? 128 + stop_signal : exit_code_of(*result);
  });

  static int limit = 10;
  auto* history =
      app.add_subcommand("history", "Recent runs and decisions from the audit log (JSON)");
  history->add_option("--limit", limit, "How many of each")->check(CLI::PositiveNumber);
  // history and report read the files alone, as `warden audit` does: opening
  // a host would append system_start, policy_load and system_stop records.
  set_handler(history, [&context] {
    const auto& audit = context.config().audit;
    print_json(audit::history(audit::scan_log(audit.directory, audit.origin).records, limit));
    return 0;
  });

  static int hours = 24;
  auto* report = app.add_subcommand("report", "Summary of the audit log over a time range (JSON)");
  report->add_option("--hours", hours, "The last N hours (0: all)")->check(CLI::NonNegativeNumber);
  set_handler(report, [&context] {
    const auto& audit = context.config().audit;
    print_json(audit::report(audit.directory, audit.origin,
                             audit::read_verifier_key(audit.public_key), hours));
    return 0;
  });
}

}  // namespace warden::cli
