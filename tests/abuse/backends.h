// The backends the abuse suite runs against: every sandbox plugin built in
// this tree (or those named in $WARDEN_ABUSE_BACKENDS), each with its default
// settings. A backend that is not available is skipped with the reason, or
// fails the suite under CI=true.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "plugin/loader.h"

namespace warden::abuse {

// Calls `body` once per available backend, inside a Catch2 SECTION named
// after it.
void for_each_backend(const std::function<void(const SandboxBackend&)>& body);

// A run spec with short limits, for one hostile program.
RunSpec short_spec();

// Runs `code` and returns the result; the test fails with the backend's
// message if the run could not happen at all.
RunResult run(const SandboxBackend& backend, const RunSpec& spec, std::string_view code,
              std::string_view stdin_data = "");

// Checks that the result says the run reached `limit` (warden::limits_reached
// names them), or did not. Every backend must say the same of the same
// program (docs/sandboxes.md, "What a RunResult says").
void check_reached(const RunResult& r, const std::string& limit);
void check_not_reached(const RunResult& r, const std::string& limit);

// Host processes whose command line contains `marker`.
int processes_with(const std::string& marker);

}  // namespace warden::abuse
