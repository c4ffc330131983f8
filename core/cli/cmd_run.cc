// warden run, warden history, warden report: the pipeline from the command
// line, through the same warden::Host that embedders use.
#include <signal.h>
#include <unistd.h>
#include <warden/host.h>

#include <atomic>

#include <fstream>
#include <iomanip>
#include <iostream>

#include "audit/audit_reader.h"
#include "audit/note_signer.h"
#include "audit/report.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "common/units.h"

namespace warden::cli {

std::string read_input_file(const std::string& path, const std::string& what,
                            std::uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::kInvalidInput, what + " " + path + ": cannot be read");
  std::string data;
  char buffer[64 * 1024];
  while (in) {
    in.read(buffer, sizeof buffer);
    data.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (data.size() > max_bytes)
      throw Error(ErrorKind::kInvalidInput, what + " " + path + ": larger than the limit of " +
                                                std::to_string(max_bytes) +
                                                " bytes (requests.max_code_size)");
  }
  if (in.bad()) throw Error(ErrorKind::kInvalidInput, what + " " + path + ": cannot be read");
  return data;
}

namespace {

// The signal (SIGTERM, SIGINT) that asked `warden run` to stop, or 0.
std::atomic<int> stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "set from a signal handler");

// From here on SIGTERM and SIGINT end the run in progress (the backend kills
// it) instead of warden, which then writes the run's records and exits with
// 128 + the signal.
void stop_runs_on_signals() {
  struct sigaction action {};
  action.sa_handler = [](int signal) { stop_signal = signal; };
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signal : {SIGTERM, SIGINT}) ::sigaction(signal, &action, nullptr);
}

// The exit code of `warden run`: the program's own when it ran, otherwise 1
// for a negative verdict (docs/cli.md).
int exit_code_of(const ExecutionResult& r) {
  if (r.decision != Outcome::kRan || !r.run) return 1;
  if (r.run->exit_code) return *r.run->exit_code;
  if (r.run->signal) return 128 + *r.run->signal;
  return 1;
}

void print_output(const char* label, const std::string& text, bool truncated) {
  if (text.empty()) return;
  std::cout << "--- " << label << (truncated ? " (truncated by the output cap)" : "") << " ---\n"
            << text;
  if (text.back() != '\n') std::cout << "\n";
}

void print_human(const ExecutionResult& r) {
  std::cout << "level:    " << to_string(r.level) << " (score " << r.score << ")\n";
  for (const auto& reason : r.reasons) std::cout << "          " << reason << "\n";
  for (const auto& f : r.findings)
    std::cout << "  " << std::setw(4) << f.line << "  " << std::left << std::setw(9)
              << to_string(f.severity) << std::setw(11) << f.assessor << f.rule_id << ": "
              << f.message << std::right << "\n";
  std::cout << "decision: " << to_string(r.decision);
  if (!r.reason.empty()) std::cout << " — " << r.reason;
  std::cout << "\n";
  for (const auto& w : r.warnings) std::cout << "warning:  " << w << "\n";
  if (r.decision != Outcome::kRan || !r.run) return;
  const RunResult& run = *r.run;
  std::cout << "trust:    " << to_string(r.trust) << (r.override_used ? " (override)" : "") << "\n"
            << "backend:  " << r.backend << " (" << run.backend_run_id << ")\n"
            << "limits:   memory " << format_size(r.limits.memory_bytes) << ", cpus "
            << r.limits.cpus << ", wall " << r.limits.wall_time_ms << " ms, cpu "
            << r.limits.cpu_time_ms << " ms, pids " << r.limits.pids << ", file "
            << format_size(r.limits.file_size_bytes) << ", output "
            << format_size(r.limits.output_bytes) << ", network " << to_string(r.network) << "\n";
  std::cout << "exit:     ";
  if (run.exit_code) std::cout << *run.exit_code;
  if (run.signal) std::cout << "signal " << *run.signal;
  if (run.timed_out) std::cout << ", timed out";
  if (run.cpu_time_exceeded) std::cout << ", CPU time exceeded";
  if (run.oom_killed) std::cout << ", killed for memory";
  for (const auto& hit : run.limits_hit) std::cout << ", " << hit << " limit hit";
  std::cout << "\nusage:    peak memory " << format_size(run.peak_memory_bytes) << ", cpu "
            << run.cpu_time_ms << " ms, wall " << run.wall_time_ms << " ms\n";
  print_output("stdout", run.stdout_data, run.output_truncated);
  print_output("stderr", run.stderr_data, run.output_truncated);
}

}  // namespace

void add_run_commands(CLI::App& app, Context& context) {
  struct RunOptions {
    std::string file, stdin_file, override_reason, user, backend;
    std::vector<std::string> limits;
    bool confirm = false, json = false;
  };
  static RunOptions o;
  auto* run = app.add_subcommand("run", "Assess a program, decide, run it in a sandbox, audit it");
  run->add_option("FILE", o.file, "The program (Python)")->required();
  run->add_option("--stdin", o.stdin_file, "Feed this file to the program's standard input");
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
    if (!o.stdin_file.empty())
      request.stdin_data = read_input_file(o.stdin_file, "--stdin file", max_bytes);
    request.confirmed = o.confirm;
    request.override_blocked = !o.override_reason.empty();
    request.override_explanation = o.override_reason;
    request.user = o.user.empty() ? std::string(getlogin() ? getlogin() : "") : o.user;
    if (!o.backend.empty()) request.backend = o.backend;
    for (const auto& limit : o.limits) {
      auto eq = limit.find('=');
      if (eq == std::string::npos)
        throw Error(ErrorKind::kInvalidInput,
                    "--limit '" + limit + "': expected NAME=VALUE, e.g. memory=512MiB");
      request.limits[limit.substr(0, eq)] = limit.substr(eq + 1);
    }
    request.cancelled = [] { return stop_signal != 0; };
    Progress progress(!o.json && context.verbosity >= 0, "starting warden's plugins");
    auto host = Host::open(context.config_path());
    progress.step("assessing and running " + o.file);
    ExecutionResult result = host->assess_and_execute(request);
    progress.clear();
    if (o.json)
      print_json(result.to_json());
    else
      print_human(result);
    return stop_signal != 0 ? 128 + stop_signal : exit_code_of(result);
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
