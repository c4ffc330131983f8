#include "deps/requirements.h"

#include <warden/error.h>

#include <toml++/toml.h>
#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace warden::deps {
namespace {

constexpr std::size_t kMaxRequirementLength = 512;

bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// One clause of a specifier: an operator and a PEP 440 version (a `.*`
// suffix only after == and !=).
std::string parse_clause(std::string_view clause) {
  static constexpr std::string_view kOperators[] = {"===", "~=", "==", "!=", "<=", ">=", "<", ">"};
  clause = trim(clause);
  for (std::string_view op : kOperators) {
    if (!clause.starts_with(op)) continue;
    std::string_view version = trim(clause.substr(op.size()));
    if (version.empty()) throw std::invalid_argument("'" + std::string(op) + "' without a version");
    bool wildcard = version.ends_with(".*");
    if (wildcard && op != "==" && op != "!=")
      throw std::invalid_argument("'.*' is only allowed after == and !=");
    std::string_view body = wildcard ? version.substr(0, version.size() - 2) : version;
    if (body.empty() || !is_alnum(body.front()))
      throw std::invalid_argument("'" + std::string(version) + "' is not a version");
    for (char c : body)
      if (!is_alnum(c) && c != '.' && c != '+' && c != '!' && c != '_' && c != '-')
        throw std::invalid_argument("'" + std::string(version) + "' is not a version");
    return std::string(op) + std::string(version);
  }
  throw std::invalid_argument("'" + std::string(clause) +
                              "' does not start with a version operator (==, >=, ~=, ...)");
}

// An environment marker, kept as written: the characters of PEP 508's
// marker grammar only, and no word that pip would read as an option.
std::string parse_marker(std::string_view marker) {
  marker = trim(marker);
  if (marker.empty()) throw std::invalid_argument("an empty environment marker after ';'");
  for (std::size_t i = 0; i < marker.size(); ++i) {
    char c = marker[i];
    bool allowed = is_alnum(c) || std::string_view(" _.<>=!~'\"()-").find(c) != std::string::npos;
    if (!allowed)
      throw std::invalid_argument(std::string("the environment marker has a '") + c +
                                  "' in it, which markers do not use");
    if (c == '-' && (i == 0 || is_space(marker[i - 1])))
      throw std::invalid_argument("the environment marker has a word starting with '-'");
  }
  return std::string(marker);
}

[[noreturn]] void refuse(std::string_view file_name, int line, const std::string& why) {
  throw Error(ErrorKind::kInvalidInput,
              std::string(file_name) + ":" + std::to_string(line) + ": " + why);
}

}  // namespace

std::string Requirement::text() const {
  std::string t = name;
  if (!extras.empty()) {
    t += "[";
    for (std::size_t i = 0; i < extras.size(); ++i) t += (i ? "," : "") + extras[i];
    t += "]";
  }
  t += specifier;
  if (!marker.empty()) t += "; " + marker;
  return t;
}

std::string normalize_name(std::string_view name) {
  if (name.empty() || !is_alnum(name.front()) || !is_alnum(name.back()))
    throw std::invalid_argument("'" + std::string(name) +
                                "' is not a package name (letters, digits, '-', '_', '.')");
  std::string out;
  bool in_separator = false;
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      in_separator = true;
      continue;
    }
    if (!is_alnum(c))
      throw std::invalid_argument("'" + std::string(name) +
                                  "' is not a package name (letters, digits, '-', '_', '.')");
    if (in_separator) out += '-';
    in_separator = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string parse_specifier(std::string_view specifier) {
  std::string out;
  if (trim(specifier).empty()) return out;
  std::size_t start = 0;
  while (start <= specifier.size()) {
    std::size_t comma = std::min(specifier.find(',', start), specifier.size());
    out += (out.empty() ? "" : ",") + parse_clause(specifier.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

Requirement parse_requirement(std::string_view text) {
  if (text.size() > kMaxRequirementLength)
    throw std::invalid_argument("longer than " + std::to_string(kMaxRequirementLength) +
                                " characters");
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      throw std::invalid_argument("has a control or non-ASCII character in it");
  std::string_view rest = trim(text);
  if (rest.starts_with("-"))
    throw std::invalid_argument("pip options are not requirements; the policy names the indexes");
  Requirement r;
  if (std::size_t semicolon = rest.find(';'); semicolon != std::string_view::npos) {
    r.marker = parse_marker(rest.substr(semicolon + 1));
    rest = trim(rest.substr(0, semicolon));
  }
  if (rest.find('@') != std::string_view::npos || rest.find('/') != std::string_view::npos ||
      rest.find(':') != std::string_view::npos)
    throw std::invalid_argument(
        "URLs and paths are not allowed: name a package, the policy names the indexes");
  std::size_t name_end = 0;
  while (name_end < rest.size() && (is_alnum(rest[name_end]) || rest[name_end] == '-' ||
                                    rest[name_end] == '_' || rest[name_end] == '.'))
    ++name_end;
  r.name = std::string(rest.substr(0, name_end));
  r.normalized = normalize_name(r.name);
  rest = trim(rest.substr(name_end));
  if (rest.starts_with("[")) {
    std::size_t close = rest.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("'[' without ']'");
    std::string_view list = rest.substr(1, close - 1);
    for (std::size_t start = 0; start <= list.size();) {
      std::size_t comma = std::min(list.find(',', start), list.size());
      std::string_view extra = trim(list.substr(start, comma - start));
      if (!extra.empty()) r.extras.push_back(normalize_name(extra));
      start = comma + 1;
    }
    std::sort(r.extras.begin(), r.extras.end());
    r.extras.erase(std::unique(r.extras.begin(), r.extras.end()), r.extras.end());
    rest = trim(rest.substr(close + 1));
  }
  if (rest.starts_with("(") && rest.ends_with(")")) rest = rest.substr(1, rest.size() - 2);
  r.specifier = parse_specifier(rest);
  return r;
}

std::optional<ScriptMetadata> script_metadata(std::string_view code, std::string_view file_name) {
  std::optional<ScriptMetadata> found;
  std::istringstream lines{std::string(code)};
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line != "# /// script") continue;
    if (found)
      refuse(file_name, number,
             "a second '# /// script' block (PEP 723 allows one; the first is at line " +
                 std::to_string(found->first_line) + ")");
    int first = number;
    std::string toml_text;
    bool closed = false;
    while (std::getline(lines, line)) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line == "# ///") {
        closed = true;
        break;
      }
      if (line == "#") {
        toml_text += "\n";
      } else if (line.starts_with("# ")) {
        toml_text += line.substr(2) + "\n";
      } else {
        refuse(file_name, number,
               "inside the '# /// script' block every line starts with '# ' (PEP 723); the "
               "block has no closing '# ///' before this line");
      }
    }
    if (!closed) refuse(file_name, first, "the '# /// script' block has no closing '# ///' line");
    ScriptMetadata meta;
    meta.first_line = first;
    toml::table table;
    try {
      table = toml::parse(toml_text);
    } catch (const toml::parse_error& e) {
      refuse(file_name, first + static_cast<int>(e.source().begin.line),
             "the script metadata is not valid TOML: " + std::string(e.description()));
    }
    if (const toml::node* python = table.get("requires-python")) {
      if (!python->is_string())
        refuse(file_name, first + static_cast<int>(python->source().begin.line),
               "'requires-python' must be a string");
      meta.requires_python = *python->value<std::string>();
    }
    if (const toml::node* dependencies = table.get("dependencies")) {
      const toml::array* list = dependencies->as_array();
      if (list == nullptr)
        refuse(file_name, first + static_cast<int>(dependencies->source().begin.line),
               "'dependencies' must be a list of strings");
      for (const toml::node& item : *list) {
        int at = first + static_cast<int>(item.source().begin.line);
        if (!item.is_string()) refuse(file_name, at, "'dependencies' must be a list of strings");
        std::string text = *item.value<std::string>();
        try {
          meta.dependencies.push_back(parse_requirement(text));
        } catch (const std::invalid_argument& e) {
          refuse(file_name, at, "dependency '" + text + "': " + e.what());
        }
      }
    }
    found = std::move(meta);
  }
  return found;
}

std::vector<Requirement> declared_dependencies(std::string_view code, std::string_view file_name,
                                               const std::vector<std::string>& requested,
                                               std::size_t max_count) {
  std::vector<Requirement> all;
  if (std::optional<ScriptMetadata> meta = script_metadata(code, file_name))
    all = std::move(meta->dependencies);
  for (std::size_t i = 0; i < requested.size(); ++i) {
    try {
      all.push_back(parse_requirement(requested[i]));
    } catch (const std::invalid_argument& e) {
      throw Error(ErrorKind::kInvalidInput,
                  "dependencies[" + std::to_string(i) + "] '" + requested[i] + "': " + e.what());
    }
  }
  std::vector<Requirement> unique;
  for (Requirement& r : all)
    if (std::find(unique.begin(), unique.end(), r) == unique.end()) unique.push_back(std::move(r));
  if (unique.size() > max_count)
    throw Error(ErrorKind::kInvalidInput, "the program declares " + std::to_string(unique.size()) +
                                              " dependencies, more than the " +
                                              std::to_string(max_count) + " allowed");
  return unique;
}

nlohmann::json to_json(const std::vector<Requirement>& requirements) {
  nlohmann::json out = nlohmann::json::array();
  for (const Requirement& r : requirements)
    out.push_back({{"name", r.name},
                   {"normalized", r.normalized},
                   {"extras", r.extras},
                   {"specifier", r.specifier},
                   {"marker", r.marker},
                   {"text", r.text()}});
  return out;
}

}  // namespace warden::deps
