// forbidden_imports: flags `import X` and `from X import ...` for modules the
// settings name. A small, complete example of a warden assessor plugin.
//
// warden.yaml:
//   assessors:
//     enabled: [heuristics, forbidden_imports]
//     settings:
//       forbidden_imports: {modules: [socket, ctypes], severity: high}
#include <warden/plugin.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>

class ForbiddenImports {
 public:
  explicit ForbiddenImports(const nlohmann::json& settings) {
    if (settings.contains("modules")) {
      if (!settings["modules"].is_array())
        throw warden::settings_error("/modules", "expected a list of module names");
      for (const auto& m : settings["modules"]) {
        if (!m.is_string()) throw warden::settings_error("/modules", "module names are strings");
        modules_.insert(m.get<std::string>());
      }
    } else {
      modules_ = {"socket", "ctypes"};
    }
    try {
      severity_ = warden::severity_from_string(settings.value("severity", "medium"));
    } catch (const std::invalid_argument& e) {
      throw warden::settings_error("/severity", e.what());
    }
  }

  warden::Availability probe() {
    std::string key;
    for (const auto& m : modules_) key += m + ",";
    return {.available = true, .reason = "", .tool_version = "", .cache_key = key};
  }

  std::vector<warden::Finding> assess(const warden::AssessRequest& request) {
    static const std::regex kImport(
        R"(^\s*(?:from\s+([A-Za-z_][\w.]*)\s+import|import\s+([A-Za-z_][\w.]*)))");
    std::vector<warden::Finding> findings;
    std::istringstream lines{std::string(request.code)};
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
      std::smatch m;
      if (!std::regex_search(line, m, kImport)) continue;
      std::string module = m[1].matched ? m[1].str() : m[2].str();
      std::string top = module.substr(0, module.find('.'));
      if (!modules_.count(top)) continue;
      warden::Finding f;
      f.rule_id = "forbidden-import";
      f.severity = severity_;
      f.confidence = warden::Confidence::kHigh;
      f.category = "other";
      f.line = number;
      f.column = static_cast<int>(m.position(0)) + 1;
      f.message = "import of forbidden module '" + top + "'";
      f.source_line = line;
      findings.push_back(std::move(f));
    }
    return findings;
  }

 private:
  std::set<std::string> modules_;
  warden::Severity severity_ = warden::Severity::kMedium;
};

WARDEN_ASSESSOR_PLUGIN(ForbiddenImports, "forbidden_imports", "1.0.0",
                       "Flags imports of modules named in its settings")
