// Embeds warden: reads a Python file, has warden assess it, decide, run it in
// the sandbox and audit it, and prints what happened. HIGH-risk code runs only
// with --confirm, as an assistant would run it only after asking its user.
// Exit status: the program's own (128 + the signal that ended it), 1 when
// warden did not run it, 2 for bad input or configuration, 3 when something
// warden needs is down.
#include <warden/error.h>
#include <warden/host.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

namespace {

int usage() {
  std::cerr << "usage: embed_warden [--config warden.yaml] [--confirm] script.py\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, script;
  bool confirm = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--config" && i + 1 < argc)
      config_path = argv[++i];
    else if (arg == "--confirm")
      confirm = true;
    else if (script.empty() && !arg.starts_with("-"))
      script = arg;
    else
      return usage();
  }
  if (script.empty()) return usage();
  std::ifstream in(script, std::ios::binary);
  if (!in) {
    std::cerr << script << ": cannot be read\n";
    return 2;
  }
  std::ostringstream code;
  code << in.rdbuf();

  try {
    // One Host serves the whole program, from any number of threads.
    std::unique_ptr<warden::Host> host = warden::Host::open(config_path);
    warden::ExecutionRequest request;
    request.code = code.str();
    request.file_name = script;
    request.user = "embed_warden";
    request.confirmed = confirm;
    warden::ExecutionResult result = host->assess_and_execute(request);

    std::cout << "level " << warden::to_string(result.level) << " (score " << result.score
              << "), decision " << warden::to_string(result.decision) << "\n";
    for (const auto& reason : result.reasons) std::cout << "  " << reason << "\n";
    switch (result.decision) {
      case warden::Outcome::kRan:
        std::cout << "--- stdout\n" << result.run->stdout_data;
        std::cerr << result.run->stderr_data;
        return result.run->exit_code.value_or(128 + result.run->signal.value_or(0));
      case warden::Outcome::kNeedsConfirmation:
        std::cout << "HIGH risk: read it, then run again with --confirm\n";
        return 1;
      case warden::Outcome::kBlocked:
      case warden::Outcome::kRefused: std::cout << result.reason << "\n"; return 1;
    }
    return 1;
  } catch (const warden::Error& e) {
    std::cerr << "embed_warden: " << e.what() << "\n";
    return warden::exit_code_for(e.kind());
  }
}
