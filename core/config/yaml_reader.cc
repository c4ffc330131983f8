#include "config/yaml_reader.h"

#include <algorithm>

#include <warden/error.h>
#include "common/paths.h"
#include "common/units.h"

namespace warden {

std::string SourceMark::to_string() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

YamlMap::YamlMap(const YAML::Node& node, std::string file, std::string path)
    : node_(node), file_(std::move(file)), path_(std::move(path)) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap())
    throw Error(ErrorKind::kConfig, mark().to_string() + ": " +
                                        (path_.empty() ? std::string("the document") : path_) +
                                        " must be a mapping");
}

SourceMark YamlMap::mark_of(const YAML::Node& node) const {
  YAML::Mark m = node.Mark();
  return SourceMark{file_, m.line < 0 ? 1 : m.line + 1, m.column < 0 ? 1 : m.column + 1};
}

std::string YamlMap::field(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void YamlMap::fail(const YAML::Node& at, const std::string& key, const std::string& message) const {
  throw Error(ErrorKind::kConfig, mark_of(at).to_string() + ": " + field(key) + ": " + message);
}

bool YamlMap::has(const std::string& key) const {
  return node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
}

std::optional<YAML::Node> YamlMap::find(const std::string& key) {
  read_.insert(key);
  if (!node_.IsMap()) return std::nullopt;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (it->first.Scalar() == key) {
      if (it->second.IsNull()) return std::nullopt;
      return it->second;
    }
  }
  return std::nullopt;
}

std::string YamlMap::scalar(const YAML::Node& value, const std::string& key) const {
  if (!value.IsScalar()) fail(value, key, "expected a single value, got a list or mapping");
  return value.Scalar();
}

std::string YamlMap::get_string(const std::string& key, const std::string& fallback) {
  std::optional<YAML::Node> v = find(key);
  return v ? scalar(*v, key) : fallback;
}

bool YamlMap::get_bool(const std::string& key, bool fallback) {
  std::optional<YAML::Node> v = find(key);
  if (!v) return fallback;
  std::string s = scalar(*v, key);
  if (s == "true") return true;
  if (s == "false") return false;
  fail(*v, key, "expected true or false, got '" + s + "'");
}

std::int64_t YamlMap::get_int(const std::string& key, std::int64_t fallback, std::int64_t min,
                              std::int64_t max) {
  std::optional<YAML::Node> v = find(key);
  if (!v) return fallback;
  std::string s = scalar(*v, key);
  std::int64_t value = 0;
  try {
    std::size_t used = 0;
    value = std::stoll(s, &used);
    if (used != s.size()) throw std::invalid_argument(s);
  } catch (const std::exception&) {
    fail(*v, key, "expected an integer, got '" + s + "'");
  }
  if (value < min || value > max)
    fail(*v, key,
         "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + s);
  return value;
}

double YamlMap::get_double(const std::string& key, double fallback, double min, double max) {
  std::optional<YAML::Node> v = find(key);
  if (!v) return fallback;
  std::string s = scalar(*v, key);
  double value = 0;
  try {
    std::size_t used = 0;
    value = std::stod(s, &used);
    if (used != s.size()) throw std::invalid_argument(s);
  } catch (const std::exception&) {
    fail(*v, key, "expected a number, got '" + s + "'");
  }
  if (!(value >= min && value <= max))
    fail(*v, key,
         "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + s);
  return value;
}

std::uint64_t YamlMap::get_size(const std::string& key, std::uint64_t fallback) {
  std::optional<YAML::Node> v = find(key);
  if (!v) return fallback;
  std::string s = scalar(*v, key);
  auto size = parse_size(s);
  if (!size) fail(*v, key, "expected a size such as 256MiB or 4096, got '" + s + "'");
  return *size;
}

std::uint64_t YamlMap::get_duration_ms(const std::string& key, std::uint64_t fallback) {
  std::optional<YAML::Node> v = find(key);
  if (!v) return fallback;
  std::string s = scalar(*v, key);
  auto ms = parse_duration_ms(s);
  if (!ms) fail(*v, key, "expected a duration such as 500ms, 10s or 2m, got '" + s + "'");
  return *ms;
}

std::vector<std::string> YamlMap::get_string_list(const std::string& key,
                                                  const std::vector<std::string>& fallback) {
  std::optional<YAML::Node> v = find(key);
  if (!v) return fallback;
  if (!v->IsSequence()) fail(*v, key, "expected a list");
  std::vector<std::string> out;
  for (const auto& item : *v) out.push_back(scalar(item, key));
  return out;
}

std::map<std::string, std::string> YamlMap::get_string_map(
    const std::string& key, const std::map<std::string, std::string>& fallback) {
  std::optional<YAML::Node> v = find(key);
  if (!v) return fallback;
  if (!v->IsMap()) fail(*v, key, "expected a mapping");
  std::map<std::string, std::string> out;
  for (auto it = v->begin(); it != v->end(); ++it)
    out[it->first.Scalar()] = it->second.IsNull() ? "" : scalar(it->second, key);
  return out;
}

std::filesystem::path YamlMap::get_path(const std::string& key, const std::string& fallback,
                                        const std::filesystem::path& base) {
  std::optional<YAML::Node> v = find(key);
  std::string text = v ? scalar(*v, key) : fallback;
  try {
    return expand_path(text, base, field(key));
  } catch (const Error& e) {
    if (!v) throw;
    throw Error(ErrorKind::kConfig, mark_of(*v).to_string() + ": " + e.what());
  }
}

std::vector<std::filesystem::path> YamlMap::get_path_list(const std::string& key,
                                                          const std::filesystem::path& base) {
  std::optional<YAML::Node> v = find(key);
  if (!v) return {};
  if (!v->IsSequence()) fail(*v, key, "expected a list");
  std::vector<std::filesystem::path> out;
  for (const auto& item : *v) {
    try {
      out.push_back(expand_path(scalar(item, key), base, field(key)));
    } catch (const Error& e) {
      throw Error(ErrorKind::kConfig, mark_of(item).to_string() + ": " + e.what());
    }
  }
  return out;
}

std::string YamlMap::get_choice(const std::string& key, const std::string& fallback,
                                const std::vector<std::string>& choices) {
  std::optional<YAML::Node> v = find(key);
  if (!v) return fallback;
  std::string s = scalar(*v, key);
  if (std::find(choices.begin(), choices.end(), s) == choices.end()) {
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
    fail(*v, key, "must be one of " + list + ", got '" + s + "'");
  }
  return s;
}

YamlMap YamlMap::get_map(const std::string& key) {
  std::optional<YAML::Node> v = find(key);
  if (!v) return YamlMap(YAML::Node(YAML::NodeType::Map), file_, field(key));
  if (!v->IsMap()) fail(*v, key, "expected a mapping");
  return YamlMap(*v, file_, field(key));
}

void YamlMap::finish() const {
  if (!node_.IsMap()) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string& key = it->first.Scalar();
    if (read_.count(key) == 0) fail(it->first, key, "unknown key");
  }
}

namespace {

nlohmann::json to_json(const YAML::Node& node, const std::string& pointer, const std::string& file,
                       std::map<std::string, SourceMark>& marks) {
  YAML::Mark m = node.Mark();
  marks[pointer] = SourceMark{file, m.line + 1, m.column + 1};
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (auto it = node.begin(); it != node.end(); ++it) {
        const std::string& key = it->first.Scalar();
        out[key] = to_json(it->second, pointer + "/" + key, file, marks);
      }
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (std::size_t i = 0; i < node.size(); ++i)
        out.push_back(to_json(node[i], pointer + "/" + std::to_string(i), file, marks));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") return s;  // quoted: always a string
      if (s == "true") return true;
      if (s == "false") return false;
      try {
        std::size_t used = 0;
        long long i = std::stoll(s, &used);
        if (used == s.size()) return i;
        double d = std::stod(s, &used);
        if (used == s.size()) return d;
      } catch (const std::exception&) {
      }
      return s;
    }
    default: return nullptr;
  }
}

}  // namespace

JsonWithMarks yaml_to_json(const YAML::Node& node, const std::string& file) {
  JsonWithMarks out;
  if (!node.IsDefined() || node.IsNull()) return out;
  out.value = to_json(node, "", file, out.marks);
  out.origin = out.marks[""];
  return out;
}

std::string JsonWithMarks::locate(const std::string& message, const std::string& field) const {
  SourceMark where = origin;
  std::string rest = message;
  if (!message.empty() && message[0] == '/') {
    std::size_t colon = message.find(": ");
    std::string pointer = message.substr(0, colon);
    for (std::string p = pointer; !p.empty(); p = p.substr(0, p.rfind('/'))) {
      if (auto it = marks.find(p); it != marks.end()) {
        where = it->second;
        break;
      }
    }
    std::string dotted = pointer;
    std::replace(dotted.begin(), dotted.end(), '/', '.');
    rest = field + dotted + (colon == std::string::npos ? "" : message.substr(colon));
  } else {
    rest = field + ": " + message;
  }
  return where.to_string() + ": " + rest;
}

}  // namespace warden
