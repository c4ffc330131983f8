// Runs a Python program through warden from C++, the way Mai's SafetyAPI
// would: HIGH asks for confirmation, BLOCKED needs an explained override.
//   embed_example PROGRAM.py [--config warden.yaml]
#include <warden/host.h>

#include <fstream>
#include <iostream>
#include <sstream>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: embed_example PROGRAM.py [--config FILE]\n";
    return 2;
  }
  std::string config = argc >= 4 && std::string(argv[2]) == "--config" ? argv[3] : "";
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream code;
  code << in.rdbuf();
  try {
    auto host = warden::Host::open(config);
    warden::ExecutionRequest request;
    request.code = code.str();
    request.user = "embed-example";
    warden::ExecutionResult result = host->assess_and_execute(request);
    std::cout << "decision: " << warden::to_string(result.decision) << ", level "
              << warden::to_string(result.level) << "\n";
    if (result.run) std::cout << result.run->stdout_data;
    return result.decision == warden::Outcome::kRan ? 0 : 1;
  } catch (const warden::Error& e) {
    std::cerr << "warden: " << e.what() << "\n";
    return e.kind() == warden::ErrorKind::kInvalidInput ? 2 : 3;
  }
}
