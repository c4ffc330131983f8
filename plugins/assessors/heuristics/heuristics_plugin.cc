// heuristics: warden's built-in assessor. It reads Python with a real
// tokenizer, resolves import aliases and constant strings, and reports the
// rules in internal/lang/python/analysis.cc. No external tool, so it is always available.
#include <warden/plugin.h>

#include "lang/python/analysis.h"

namespace warden::heuristics {

class HeuristicsAssessor {
 public:
  explicit HeuristicsAssessor(const nlohmann::json& settings) {
    for (const auto& [key, value] : settings.items())
      throw settings_error("/" + key, "unknown setting (heuristics has none)");
  }
  Availability probe() {
    return {true, "", "", std::string("rules:") + std::to_string(rules().size()) + ":v1"};
  }
  std::vector<Finding> assess(const AssessRequest& request) {
    if (request.language != "python")
      throw PluginError(WARDEN_ERR_UNSUPPORTED,
                        "heuristics reads Python only, not " + std::string(request.language));
    return analyze(request.code).findings;
  }
};

}  // namespace warden::heuristics

WARDEN_ASSESSOR_PLUGIN(
    warden::heuristics::HeuristicsAssessor, "heuristics", "0.1.0",
    "Built-in Python rules on a real tokenizer: code and command execution, "
    "deserialization, introspection, obfuscation, network, system paths, privilege")
