// Checks a request before any work is done: the "bad input" errors of the
// embedding API, with the messages Mai's SafetyAPI used.
#pragma once

#include <warden/host.h>

#include <map>
#include <string>
#include <vector>

#include "config/config.h"

namespace warden::pipeline {

// Throws Error(kInvalidInput) naming what is wrong: empty code, code or
// stdin over requests.max_code_size, bad program arguments (check_args) or input files
// (check_input_files), an override without an
// explanation or with one over requests.max_explanation_chars, a backend that is not loaded, a
// requested limit that is unknown, malformed or above its ceiling.
void check_request(const ExecutionRequest& request, const RequestsConfig& limits,
                   const Limits& ceilings, const std::vector<std::string>& loaded_backends);

// Replaces fields of `base` with the request's limits (names as in
// warden.yaml's `ceilings`). Throws Error(kInvalidInput) for an unknown name,
// a malformed value or a value above its ceiling.
Limits apply_requested_limits(Limits base, const std::map<std::string, std::string>& requested,
                              const Limits& ceilings);

// Program arguments: at most kMaxArgs, kMaxArgBytes in all, each UTF-8
// text (they cross the plugin boundary as JSON) without NUL bytes. Throws
// Error(kInvalidInput) naming the argument.
inline constexpr std::size_t kMaxArgs = 256;
inline constexpr std::size_t kMaxArgBytes = 64 * 1024;
void check_args(const std::vector<std::string>& args);

// Input files: at most kMaxInputFiles, requests.max_input_size in all, each
// path a run file path (run_file_path_problem), none repeated and none a
// folder of another. Throws Error(kInvalidInput) naming the file.
inline constexpr std::size_t kMaxInputFiles = 64;
void check_input_files(const std::vector<RunFile>& files, const RequestsConfig& limits);

// The same checks that apply to code alone (assess_code_only).
void check_code(const std::string& code, const RequestsConfig& limits);

}  // namespace warden::pipeline
