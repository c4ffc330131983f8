// warden's one error model, for the core and for embedders: exceptions of type warden::Error,
// each with a kind that decides the CLI's exit code (docs/cli.md). Nothing in
// the core throws anything else on purpose; third-party exceptions are caught
// where they arise and rethrown as an Error that says what was being done.
// No exception ever crosses the plugin boundary (see sdk/include/warden/plugin_abi.h).
#ifndef WARDEN_ERROR_H_
#define WARDEN_ERROR_H_

#include <stdexcept>
#include <string>

namespace warden {

enum class ErrorKind {
  kInvalidInput,  // bad request, bad command line, bad file given by the user: exit 2
  kConfig,        // bad configuration or policy file: exit 2
  kRefused,       // a negative verdict that is not a bug (tampered log, refused run): exit 1
  kEnvironment,   // something outside warden is missing or down (daemon, disk): exit 3
  kInternal,      // a bug: exit 3
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

// The exit code the CLI uses for an error of this kind.
inline int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kRefused: return 1;
    case ErrorKind::kInvalidInput:
    case ErrorKind::kConfig: return 2;
    case ErrorKind::kEnvironment:
    case ErrorKind::kInternal: return 3;
  }
  return 3;
}

}  // namespace warden

#endif  // WARDEN_ERROR_H_
