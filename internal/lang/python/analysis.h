// The heuristics analysis of Python source (docs/heuristics.md): the text
// CPython will run (source.h), import aliases, constant strings, call chains
// through attributes, subscripts and calls, code given to eval/exec/compile
// as a constant (assessed as code, to a bounded depth), and the rules. The
// heuristics assessor reports its findings; the assessment stage adds its
// imports and calls to every assessment (docs/assessment.md).
#pragma once

#include <warden/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace warden::heuristics {

struct Rule {
  const char* id;
  Severity severity;
  Confidence confidence;
  const char* category;
  int cwe;
  const char* message;
};

// Every rule this assessor can report.
const std::vector<Rule>& rules();

// A module the program imports: `import x.y`, `from x import z`, or a
// constant name given to __import__/importlib.import_module.
struct Import {
  std::string module;
  int line = 0;
};

// A call (or a hand-over as a value) of a function a rule knows, by its
// resolved name (`os.system`, `eval`, `pickle.loads`), however it was spelled.
struct Call {
  std::string name;
  int line = 0;
};

struct Analysis {
  std::vector<Finding> findings;
  std::vector<Import> imports;  // in source order
  std::vector<Call> calls;      // in source order
};

// The analysis of one program. Pure and thread-safe; never throws for bad
// input (text that is not Python gets whatever its tokens show).
Analysis analyze(std::string_view code);

void to_json(nlohmann::json& j, const Import& i);
void to_json(nlohmann::json& j, const Call& c);

}  // namespace warden::heuristics
