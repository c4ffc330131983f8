// What a program asks to have installed: PEP 723 inline script metadata
// (`# /// script` ... `dependencies = [...]`) and the requirement strings a
// request carries, read strictly into one form (docs/dependencies.md).
//
// Only plain PEP 508 requirements by name are accepted: a name, extras, a
// version specifier and an environment marker. URLs, paths and pip options
// are refused, so nothing a program declares can name where a package comes
// from: that is the policy's dependencies() answer. Every function here is
// pure and thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace warden::deps {

struct Requirement {
  std::string name;                 // as written ("Requests")
  std::string normalized;           // PEP 503: lower case, runs of -_. as one - ("requests")
  std::vector<std::string> extras;  // normalized, sorted
  std::string specifier;            // ">=2.0,<3", without spaces; "" for any version
  std::string marker;               // "python_version >= '3.8'", "" for none
  // The canonical text handed to pip: name[extras]specifier; marker.
  std::string text() const;
  friend bool operator==(const Requirement&, const Requirement&) = default;
};

// The PEP 503 form of a project name; throws std::invalid_argument when
// `name` is not a valid project name.
std::string normalize_name(std::string_view name);

// Parses one requirement; throws std::invalid_argument with what is wrong.
Requirement parse_requirement(std::string_view text);

// Checks a version specifier (">=2,<3", "==1.4.*", "~=2.1", or "" for any);
// returns it without spaces. Throws std::invalid_argument.
std::string parse_specifier(std::string_view specifier);

// What a program's `# /// script` block declares; nullopt when it has none.
struct ScriptMetadata {
  std::vector<Requirement> dependencies;
  std::string requires_python;  // "" when not given
  int first_line = 0;           // of the `# /// script` line, 1-based
};

// Reads the PEP 723 block of `code`. Throws Error(kInvalidInput) naming
// `file_name` and the line when the block is malformed: two script blocks, an
// unclosed one, TOML that does not parse, `dependencies` that is not a list
// of strings, a requirement refused above.
std::optional<ScriptMetadata> script_metadata(std::string_view code, std::string_view file_name);

// The program's PEP 723 dependencies and the request's own list, in that
// order, each named in errors; duplicates (by text) kept once. Throws
// Error(kInvalidInput), also when there are more than `max_count`.
std::vector<Requirement> declared_dependencies(std::string_view code, std::string_view file_name,
                                               const std::vector<std::string>& requested,
                                               std::size_t max_count);

// [{"name", "normalized", "extras", "specifier", "marker", "text"}], for
// policies and the audit log.
nlohmann::json to_json(const std::vector<Requirement>& requirements);

}  // namespace warden::deps
