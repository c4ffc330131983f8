// Strict reading of YAML mappings: every key must be known, every value of
// the right type, and every error names file:line:column and the field.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace warden {

// A position in a YAML file, 1-based, for messages.
struct SourceMark {
  std::string file;
  int line = 0;
  int column = 0;
  std::string to_string() const;  // "file:line:column"
};

// A mapping node being read. Reading a key marks it as known; finish()
// rejects the keys nobody read. All errors are warden::Error(kConfig).
class YamlMap {
 public:
  YamlMap(const YAML::Node& node, std::string file, std::string path);

  bool has(const std::string& key) const;
  const YAML::Node& node() const { return node_; }
  SourceMark mark() const { return mark_of(node_); }
  SourceMark mark_of(const YAML::Node& node) const;

  std::string get_string(const std::string& key, const std::string& fallback);
  bool get_bool(const std::string& key, bool fallback);
  std::int64_t get_int(const std::string& key, std::int64_t fallback, std::int64_t min,
                       std::int64_t max);
  double get_double(const std::string& key, double fallback, double min, double max);
  std::uint64_t get_size(const std::string& key, std::uint64_t fallback);
  std::uint64_t get_duration_ms(const std::string& key, std::uint64_t fallback);
  // A mapping of single values ("requests": ">=2"), in key order.
  std::map<std::string, std::string> get_string_map(
      const std::string& key, const std::map<std::string, std::string>& fallback);
  std::vector<std::string> get_string_list(const std::string& key,
                                           const std::vector<std::string>& fallback);
  // A path, expanded by expand_path() against `base` (common/paths.h).
  std::filesystem::path get_path(const std::string& key, const std::string& fallback,
                                 const std::filesystem::path& base);
  std::vector<std::filesystem::path> get_path_list(const std::string& key,
                                                   const std::filesystem::path& base);
  // A string that must be one of `choices`.
  std::string get_choice(const std::string& key, const std::string& fallback,
                         const std::vector<std::string>& choices);
  // A nested mapping; an absent key reads as an empty mapping.
  YamlMap get_map(const std::string& key);

  // Throws for the first key that was never read.
  void finish() const;

  [[noreturn]] void fail(const YAML::Node& at, const std::string& key,
                         const std::string& message) const;
  std::string field(const std::string& key) const;

 private:
  std::optional<YAML::Node> find(const std::string& key);
  std::string scalar(const YAML::Node& value, const std::string& key) const;

  YAML::Node node_;
  std::string file_;
  std::string path_;
  std::set<std::string> read_;
};

// A YAML subtree handed to a plugin as JSON, with the position of every
// value so that the plugin's complaints ("/timeout_ms: ...") can point into
// the file.
struct JsonWithMarks {
  nlohmann::json value = nlohmann::json::object();
  std::map<std::string, SourceMark> marks;  // JSON pointer -> position
  SourceMark origin;                        // the subtree itself

  // Turns "/ptr: message" from a plugin into "file:line:col: <field>/ptr: message".
  std::string locate(const std::string& plugin_message, const std::string& field) const;
};

JsonWithMarks yaml_to_json(const YAML::Node& node, const std::string& file);

}  // namespace warden
