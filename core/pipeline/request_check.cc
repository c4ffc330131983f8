#include "pipeline/request_check.h"

#include <warden/error.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <type_traits>

#include "common/text.h"
#include "common/units.h"

namespace warden::pipeline {
namespace {

std::size_t utf8_length(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

}  // namespace

Limits apply_requested_limits(Limits base, const std::map<std::string, std::string>& requested,
                              const Limits& ceilings) {
  for (const auto& [name, text] : requested) {
    auto bad = [&](const std::string& why) {
      return Error(ErrorKind::kInvalidInput, "limit '" + name + "' = '" + text + "': " + why);
    };
    bool known = false;
    for_each_limit(base, ceilings, [&](const LimitName& n, auto& field, auto ceiling) {
      if (name != n.name) return;
      known = true;
      using Field = std::remove_reference_t<decltype(field)>;
      switch (n.unit) {
        case LimitUnit::kBytes: {
          auto v = parse_size(text);
          if (!v || *v == 0) throw bad("expected a size such as 256MiB");
          if (*v > ceiling) throw bad("above the ceiling of " + format_size(ceiling));
          field = static_cast<Field>(*v);
          break;
        }
        case LimitUnit::kMilliseconds: {
          auto v = parse_duration_ms(text);
          if (!v || *v == 0) throw bad("expected a duration such as 5s");
          if (*v > ceiling) throw bad("above the ceiling of " + std::to_string(ceiling) + " ms");
          field = static_cast<Field>(*v);
          break;
        }
        case LimitUnit::kCount: {
          std::uint64_t v = 0;
          auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
          if (ec != std::errc() || end != text.data() + text.size() || v == 0)
            throw bad("expected a positive whole number");
          if (v > ceiling) throw bad("above the ceiling of " + std::to_string(ceiling));
          field = static_cast<Field>(v);
          break;
        }
        case LimitUnit::kCpus: {
          double v = 0;
          auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
          if (ec != std::errc() || end != text.data() + text.size() || !(v > 0))
            throw bad("expected a positive number of CPUs");
          if (v > ceiling) throw bad("above the ceiling of " + std::to_string(ceiling));
          field = static_cast<Field>(v);
          break;
        }
      }
    });
    if (!known) throw bad("unknown limit (" + limit_names() + ")");
  }
  return base;
}

void check_code(const std::string& code, const RequestsConfig& limits) {
  if (blank(code)) throw Error(ErrorKind::kInvalidInput, "Code cannot be empty");
  if (code.size() > limits.max_code_bytes)
    throw Error(ErrorKind::kInvalidInput,
                "Code too large (max " + std::to_string(limits.max_code_bytes / 1024) + "KB)");
}

void check_args(const std::vector<std::string>& args) {
  if (args.size() > kMaxArgs)
    throw Error(ErrorKind::kInvalidInput,
                "Too many program arguments: " + std::to_string(args.size()) + " (max " +
                    std::to_string(kMaxArgs) + ")");
  std::size_t total = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    total += args[i].size();
    bool replaced = false;
    valid_utf8(args[i], replaced);
    if (replaced || args[i].find('\0') != std::string::npos)
      throw Error(ErrorKind::kInvalidInput, "Program argument " + std::to_string(i + 1) +
                                                " is not UTF-8 text without NUL bytes");
  }
  if (total > kMaxArgBytes)
    throw Error(ErrorKind::kInvalidInput, "Program arguments too long: " + std::to_string(total) +
                                              " bytes (max " + std::to_string(kMaxArgBytes) + ")");
}

void check_input_files(const std::vector<RunFile>& files, const RequestsConfig& limits) {
  if (files.size() > kMaxInputFiles)
    throw Error(ErrorKind::kInvalidInput, "Too many input files: " + std::to_string(files.size()) +
                                              " (max " + std::to_string(kMaxInputFiles) + ")");
  std::uint64_t total = 0;
  std::set<std::string> paths;
  for (const RunFile& f : files) {
    if (std::string why = run_file_path_problem(f.path); !why.empty())
      throw Error(ErrorKind::kInvalidInput, "Input file '" + f.path + "': " + why);
    if (!paths.insert(f.path).second)
      throw Error(ErrorKind::kInvalidInput, "Input file '" + f.path + "' is given twice");
    total += f.content.size();
  }
  for (const std::string& path : paths)
    for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
      if (paths.count(path.substr(0, slash)))
        throw Error(ErrorKind::kInvalidInput, "Input file '" + path.substr(0, slash) +
                                                  "' is also a folder of '" + path + "'");
  if (total > limits.max_input_bytes)
    throw Error(ErrorKind::kInvalidInput,
                "Input files too large: " + std::to_string(total) + " bytes (max " +
                    std::to_string(limits.max_input_bytes) + ", requests.max_input_size)");
}

void check_request(const ExecutionRequest& request, const RequestsConfig& limits,
                   const Limits& ceilings, const std::vector<std::string>& loaded_backends) {
  check_code(request.code, limits);
  if (request.override_blocked && blank(request.override_explanation))
    throw Error(ErrorKind::kInvalidInput, "User override requires explanation");
  if (utf8_length(request.override_explanation) > limits.max_explanation_chars)
    throw Error(ErrorKind::kInvalidInput, "Override explanation too long (max " +
                                              std::to_string(limits.max_explanation_chars) +
                                              " characters)");
  if (request.backend && std::find(loaded_backends.begin(), loaded_backends.end(),
                                   *request.backend) == loaded_backends.end()) {
    std::string names;
    for (const auto& b : loaded_backends) names += (names.empty() ? "" : ", ") + b;
    throw Error(ErrorKind::kInvalidInput, "Unknown backend '" + *request.backend + "' (loaded: " +
                                              (names.empty() ? "none" : names) + ")");
  }
  if (request.stdin_data.size() > limits.max_code_bytes)
    throw Error(ErrorKind::kInvalidInput, "stdin too large (max " +
                                              std::to_string(limits.max_code_bytes / 1024) +
                                              "KB, requests.max_code_size)");
  check_args(request.args);
  check_input_files(request.files, limits);
  apply_requested_limits(Limits{}, request.limits, ceilings);  // throws on a bad one
  if (request.language != "python")
    throw Error(ErrorKind::kInvalidInput,
                "Unsupported language '" + request.language + "' (supported: python)");
}

}  // namespace warden::pipeline
