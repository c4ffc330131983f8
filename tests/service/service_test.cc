// `warden serve` end to end: a real service process, real clients on its
// socket (service::Client, raw HTTP, the warden CLI, other uids), real runs
// in the native sandbox, and the audit log they all write.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <set>
#include <thread>

#include "audit/audit_reader.h"
#include "audit/note_signer.h"
#include "config/config.h"
#include "service/api.h"
#include "service/client.h"
#include "support/process.h"
#include "support/service.h"

using namespace warden;
namespace fs = std::filesystem;

namespace {

// A configuration of its own (heuristics only, native sandbox, a private
// audit folder and socket), and its service.
struct Setup {
  test::TempDir dir;
  fs::path config_file, socket;

  explicit Setup(const std::string& extra_service = "", const std::string& policies = "default") {
    socket = dir.path() / "s.sock";
    config_file =
        dir.write("warden.yaml",
                  "log_level: info\nplugins: {directories: [" + std::string(WARDEN_PLUGIN_DIR) +
                      "]}\nassessors: {enabled: [heuristics]}\nbackends: {enabled: [native]}\n"
                      "policies: {directory: " +
                      std::string(WARDEN_SOURCE_DIR) + "/policies/" + policies +
                      "}\naudit:\n  directory: " + (dir.path() / "audit").string() +
                      "\n  signing_key: " + (dir.path() / "keys/audit.key").string() +
                      "\nservice:\n  socket: " + socket.string() + "\n" + extra_service);
  }
  Config config() const { return load_config(config_file); }
  std::unique_ptr<test::ServiceProcess> start() const {
    return std::make_unique<test::ServiceProcess>(config_file, socket, dir.path() / "serve.log");
  }
  std::unique_ptr<service::Client> client() const {
    auto c = service::Client::connect(config());
    REQUIRE(c != nullptr);
    return c;
  }
  audit::VerifyReport verify() const {
    Config c = config();
    return audit::verify_log(c.audit.directory, c.audit.origin,
                             audit::read_verifier_key(c.audit.public_key), std::nullopt);
  }
  std::vector<audit::StoredRecord> records() const {
    return audit::scan_log(dir.path() / "audit", "warden.local/audit").records;
  }
};

nlohmann::json run_request(const std::string& code) {
  ExecutionRequest r;
  r.code = code;
  r.file_name = "prog.py";
  return service::request_to_json(r);
}

// Sends `request` (raw HTTP) on a new connection and returns the status
// code and body of the answer.
std::pair<int, nlohmann::json> raw_http(const fs::path& socket, const std::string& request) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket.c_str(), sizeof address.sun_path - 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  for (std::size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the service may answer (413) and close before it read it all
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buffer[65536];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) answer.append(buffer, n);
  ::close(fd);
  REQUIRE(answer.rfind("HTTP/1.1 ", 0) == 0);
  auto body = answer.find("\r\n\r\n");
  return {std::stoi(answer.substr(9, 3)), nlohmann::json::parse(answer.substr(body + 4))};
}

std::string post(const std::string& path, const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: w\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("the service answers every endpoint in the shapes of --json, and errors by kind") {
  Setup setup;
  auto service = setup.start();
  auto client = setup.client();

  auto status = client->call("GET", "/v1/status");
  REQUIRE(status);
  CHECK((*status)["service"]["pid"] == service->pid());
  CHECK((*status)["audit_integrity"]["valid"] == true);

  auto ran = client->call("POST", "/v1/run", run_request("print(6 * 7)\n"));
  REQUIRE(ran);
  CHECK((*ran)["decision"] == "ran");
  CHECK((*ran)["stdout"] == "42\n");
  CHECK((*ran)["exit_code"] == 0);
  std::string request_id = (*ran)["request_id"];

  auto blocked = client->call("POST", "/v1/run", run_request("import os\nos.system('rm -rf /')\n"));
  CHECK((*blocked)["decision"] == "blocked");

  auto assessed = client->call("POST", "/v1/assess",
                               {{"code", "import os\nos.system('ls')\n"}, {"explain", true}});
  CHECK((*assessed)["level"] != "LOW");
  CHECK((*assessed)["explanation"].contains("classify"));

  auto history = client->call("GET", "/v1/history?limit=5");
  CHECK((*history)["recent_executions"].dump().find(request_id) != std::string::npos);
  auto report = client->call("GET", "/v1/report?hours=1");
  CHECK(report->is_object());
  CHECK((*client->call("POST", "/v1/policy/reload")).is_object());
  CHECK((*client->call("GET", "/v1/audit/verify"))["intact"] == true);

  // Every failure is an answer with the kind and a message naming the cause.
  CHECK_THROWS_WITH(client->call("GET", "/v1/history?limit=x"), Catch::Contains("limit='x'"));
  CHECK_THROWS_WITH(client->call("POST", "/v1/run", {{"code", "print(1)"}, {"colour", "red"}}),
                    Catch::Contains("unknown field 'colour'"));
  CHECK_THROWS_WITH(client->call("POST", "/v1/run", {{"code", ""}}), Catch::Contains("empty"));
  try {
    client->call("POST", "/v1/run", {{"code", "print(1)"}, {"user", "someone-else"}});
    FAIL("a caller named another user");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kRefused);
    CHECK_THAT(e.what(), Catch::Contains("service.delegates"));
  }
  auto [missing, missing_body] =
      raw_http(setup.socket, "GET /v1/nothing HTTP/1.1\r\nHost: w\r\nConnection: close\r\n\r\n");
  CHECK(missing == 404);
  auto [wrong_method, wrong_method_body] =
      raw_http(setup.socket, "GET /v1/run HTTP/1.1\r\nHost: w\r\nConnection: close\r\n\r\n");
  CHECK(wrong_method == 405);
  auto [not_json, not_json_body] = raw_http(setup.socket, post("/v1/run", "{nope"));
  CHECK(not_json == 400);
  CHECK(not_json_body["error"]["kind"] == "invalid_input");
  const RequestsConfig& bounds = setup.config().requests;
  const std::uint64_t body_limit =
      12 * bounds.max_code_bytes + (bounds.max_input_bytes + 2) / 3 * 4 + (1u << 20);
  auto [too_large, too_large_body] =
      raw_http(setup.socket, post("/v1/run", std::string(body_limit + 1, 'x')));
  CHECK(too_large == 413);

  // A client of another configuration is not served by mistake: it works in process.
  Setup other;
  Config elsewhere = other.config();
  elsewhere.service.socket = setup.socket;
  auto stranger = service::Client::connect(elsewhere);
  REQUIRE(stranger);
  CHECK_FALSE(stranger->call("POST", "/v1/run", run_request("print(1)\n")).has_value());

  client.reset();
  int exit_status = service->stop(SIGTERM);
  CHECK((WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0));
  CHECK_FALSE(fs::exists(setup.socket));
  CHECK(setup.verify().intact);
  // Requests through the service are recorded with the peer's verified identity.
  bool found = false;
  for (const auto& r : setup.records())
    if (r.kind == "assessment" && r.data.contains("metadata") &&
        r.data["metadata"].contains("service_peer")) {
      found = true;
      CHECK(r.data["user_verified"] == true);
      CHECK(r.data["metadata"]["service_peer"]["uid"] == ::geteuid());
    }
  CHECK(found);
}

TEST_CASE("a streamed run hands its output over as it comes, within the caps") {
  Setup setup;
  auto service = setup.start();
  using Clock = std::chrono::steady_clock;
  SECTION("output arrives while the program still runs") {
    ExecutionRequest r;
    r.code =
        "import sys, time\nprint('first', flush=True)\nprint('warn', file=sys.stderr, "
        "flush=True)\ntime.sleep(2)\nprint('second')\n";
    std::vector<std::pair<nlohmann::json, Clock::time_point>> events;
    nlohmann::json result = setup.client()->stream_run(
        service::request_to_json(r),
        [&](const nlohmann::json& e) { events.emplace_back(e, Clock::now()); });
    auto finished = Clock::now();
    CHECK(result["decision"] == "ran");
    CHECK(result["stdout"] == "first\nsecond\n");
    REQUIRE_FALSE(events.empty());
    CHECK(events.front().first == nlohmann::json{{"stdout", "first\n"}});
    CHECK(finished - events.front().second > std::chrono::milliseconds(1500));
    std::string out, err;
    for (const auto& [e, at] : events) {
      if (e.contains("stdout")) out += e["stdout"].get<std::string>();
      if (e.contains("stderr")) err += e["stderr"].get<std::string>();
    }
    CHECK(out == "first\nsecond\n");
    CHECK(err == "warn\n");
  }
  SECTION("a character split between writes arrives whole; bytes that are not UTF-8 are replaced") {
    ExecutionRequest r;
    r.code =
        "import os, time\nos.write(1, b'caf\\xc3')\ntime.sleep(0.3)\nos.write(1, "
        "b'\\xa9 \\xff!')\n";
    std::string out;
    setup.client()->stream_run(service::request_to_json(r),
                               [&](const nlohmann::json& e) { out += e.value("stdout", ""); });
    CHECK(out == "caf\u00e9 \ufffd!");
  }
  SECTION("the output cap holds for what is streamed") {
    ExecutionRequest r;
    r.code = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n";
    r.limits["output"] = "256KiB";
    std::size_t streamed = 0;
    nlohmann::json result = setup.client()->stream_run(
        service::request_to_json(r),
        [&](const nlohmann::json& e) { streamed += e.value("stdout", "").size(); });
    CHECK(result["output_truncated"] == true);
    CHECK(streamed <= 256 * 1024);
    CHECK(streamed == result["stdout"].get<std::string>().size());
  }
  SECTION("bad input ends the stream with the error") {
    CHECK_THROWS_WITH(setup.client()->stream_run({{"code", ""}}, [](const nlohmann::json&) {}),
                      Catch::Contains("empty"));
  }
}

TEST_CASE("a service that cannot start says why and leaves no socket behind") {
  Setup setup("  socket_group: no-such-group-for-warden\n");
  auto r =
      test::run_process({test::warden_binary(), "--config", setup.config_file.string(), "serve"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err,
             Catch::Contains("service.socket_group: no group named 'no-such-group-for-warden'"));
  CHECK_FALSE(fs::exists(setup.socket));

  // A live service's socket is left alone: a second service exits, the first still serves.
  Setup live;
  auto service = live.start();
  auto second =
      test::run_process({test::warden_binary(), "--config", live.config_file.string(), "serve"});
  CHECK(second.exit_code == 3);
  CHECK_THAT(second.err, Catch::Contains("a warden service already listens on"));
  CHECK(live.client()->call("GET", "/v1/status").has_value());
  auto records = live.records();
  CHECK(std::count_if(records.begin(), records.end(),
                      [](const auto& r) { return r.kind == "system_start"; }) == 1);
}

TEST_CASE("fifty clients at once share one service and one intact log") {
  Setup setup;
  auto service = setup.start();
  constexpr int kClients = 50;
  std::vector<std::future<nlohmann::json>> answers;
  for (int i = 0; i < kClients; ++i)
    answers.push_back(std::async(std::launch::async, [&setup, i] {
      auto client = service::Client::connect(setup.config());
      if (!client) throw std::runtime_error("no service");
      return *client->call("POST", "/v1/run", run_request("print(" + std::to_string(i) + ")\n"));
    }));
  std::set<std::string> ids;
  for (int i = 0; i < kClients; ++i) {
    nlohmann::json r = answers[i].get();
    INFO(r.dump());
    CHECK(r["decision"] == "ran");
    CHECK(r["stdout"] == std::to_string(i) + "\n");
    ids.insert(r["request_id"].get<std::string>());
  }
  CHECK(ids.size() == kClients);
  service->stop(SIGTERM);
  auto report = setup.verify();
  INFO(report.reason);
  CHECK(report.intact);
  auto records = setup.records();
  CHECK(std::count_if(records.begin(), records.end(),
                      [](const auto& r) { return r.kind == "run_result"; }) == kClients);
}

TEST_CASE("SIGTERM to the service cancels the run in progress, answers it and audits it") {
  Setup setup;
  auto service = setup.start();
  auto answer = std::async(std::launch::async, [&setup] {
    auto client = setup.client();
    ExecutionRequest r;
    r.code = "import time\nprint('started', flush=True)\ntime.sleep(120)\n";
    r.limits["wall_time"] = "150s";
    return *client->call("POST", "/v1/run", service::request_to_json(r));
  });
  // The run has started once its run_start record is written.
  auto started = [&setup] {
    for (const auto& r : setup.records())
      if (r.kind == "run_start") return true;
    return false;
  };
  for (int i = 0; i < 300 && !started(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(started());
  auto begin = std::chrono::steady_clock::now();
  int status = service->stop(SIGTERM);
  CHECK(std::chrono::steady_clock::now() - begin < std::chrono::seconds(30));
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  nlohmann::json r = answer.get();
  CHECK(r["decision"] == "refused");
  CHECK_THAT(r["reason"].get<std::string>(), Catch::Contains("cancel"));
  CHECK(setup.verify().intact);
}

TEST_CASE("a client that hangs up cancels its run") {
  Setup setup;
  auto service = setup.start();
  {
    auto client = setup.client();
    auto pending = std::async(std::launch::async, [&client] {
      ExecutionRequest r;
      r.code = "import time\ntime.sleep(120)\n";
      r.limits["wall_time"] = "150s";
      return client->call("POST", "/v1/run", service::request_to_json(r));
    });
    for (int i = 0; i < 300; ++i) {
      auto records = setup.records();
      if (std::any_of(records.begin(), records.end(),
                      [](const auto& r) { return r.kind == "run_start"; }))
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    client->cancel();  // what `warden run` does on Ctrl-C
    nlohmann::json r = *pending.get();
    CHECK(r["decision"] == "refused");
  }
  bool cancelled = false;
  for (const auto& r : setup.records())
    if (r.kind == "run_result" && r.data.value("cancelled", false)) cancelled = true;
  CHECK(cancelled);
}

TEST_CASE("only the socket's permissions let other users in, and they cannot speak for others") {
  if (::geteuid() != 0) {
    if (test::under_ci()) FAIL("this test switches uids: it needs root");
    WARN("skipped: switching to another uid needs root");
    return;
  }
  const uid_t nobody = 65534;
  auto connect_as_nobody = [](const fs::path& socket) {
    pid_t child = ::fork();
    if (child == 0) {
      if (::setgid(nobody) != 0 || ::setuid(nobody) != 0) ::_exit(2);
      sockaddr_un address{};
      address.sun_family = AF_UNIX;
      std::strncpy(address.sun_path, socket.c_str(), sizeof address.sun_path - 1);
      int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      ::_exit(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 ? 0
              : errno == EACCES                                                         ? 1
                                                                                        : 3);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WEXITSTATUS(status);
  };
  SECTION("mode 0600: another uid cannot connect") {
    Setup setup;
    fs::permissions(setup.dir.path(), fs::perms(0755));
    auto service = setup.start();
    CHECK(connect_as_nobody(setup.socket) == 1);
  }
  SECTION("mode 0666: another uid is served as itself, and may not name anyone else") {
    Setup setup("  socket_mode: \"0666\"\n");
    fs::permissions(setup.dir.path(), fs::perms(0755));
    fs::permissions(setup.config_file, fs::perms(0644));
    auto program = setup.dir.write("p.py", "print('hi')\n");
    fs::permissions(program, fs::perms(0644));
    auto service = setup.start();
    REQUIRE(connect_as_nobody(setup.socket) == 0);
    auto as_nobody = [&](std::vector<std::string> extra) {
      std::vector<std::string> argv = {"/usr/bin/setpriv",
                                       "--reuid=65534",
                                       "--regid=65534",
                                       "--clear-groups",
                                       test::warden_binary(),
                                       "--config",
                                       setup.config_file.string(),
                                       "run",
                                       "--json"};
      argv.insert(argv.end(), extra.begin(), extra.end());
      argv.push_back(program.string());
      return test::run_process(argv);
    };
    auto ran = as_nobody({});
    INFO(ran.err);
    REQUIRE(ran.exit_code == 0);
    CHECK(nlohmann::json::parse(ran.out)["stdout"] == "hi\n");
    auto impostor = as_nobody({"--as", "root"});
    CHECK(impostor.exit_code == 1);
    CHECK_THAT(impostor.err, Catch::Contains("may not speak for 'root'"));
    bool recorded = false;
    for (const auto& r : setup.records())
      if (r.kind == "assessment" && r.data.value("user", "") == "nobody")
        recorded = r.data.value("user_verified", false);
    CHECK(recorded);
    // Which policy every client gets is not another user's to reload.
    pid_t child = ::fork();
    if (child == 0) {
      if (::setgid(nobody) != 0 || ::setuid(nobody) != 0) ::_exit(2);
      auto [status, body] = raw_http(setup.socket, post("/v1/policy/reload", ""));
      ::_exit(status == 403 && body["error"]["message"].get<std::string>().find(
                                   "may not reload the policies") != std::string::npos
                  ? 0
                  : 1);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    CHECK(raw_http(setup.socket, post("/v1/policy/reload", "")).first == 200);  // the owner may
  }
}

TEST_CASE("a delegate may name the user, and the identity policy trusts only verified names") {
  Setup setup("  delegates: [" + service::user_name(::geteuid()) + "]\n", "examples/identity");
  auto service = setup.start();
  auto client = setup.client();
  ExecutionRequest r;
  r.code = "print('hello')\n";
  r.user = "alice";
  auto verified = client->call("POST", "/v1/run", service::request_to_json(r));
  CHECK((*verified)["trust"] == "trusted");
  // The same name typed into a host in process is a claim, not an identity.
  client.reset();
  service->stop(SIGTERM);
  auto host = Host::open(setup.config_file.string());
  auto claimed = host->assess_and_execute(r);
  CHECK(to_string(claimed.trust) == std::string("standard"));
}

TEST_CASE("the CLI uses a running service of its configuration, and says so with -v") {
  Setup setup;
  auto program = setup.dir.write("p.py", "print('via')\n");
  auto run = [&] {
    return test::run_process({test::warden_binary(), "-v", "--config", setup.config_file.string(),
                              "run", program.string()});
  };
  auto in_process = run();
  CHECK(in_process.exit_code == 0);
  CHECK_THAT(in_process.err, Catch::Contains("working in process"));
  auto service = setup.start();
  auto served = run();
  INFO(served.err);
  CHECK(served.exit_code == 0);
  CHECK_THAT(served.err, Catch::Contains("using the warden service"));
  CHECK_THAT(served.out, Catch::Contains("via"));
  // Arguments after --, and standard input from warden's own (--stdin -).
  auto echo = setup.dir.write("echo.py", "import sys\nprint(sys.argv[1:], sys.stdin.read())\n");
  auto echoed = test::run_process({test::warden_binary(), "--config", setup.config_file.string(),
                                   "run", "--stdin", "-", echo.string(), "--", "-v", "a b"},
                                  {}, "piped");
  INFO(echoed.err);
  CHECK(echoed.exit_code == 0);
  CHECK_THAT(echoed.out, Catch::Contains("['-v', 'a b'] piped"));
  auto status = test::run_process(
      {test::warden_binary(), "--config", setup.config_file.string(), "status", "--json"});
  CHECK(nlohmann::json::parse(status.out)["service"]["running"] == true);
  CHECK(nlohmann::json::parse(status.out)["service"]["pid"] == service->pid());
  auto assessed = test::run_process({test::warden_binary(), "--config", setup.config_file.string(),
                                     "assess", "--json", program.string()});
  CHECK(assessed.exit_code == 0);
  CHECK(nlohmann::json::parse(assessed.out)["files"][0]["level"] == "LOW");
}

TEST_CASE("input and output files travel through the CLI and the service alike") {
  Setup setup;
  auto program = setup.dir.write("p.py",
                                 "import os\n"
                                 "rows = open('data.csv').read().split()\n"
                                 "os.makedirs('out', exist_ok=True)\n"
                                 "open('out/report.bin', 'wb').write(bytes([0, 255]) + "
                                 "open('cfg/settings.txt', 'rb').read())\n"
                                 "print(len(rows), 'rows')\n");
  auto data = setup.dir.write("data.csv", "a\nb\nc\n");
  auto settings = setup.dir.write("elsewhere.txt", "conf");
  auto run = [&](const fs::path& output_dir) {
    return test::run_process({test::warden_binary(), "--config", setup.config_file.string(), "run",
                              "--input", data.string(), "--input",
                              "cfg/settings.txt=" + settings.string(), "--output-dir",
                              output_dir.string(), program.string()});
  };
  auto check_saved = [](const fs::path& output_dir) {
    std::ifstream in(output_dir / "out/report.bin", std::ios::binary);
    std::string saved((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(saved == std::string("\0\xff", 2) + "conf");
  };
  auto in_process = run(setup.dir.path() / "in-process");
  INFO(in_process.out << in_process.err);
  CHECK(in_process.exit_code == 0);
  CHECK_THAT(in_process.out, Catch::Contains("3 rows"));
  CHECK_THAT(in_process.out, Catch::Contains("file:     out/report.bin (6 B"));
  check_saved(setup.dir.path() / "in-process");

  auto service = setup.start();
  auto served = run(setup.dir.path() / "served");
  INFO(served.out << served.err);
  CHECK(served.exit_code == 0);
  CHECK_THAT(served.out, Catch::Contains("3 rows"));
  check_saved(setup.dir.path() / "served");

  // The API's shape: base64 both ways, each file's hash.
  ExecutionRequest request;
  request.code = "open('copy', 'w').write(open('in').read() * 2)\n";
  request.files = {{"in", "ab", ""}};
  nlohmann::json answer =
      setup.client()->call("POST", "/v1/run", service::request_to_json(request)).value();
  REQUIRE(answer["files"].size() == 1);
  CHECK(answer["files"][0]["path"] == "copy");
  CHECK(answer["files"][0]["content_base64"] == "YWJhYg==");
  CHECK(answer["files"][0]["sha256"] ==
        "a667282675f4876021d392aa6592f39dabf718748c4b738563cb9d5dc8f21f24");
  auto [status, body] =
      raw_http(setup.socket,
               post("/v1/run",
                    R"J({"code": "print(1)", "files": [{"path": "x", "content_base64": "a"}]})J"));
  CHECK(status == 400);
  CHECK_THAT(body["error"]["message"].get<std::string>(),
             Catch::Contains("files[0]': content_base64 is not base64"));
  auto escaping = test::run_process({test::warden_binary(), "--config", setup.config_file.string(),
                                     "run", "--input", "../up=" + data.string(), program.string()});
  CHECK(escaping.exit_code != 0);
  CHECK_THAT(escaping.err, Catch::Contains("Input file '../up'"));
}

// MCP at /mcp (service.mcp): the Python MCP server itself is driven by
// tests/python/test_mcp_service.py; here, what the service does around it.

namespace {

// The service's MCP status while `pred` does not hold yet (at most 30 s).
nlohmann::json mcp_status(const Setup& setup,
                          const std::function<bool(const nlohmann::json&)>& pred) {
  nlohmann::json mcp;
  for (int i = 0; i < 300; ++i) {
    mcp = (*setup.client()->call("GET", "/v1/status"))["service"]["mcp"];
    if (pred(mcp)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return mcp;
}

// Sets $WARDEN_PYTHON (the MCP server's interpreter) while it lives.
struct PythonIs {
  explicit PythonIs(const std::string& path) { ::setenv("WARDEN_PYTHON", path.c_str(), 1); }
  ~PythonIs() { ::unsetenv("WARDEN_PYTHON"); }
};

}  // namespace

TEST_CASE("with service.mcp: never, /mcp is a 404 and status says MCP is not served") {
  Setup setup("  mcp: never\n");
  auto service = setup.start();
  auto [status, body] = raw_http(setup.socket, post("/mcp", "{}"));
  CHECK(status == 404);
  CHECK_THAT(body["error"]["message"].get<std::string>(), Catch::Contains("service.mcp: never"));
  auto mcp = (*setup.client()->call("GET", "/v1/status"))["service"]["mcp"];
  CHECK(mcp["served"] == false);
  CHECK(mcp["state"] == "never");
}

TEST_CASE("/mcp answers 503 saying why when the MCP server cannot run") {
  Setup setup;
  PythonIs python("/nonexistent/python3-for-warden");
  auto service = setup.start();
  auto [status, body] = raw_http(setup.socket, post("/mcp", "{}"));
  CHECK(status == 503);
  CHECK(body["error"]["kind"] == "environment");
  CHECK_THAT(body["error"]["message"].get<std::string>(),
             Catch::Contains("/nonexistent/python3-for-warden"));
  auto mcp = (*setup.client()->call("GET", "/v1/status"))["service"]["mcp"];
  CHECK(mcp["served"] == false);
  CHECK(mcp["state"] == "exited");
  // warden status says so too.
  auto json = test::run_process(
      {test::warden_binary(), "--config", setup.config_file.string(), "status", "--json"});
  CHECK(nlohmann::json::parse(json.out)["service"]["mcp"]["served"] == false);
  auto text =
      test::run_process({test::warden_binary(), "--config", setup.config_file.string(), "status"});
  CHECK_THAT(text.out, Catch::Contains("mcp:       not served at /mcp: the MCP server exited"));
  // The rest of the API serves on.
  CHECK((*setup.client()->call("POST", "/v1/run", run_request("print(1)\n")))["decision"] == "ran");
}

TEST_CASE("the MCP server dies with the service, even a SIGKILLed one, and its folder is 0700") {
  Setup setup;
  // A stand-in for the interpreter that only lives: what is tested is the
  // life of the service's child, not MCP.
  fs::path stand_in = setup.dir.write("python", "#!/bin/sh\nexec sleep 300\n");
  fs::permissions(stand_in, fs::perms::owner_all);
  PythonIs python(stand_in.string());
  for (int signal : {SIGTERM, SIGKILL}) {
    auto service = setup.start();
    auto mcp = mcp_status(setup, [](const auto& m) { return m.contains("pid"); });
    INFO(mcp.dump() << service->log());
    REQUIRE(mcp.contains("pid"));
    pid_t child = mcp["pid"];
    CHECK(::kill(child, 0) == 0);
    std::vector<fs::path> folders;
    for (const auto& entry : fs::directory_iterator(setup.dir.path()))
      if (entry.path().filename().string().rfind("s.sock.mcp.", 0) == 0)
        folders.push_back(entry.path());
    REQUIRE(folders.size() == 1);
    CHECK((fs::status(folders[0]).permissions() & fs::perms::all) == fs::perms::owner_all);
    service->stop(signal);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      // Gone, or a zombie where nobody reaps orphans (pid 1 of a container).
      std::string stat = test::read_file("/proc/" + std::to_string(child) + "/stat");
      gone = ::kill(child, 0) != 0 || stat.find(") Z ") != std::string::npos;
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(gone);
    // A stopped service removes its folder; a killed one's is removed by the next.
    if (signal == SIGTERM) CHECK_FALSE(fs::exists(folders[0]));
    if (signal == SIGKILL) {
      auto next = setup.start();
      mcp_status(setup, [](const auto& m) { return m.contains("pid"); });
      CHECK_FALSE(fs::exists(folders[0]));
    }
  }
}

TEST_CASE("X-Warden-Peer-* headers are believed only from the service's own MCP server") {
  Setup setup("  mcp: never\n");
  auto service = setup.start();
  // Anyone else who sends them (here: this test, the service's own uid) is
  // who its connection says, and may not name another user either.
  std::string body = run_request("print(1)\n").dump();
  auto [status, result] =
      raw_http(setup.socket,
               "POST /v1/run HTTP/1.1\r\nHost: w\r\nConnection: close\r\n"
               "X-Warden-Peer-Uid: 4242\r\nX-Warden-Peer-Pid: 1\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body);
  CHECK(status == 200);
  CHECK(result["decision"] == "ran");
  bool seen = false;
  for (const auto& r : setup.records())
    if (r.kind == "assessment" && r.data.contains("metadata") &&
        r.data["metadata"].contains("service_peer")) {
      seen = true;
      CHECK(r.data["metadata"]["service_peer"]["uid"] == ::geteuid());
      CHECK(r.data["metadata"]["service_peer"]["pid"] == ::getpid());
      CHECK_FALSE(r.data["metadata"].contains("service_relay"));
    }
  CHECK(seen);
}

TEST_CASE("an MCP server that dies after it ran a while is started again") {
  Setup setup;
  fs::path stand_in = setup.dir.write("python", "#!/bin/sh\nexec sleep 300\n");
  fs::permissions(stand_in, fs::perms::owner_all);
  PythonIs python(stand_in.string());
  auto service = setup.start();
  auto first = mcp_status(setup, [](const auto& m) { return m.contains("pid"); });
  REQUIRE(first.contains("pid"));
  std::this_thread::sleep_for(std::chrono::milliseconds(5500));  // it "ran a while"
  ::kill(first["pid"].get<pid_t>(), SIGKILL);
  auto second = mcp_status(
      setup, [&first](const auto& m) { return m.contains("pid") && m["pid"] != first["pid"]; });
  INFO(second.dump() << service->log());
  CHECK((second.contains("pid") && second["pid"] != first["pid"]));
  CHECK_THAT(service->log(), Catch::Contains("starting the MCP server again"));
  service->stop(SIGTERM);
  pid_t child = second.value("pid", 0);
  if (child > 0) {
    std::string stat = test::read_file("/proc/" + std::to_string(child) + "/stat");
    CHECK((::kill(child, 0) != 0 || stat.find(") Z ") != std::string::npos));
  }
}
