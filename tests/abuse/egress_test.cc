// Network egress and installed packages (#19), on every backend: a run whose
// only way out is warden's egress proxy, bound in as a unix socket at
// /run/warden/egress.sock, and runs that import from a read-only site folder
// at /opt/warden/site. The proxy here is a small echo server of the test's
// own; beside it the test listens on the host's own address for anything
// else the program might reach. See docs/sandboxes.md, "Egress and installed
// packages".
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "backends.h"

using namespace warden;
using abuse::for_each_backend;
using abuse::run;
using abuse::short_spec;

namespace {

namespace fs = std::filesystem;

// A fresh folder of the test's own under /tmp, removed with its contents.
class TempDir {
 public:
  explicit TempDir(mode_t mode) {
    char name[] = "/tmp/warden-egress-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    path_ = name;
    ::chmod(name, mode);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Accepts on `fd` until stopped, on a thread of its own, and hands each
// connection to `serve`. Closes `fd` at the end.
class Server {
 public:
  template <typename Serve>
  Server(int fd, Serve serve) : fd_(fd) {
    thread_ = std::thread([this, serve] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        serve(fd_);
        ++events_;
      }
    });
  }
  ~Server() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  int events() const { return events_; }

 private:
  int fd_;
  std::atomic<bool> stop_{false};
  std::atomic<int> events_{0};
  std::thread thread_;
};

// The egress proxy's stand-in: a unix socket (mode 0666) that answers each
// line it reads with "echo:" and the line.
int listen_unix(const fs::path& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::chmod(path.c_str(), 0666) == 0);
  REQUIRE(::listen(fd, 16) == 0);
  return fd;
}

void echo_one(int listener) {
  int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (c < 0) return;
  timeval tv{2, 0};
  ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string line;
  char ch = 0;
  while (line.size() < 256 && ::read(c, &ch, 1) == 1 && ch != '\n') line.push_back(ch);
  std::string answer = "echo:" + line + "\n";
  (void)::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
  ::close(c);
}

// The proxy, its socket in a fresh folder of mode `folder_mode`.
struct FakeProxy {
  TempDir dir;
  fs::path socket;
  Server server;
  explicit FakeProxy(mode_t folder_mode = 0711)
      : dir(folder_mode),
        socket(dir.path() / "egress.sock"),
        server(listen_unix(socket), echo_one) {}
};

// The host's first IPv4 address that is not a loopback one.
std::string host_address() {
  ifaddrs* all = nullptr;
  REQUIRE(::getifaddrs(&all) == 0);
  std::string found;
  for (ifaddrs* i = all; i && found.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    auto* in = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    if (std::string(text).rfind("127.", 0) != 0) found = text;
  }
  ::freeifaddrs(all);
  return found;
}

// A socket of `type` bound to `address` on a port of the kernel's choosing.
int bound(int type, const std::string& address, int& port) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  REQUIRE(::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) == 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  if (type == SOCK_STREAM) REQUIRE(::listen(fd, 16) == 0);
  return fd;
}

void take_connection(int fd) {
  int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (c >= 0) ::close(c);
}

void take_datagram(int fd) {
  char buffer[2048];
  (void)::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
}

// The first nameserver of the host's /etc/resolv.conf ("" when none).
std::string host_nameserver() {
  std::ifstream in("/etc/resolv.conf");
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string key, value;
    if (words >> key >> value && key == "nameserver") return value;
  }
  return "";
}

// Runs expecting a refusal with `status` whose message contains `says`.
void check_refused(const SandboxBackend& b, const RunSpec& spec, const std::string& code,
                   warden_status status, const std::string& says) {
  try {
    RunResult r = b.run(spec, code, "", {});
    FAIL("the run was not refused; it printed: " << r.stdout_data << r.stderr_data);
  } catch (const PluginCallError& e) {
    CHECK(e.status() == status);
    CHECK_THAT(e.what(), Catch::Contains(says));
  }
}

// Everything a program tries: the proxy must answer it, nothing else may.
constexpr const char* kEgressProgram = R"(
import json, os, socket, struct, sys
HOST, PORT, NS = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = {}
def attempt(name, fn):
    try:
        got = fn()
        out[name] = 'ok' if got is None else got
    except OSError as e:
        out[name] = 'blocked'
def proxy():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect('/run/warden/egress.sock')
    s.sendall(b'ping\n')
    data = b''
    while not data.endswith(b'\n'):
        chunk = s.recv(100)
        if not chunk:
            break
        data += chunk
    return data.decode().strip()
def tcp():
    socket.create_connection((HOST, PORT), timeout=1).close()
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b'x' * 8, (HOST, PORT))
def dns():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    query = struct.pack('>HHHHHH', 0x5741, 0x0100, 1, 0, 0, 0) + b'\x07example\x03com\x00' + struct.pack('>HH', 1, 1)
    s.sendto(query, (NS, 53))
    s.recvfrom(512)
def resolve():
    socket.getaddrinfo('example.com', 80)
def raw():
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
def interfaces():
    # /proc/net/dev: the run's network namespace (if_nameindex would need
    # netlink, which the filter refuses).
    with open('/proc/net/dev') as f:
        return ','.join(sorted(line.split(':')[0].strip() for line in f.readlines()[2:]))
def remove():
    os.unlink('/run/warden/egress.sock')
def replace():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind('/tmp/mine.sock')
    os.rename('/tmp/mine.sock', '/run/warden/egress.sock')
def chmod():
    os.chmod('/run/warden/egress.sock', 0o777)
def other_socket():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind('/run/warden/other.sock')
def other_file():
    open('/run/warden/other', 'w').close()
for name, fn in [('proxy', proxy), ('tcp', tcp), ('udp', udp), ('dns', dns), ('resolve', resolve),
                 ('raw', raw), ('interfaces', interfaces), ('remove', remove), ('replace', replace),
                 ('chmod', chmod), ('other_socket', other_socket), ('other_file', other_file),
                 ('proxy_after', proxy)]:
    attempt(name, fn)
print(json.dumps(out, sort_keys=True))
)";

}  // namespace

TEST_CASE("egress: the proxy's socket is the only way out") {
  for_each_backend([](const SandboxBackend& b) {
    FakeProxy proxy;
    std::string host = host_address();
    REQUIRE_FALSE(host.empty());
    int port = 0;
    Server tcp(bound(SOCK_STREAM, host, port), take_connection);
    Server udp(bound(SOCK_DGRAM, host, port), take_datagram);
    std::string ns = host_nameserver();
    if (ns.empty()) ns = "8.8.8.8";

    RunSpec spec = short_spec();
    spec.network = NetworkMode::kEgress;
    spec.egress_socket = proxy.socket.string();
    spec.args = {host, std::to_string(port), ns};
    RunResult r = run(b, spec, kEgressProgram);
    INFO(r.stdout_data << r.stderr_data);
    REQUIRE(r.exit_code == 0);
    nlohmann::json got = nlohmann::json::parse(r.stdout_data);
    CHECK(got["proxy"] == "echo:ping");
    CHECK(got["proxy_after"] == "echo:ping");
    for (const char* name : {"tcp", "udp", "dns", "resolve", "raw", "remove", "replace", "chmod",
                             "other_socket", "other_file"})
      CHECK(got[name] == "blocked");
    CHECK(got["interfaces"] == "lo");
    // Whatever the program said, the listeners heard nothing of it, and the
    // proxy's socket is the one the test made.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(tcp.events() == 0);
    CHECK(udp.events() == 0);
    CHECK(proxy.server.events() == 2);
    struct stat st {};
    REQUIRE(::lstat(proxy.socket.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 07777) == 0666);
    CHECK(fs::directory_iterator(proxy.dir.path()) != fs::directory_iterator());
    CHECK(std::distance(fs::directory_iterator(proxy.dir.path()), fs::directory_iterator()) == 1);
  });
}

// The site folder: the program imports from it (the host puts PYTHONPATH in
// the environment; the interpreter runs isolated, so the backend passes the
// folder itself) and can change nothing in it; a run without one has none.
TEST_CASE("site_dir: installed packages are importable and read-only") {
  for_each_backend([](const SandboxBackend& b) {
    TempDir dir(0755);
    fs::path site = dir.path() / "site";
    fs::create_directories(site / "wardensite_pkg");
    ::chmod(site.c_str(), 0755);
    ::chmod((site / "wardensite_pkg").c_str(), 0755);
    for (const auto& [name, text] :
         std::map<std::string, std::string>{{"wardensite_probe.py", "VALUE = 'from-site'\n"},
                                            {"wardensite_pkg/__init__.py", "NAME = 'pkg'\n"}}) {
      std::ofstream(site / name) << text;
      ::chmod((site / name).c_str(), 0644);
    }

    RunSpec spec = short_spec();
    spec.site_dir = site.string();
    spec.env["PYTHONPATH"] = kSiteDirPath;
    spec.args = {"one arg", "--two"};
    RunResult r = run(b, spec, R"(
import json, os, sys
import wardensite_probe, wardensite_pkg
out = {'value': wardensite_probe.VALUE, 'pkg': wardensite_pkg.NAME,
       'from': os.path.dirname(wardensite_probe.__file__), 'argv': sys.argv,
       'name': __name__, 'file': __file__}
def attempt(name, fn):
    try:
        fn()
        out[name] = 'ok'
    except OSError:
        out[name] = 'blocked'
S = '/opt/warden/site'
attempt('create', lambda: open(S + '/new.py', 'w').close())
attempt('write', lambda: open(S + '/wardensite_probe.py', 'a').write('X = 1\n'))
attempt('remove', lambda: os.unlink(S + '/wardensite_probe.py'))
attempt('rename', lambda: os.rename(S + '/wardensite_probe.py', S + '/moved.py'))
attempt('chmod', lambda: os.chmod(S + '/wardensite_probe.py', 0o777))
attempt('chmod_dir', lambda: os.chmod(S, 0o777))
attempt('mkdir', lambda: os.mkdir(S + '/wardensite_pkg/sub'))
attempt('rmdir', lambda: os.rmdir(S + '/wardensite_pkg'))
attempt('utime', lambda: os.utime(S + '/wardensite_probe.py', (0, 0)))
attempt('symlink', lambda: os.symlink('/tmp', S + '/link'))
print(json.dumps(out, sort_keys=True))
)");
    INFO(r.stdout_data << r.stderr_data);
    REQUIRE(r.exit_code == 0);
    nlohmann::json got = nlohmann::json::parse(r.stdout_data);
    CHECK(got["value"] == "from-site");
    CHECK(got["pkg"] == "pkg");
    CHECK(got["from"] == kSiteDirPath);
    CHECK(got["name"] == "__main__");
    CHECK(got["argv"] == nlohmann::json({got["file"], "one arg", "--two"}));
    for (const char* name : {"create", "write", "remove", "rename", "chmod", "chmod_dir", "mkdir",
                             "rmdir", "utime", "symlink"})
      CHECK(got[name] == "blocked");
    // The host's folder is as the test made it.
    std::ifstream probe(site / "wardensite_probe.py");
    std::string text((std::istreambuf_iterator<char>(probe)), std::istreambuf_iterator<char>());
    CHECK(text == "VALUE = 'from-site'\n");
    CHECK(std::distance(fs::directory_iterator(site), fs::directory_iterator()) == 2);
    CHECK((fs::status(site / "wardensite_probe.py").permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
           fs::perms::others_read));

    // A run without a site folder (or egress) has neither place, and cannot
    // import what the other run could.
    RunResult plain = run(b, short_spec(), R"(
import os
print(os.path.exists('/opt/warden/site'), os.path.exists('/opt/warden'),
      os.path.exists('/run/warden'))
try:
    import wardensite_probe
    print('imported')
except ImportError:
    print('no module')
)");
    INFO(plain.stdout_data << plain.stderr_data);
    CHECK(plain.stdout_data == "False False False\nno module\n");
  });
}

TEST_CASE("egress and site_dir mismatches are refused and nothing runs") {
  for_each_backend([](const SandboxBackend& b) {
    FakeProxy proxy;
    // Would reach the proxy if it ran at all.
    std::string code =
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('/run/warden/egress.sock')\n"
        "s.sendall(b'ran\\n')\nprint(s.recv(100))\n";
    RunSpec spec = short_spec();
    spec.network = NetworkMode::kEgress;
    check_refused(b, spec, code, WARDEN_ERR_INVALID_ARGUMENT, "network egress needs egress_socket");

    for (NetworkMode mode : {NetworkMode::kNone, NetworkMode::kOpen}) {
      spec.network = mode;
      spec.egress_socket = proxy.socket.string();
      check_refused(b, spec, code, WARDEN_ERR_INVALID_ARGUMENT,
                    "egress_socket is set but the network is");
    }

    spec.network = NetworkMode::kEgress;
    spec.egress_socket = (proxy.dir.path() / "missing.sock").string();
    check_refused(b, spec, code, WARDEN_ERR_INVALID_ARGUMENT,
                  "egress_socket " + spec.egress_socket + ": No such file or directory");
    spec.egress_socket = "run/egress.sock";
    check_refused(b, spec, code, WARDEN_ERR_INVALID_ARGUMENT, "not an absolute path");
    // A regular file, and a link to the socket: neither is a socket.
    fs::path file = proxy.dir.path() / "file.sock";
    std::ofstream(file) << "x";
    spec.egress_socket = file.string();
    check_refused(b, spec, code, WARDEN_ERR_INVALID_ARGUMENT, "not a unix socket");
    fs::path link = proxy.dir.path() / "link.sock";
    fs::create_symlink(proxy.socket, link);
    spec.egress_socket = link.string();
    check_refused(b, spec, code, WARDEN_ERR_INVALID_ARGUMENT, "not a unix socket");

    spec = short_spec();
    spec.site_dir = (proxy.dir.path() / "no-site").string();
    check_refused(b, spec, code, WARDEN_ERR_INVALID_ARGUMENT, "site_dir");
    spec.site_dir = file.string();
    check_refused(b, spec, code, WARDEN_ERR_INVALID_ARGUMENT, "not a folder");

    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(proxy.server.events() == 0);
  });
}

// Native's bwrap opens the socket as the sandbox's user, who must be let
// through the folders above it; the engines open it as root. A socket in a
// folder of mode 0700 is refused by native with the folder named, and served
// by docker and podman.
TEST_CASE("egress and site folders in private folders are served on every backend") {
  // The host's own folders may be 0700 (the cache under /root): every backend
  // must reach the socket and the site folder anyway, without opening them up.
  for_each_backend([](const SandboxBackend& b) {
    FakeProxy proxy(0700);
    TempDir site_parent(0700);
    fs::path site = site_parent.path() / "site";
    fs::create_directories(site);
    fs::permissions(site, fs::perms(0755));
    std::ofstream(site / "wardenprivate_probe.py") << "WHO = 'private site'\n";
    fs::permissions(site / "wardenprivate_probe.py", fs::perms(0644));
    RunSpec spec = short_spec();
    spec.network = NetworkMode::kEgress;
    spec.egress_socket = proxy.socket.string();
    spec.site_dir = site.string();
    std::string code =
        "import socket, wardenprivate_probe\ns = socket.socket(socket.AF_UNIX)\n"
        "s.connect('/run/warden/egress.sock')\n"
        "s.sendall(b'hi\\n')\nprint(s.recv(100).decode().strip(), wardenprivate_probe.WHO)\n";
    RunResult r = run(b, spec, code);
    INFO(r.stderr_data);
    CHECK(r.stdout_data == "echo:hi private site\n");
  });
}
