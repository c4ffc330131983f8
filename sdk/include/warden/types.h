// Value types shared by the warden host, its plugins and its embedders, with
// their JSON forms. These are the shapes that cross the plugin ABI as JSON
// (see docs/plugin-abi.md) and that `warden ... --json` prints.
//
// Every type here is a plain value: copyable, no hidden sharing, safe to use
// from any thread as long as one object is not written while it is read.
// from_json() throws nlohmann::json::exception on a malformed document.
#ifndef WARDEN_TYPES_H_
#define WARDEN_TYPES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace warden {

// ------------------------------------------------------------------ verdicts

// How dangerous a piece of code is judged to be, lowest first.
enum class RiskLevel { kLow = 0, kMedium = 1, kHigh = 2, kBlocked = 3 };
// How much a run is trusted; decides the size of its limits.
enum class TrustLevel { kTrusted = 0, kStandard = 1, kUntrusted = 2 };

inline const char* to_string(RiskLevel l) {
  switch (l) {
    case RiskLevel::kLow: return "LOW";
    case RiskLevel::kMedium: return "MEDIUM";
    case RiskLevel::kHigh: return "HIGH";
    case RiskLevel::kBlocked: return "BLOCKED";
  }
  return "BLOCKED";
}

// Parses "LOW", "MEDIUM", "HIGH", "BLOCKED"; throws std::invalid_argument.
inline RiskLevel risk_level_from_string(std::string_view s) {
  if (s == "LOW") return RiskLevel::kLow;
  if (s == "MEDIUM") return RiskLevel::kMedium;
  if (s == "HIGH") return RiskLevel::kHigh;
  if (s == "BLOCKED") return RiskLevel::kBlocked;
  throw std::invalid_argument("unknown risk level '" + std::string(s) +
                              "' (LOW, MEDIUM, HIGH, BLOCKED)");
}

inline const char* to_string(TrustLevel t) {
  switch (t) {
    case TrustLevel::kTrusted: return "trusted";
    case TrustLevel::kStandard: return "standard";
    case TrustLevel::kUntrusted: return "untrusted";
  }
  return "untrusted";
}

inline TrustLevel trust_level_from_string(std::string_view s) {
  if (s == "trusted") return TrustLevel::kTrusted;
  if (s == "standard") return TrustLevel::kStandard;
  if (s == "untrusted") return TrustLevel::kUntrusted;
  throw std::invalid_argument("unknown trust level '" + std::string(s) +
                              "' (trusted, standard, untrusted)");
}

// ------------------------------------------------------------------ findings

enum class Severity { kInfo = 0, kLow = 1, kMedium = 2, kHigh = 3, kCritical = 4 };
enum class Confidence { kLow = 1, kMedium = 2, kHigh = 3 };

inline const char* to_string(Severity s) {
  switch (s) {
    case Severity::kInfo: return "info";
    case Severity::kLow: return "low";
    case Severity::kMedium: return "medium";
    case Severity::kHigh: return "high";
    case Severity::kCritical: return "critical";
  }
  return "info";
}

inline const char* to_string(Confidence c) {
  switch (c) {
    case Confidence::kLow: return "low";
    case Confidence::kMedium: return "medium";
    case Confidence::kHigh: return "high";
  }
  return "low";
}

// Parses the lower-case names above; throws std::invalid_argument otherwise.
inline Severity severity_from_string(std::string_view s) {
  if (s == "info") return Severity::kInfo;
  if (s == "low") return Severity::kLow;
  if (s == "medium") return Severity::kMedium;
  if (s == "high") return Severity::kHigh;
  if (s == "critical") return Severity::kCritical;
  throw std::invalid_argument("unknown severity '" + std::string(s) + "'");
}

inline Confidence confidence_from_string(std::string_view s) {
  if (s == "low") return Confidence::kLow;
  if (s == "medium") return Confidence::kMedium;
  if (s == "high") return Confidence::kHigh;
  throw std::invalid_argument("unknown confidence '" + std::string(s) + "'");
}

// The categories policies reason about. An assessor maps each of its rules to
// one of these; "other" when none fits.
inline constexpr const char* kFindingCategories[] = {
    "code-execution",     // eval/exec/compile, dynamic code
    "command-execution",  // os.system, subprocess with a shell, pty
    "deserialization",    // pickle, marshal, unsafe yaml
    "introspection",      // __subclasses__/__globals__ walks, computed getattr
    "obfuscation",        // decoded payloads, computed imports
    "native-code",        // ctypes, cffi
    "network",            // sockets, raw network access
    "filesystem",         // writes to or deletion of system paths
    "privilege",          // sudo, setuid, chmod 777, mount
    "crypto",             // weak hashes and ciphers
    "other",
};

struct Finding {
  std::string assessor;  // set by the host: the plugin's name
  std::string rule_id;   // stable id, e.g. "B602" or "warden.exec-call"
  Severity severity = Severity::kLow;
  Confidence confidence = Confidence::kMedium;
  std::string category = "other";
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string message;
  int cwe = 0;  // 0 when unknown
  std::string source_line;
  // Other assessors that reported the same thing on the same line ("bandit B602"),
  // folded into this finding by the host.
  std::vector<std::string> also_reported_by;

  friend bool operator==(const Finding&, const Finding&) = default;
};

inline void to_json(nlohmann::json& j, const Finding& f) {
  j = nlohmann::json{{"assessor", f.assessor},
                     {"rule_id", f.rule_id},
                     {"severity", to_string(f.severity)},
                     {"confidence", to_string(f.confidence)},
                     {"category", f.category},
                     {"line", f.line},
                     {"column", f.column},
                     {"message", f.message},
                     {"cwe", f.cwe},
                     {"source_line", f.source_line}};
  if (!f.also_reported_by.empty()) j["also_reported_by"] = f.also_reported_by;
}

inline void from_json(const nlohmann::json& j, Finding& f) {
  f.assessor = j.value("assessor", "");
  f.rule_id = j.at("rule_id").get<std::string>();
  f.severity = severity_from_string(j.at("severity").get<std::string>());
  f.confidence = confidence_from_string(j.value("confidence", "medium"));
  f.category = j.value("category", "other");
  f.line = j.value("line", 0);
  f.column = j.value("column", 0);
  f.message = j.value("message", "");
  f.cwe = j.value("cwe", 0);
  f.source_line = j.value("source_line", "");
  f.also_reported_by = j.value("also_reported_by", std::vector<std::string>{});
}

// What probe() reports about a plugin instance.
struct Availability {
  bool available = false;
  std::string reason;        // why not, when unavailable; may note caveats otherwise
  std::string tool_version;  // the external tool's version, if any
  std::string cache_key;     // see warden_assessor_vtable::probe
};

inline void to_json(nlohmann::json& j, const Availability& a) {
  j = nlohmann::json{{"available", a.available},
                     {"reason", a.reason},
                     {"tool_version", a.tool_version},
                     {"cache_key", a.cache_key}};
}

inline void from_json(const nlohmann::json& j, Availability& a) {
  a.available = j.at("available").get<bool>();
  a.reason = j.value("reason", "");
  a.tool_version = j.value("tool_version", "");
  a.cache_key = j.value("cache_key", "");
}

// ------------------------------------------------------------------- running

enum class NetworkMode {
  kNone,    // no network beyond a private loopback
  kOpen,    // the backend's ordinary outbound network
  kEgress,  // as kNone, plus warden's egress proxy as the unix socket kEgressSocketPath
};

// Where a run with NetworkMode::kEgress finds warden's egress proxy: the host's
// socket (RunSpec::egress_socket) bound at this path, its only way out.
inline constexpr const char* kEgressSocketPath = "/run/warden/egress.sock";
// Where RunSpec::site_dir (a host folder of installed packages) is bound,
// read-only. The program imports from it (docs/sandboxes.md, "Egress and
// installed packages").
inline constexpr const char* kSiteDirPath = "/opt/warden/site";

inline const char* to_string(NetworkMode n) {
  switch (n) {
    case NetworkMode::kNone: return "none";
    case NetworkMode::kOpen: return "open";
    case NetworkMode::kEgress: return "egress";
  }
  return "none";
}

// Parses "none", "egress", "open"; throws std::invalid_argument. A backend
// built before "egress" existed throws here and runs nothing.
inline NetworkMode network_mode_from_string(std::string_view s) {
  if (s == "none") return NetworkMode::kNone;
  if (s == "egress") return NetworkMode::kEgress;
  if (s == "open") return NetworkMode::kOpen;
  throw std::invalid_argument("unknown network mode '" + std::string(s) + "' (none, egress, open)");
}

// Resource limits for one run. Every field is enforced by the backend or the
// run is refused. Units are in the names.
struct Limits {
  std::uint64_t memory_bytes = 256ull << 20;  // RAM, no swap beyond it
  double cpus = 1.0;                          // CPU bandwidth, in cores
  std::uint64_t wall_time_ms = 10'000;
  std::uint64_t cpu_time_ms = 10'000;
  std::uint32_t pids = 64;                      // processes + threads
  std::uint64_t file_size_bytes = 16ull << 20;  // largest file the program may write
  std::uint32_t open_files = 256;
  std::uint64_t tmpfs_bytes = 64ull << 20;  // size of the writable scratch space
  std::uint64_t output_bytes = 1ull << 20;  // stdout + stderr combined
  // The files the program leaves in its working directory that are handed
  // back (RunResult::files): at most this many, this many bytes in all.
  std::uint32_t output_files = 16;
  std::uint64_t output_files_bytes = 8ull << 20;

  friend bool operator==(const Limits&, const Limits&) = default;
};

// How a limit is written where people write it (warden.yaml, policies,
// requests): a size ("256MiB"), a duration ("10s"), a whole number, or CPUs.
enum class LimitUnit { kBytes, kMilliseconds, kCount, kCpus };

// One limit: its name where people write it ("memory"), its name in JSON
// ("memory_bytes"), its unit, and for counts and CPUs the range warden.yaml
// accepts.
struct LimitName {
  const char* name;
  const char* json_name;
  LimitUnit unit;
  double min = 0, max = 0;
};

// The one table of limits, in this order: each with a pointer to its field.
// Configuration, policies, requests, clamping and JSON all go through it.
inline constexpr auto kLimitTable = std::make_tuple(
    std::pair{LimitName{"memory", "memory_bytes", LimitUnit::kBytes}, &Limits::memory_bytes},
    std::pair{LimitName{"cpus", "cpus", LimitUnit::kCpus, 0.01, 1024}, &Limits::cpus},
    std::pair{LimitName{"wall_time", "wall_time_ms", LimitUnit::kMilliseconds},
              &Limits::wall_time_ms},
    std::pair{LimitName{"cpu_time", "cpu_time_ms", LimitUnit::kMilliseconds}, &Limits::cpu_time_ms},
    std::pair{LimitName{"pids", "pids", LimitUnit::kCount, 1, 1'000'000}, &Limits::pids},
    std::pair{LimitName{"file_size", "file_size_bytes", LimitUnit::kBytes},
              &Limits::file_size_bytes},
    std::pair{LimitName{"open_files", "open_files", LimitUnit::kCount, 8, 1'048'576},
              &Limits::open_files},
    std::pair{LimitName{"tmpfs", "tmpfs_bytes", LimitUnit::kBytes}, &Limits::tmpfs_bytes},
    std::pair{LimitName{"output", "output_bytes", LimitUnit::kBytes}, &Limits::output_bytes},
    std::pair{LimitName{"output_files", "output_files", LimitUnit::kCount, 1, 4096},
              &Limits::output_files},
    std::pair{LimitName{"output_files_size", "output_files_bytes", LimitUnit::kBytes},
              &Limits::output_files_bytes});

// Calls `f(LimitName, field)` for every field of `l` (a Limits or a const
// Limits), in the table's order.
template <typename L, typename F>
void for_each_limit(L& l, F&& f) {
  std::apply([&](const auto&... entry) { (f(entry.first, l.*(entry.second)), ...); }, kLimitTable);
}

// Calls `f(LimitName, a's field, b's field)` for every limit.
template <typename A, typename B, typename F>
void for_each_limit(A& a, B& b, F&& f) {
  std::apply(
      [&](const auto&... entry) { (f(entry.first, a.*(entry.second), b.*(entry.second)), ...); },
      kLimitTable);
}

// "memory, cpus, wall_time, ...": the names, for messages.
inline std::string limit_names() {
  std::string names;
  const Limits any;
  for_each_limit(any, [&names](const LimitName& n, auto) {
    names += (names.empty() ? "" : ", ") + std::string(n.name);
  });
  return names;
}

inline void to_json(nlohmann::json& j, const Limits& l) {
  j = nlohmann::json::object();
  for_each_limit(l, [&j](const LimitName& n, auto value) { j[n.json_name] = value; });
}

inline void from_json(const nlohmann::json& j, Limits& l) {
  for_each_limit(l, [&j](const LimitName& n, auto& field) { j.at(n.json_name).get_to(field); });
}

// Receives a program's output piece by piece: the stream ("stdout" or
// "stderr") and the bytes.
using OutputCallback = std::function<void(std::string_view stream, std::string_view bytes)>;

// ---------------------------------------------------------------- run files

// A file given to a run (placed read-only in the program's working directory
// before it starts) or handed back from it (a regular file the program left
// there). `path` is relative to the working directory, '/'-separated
// ("data/in.csv"); see run_file_path_problem(). `sha256` (lower-case hex) is
// computed by the host, never taken from a backend.
struct RunFile {
  std::string path;
  std::string content;
  std::string sha256;
};

// A file the program left that was not handed back, and why ("over the
// output_files limit", "not a regular file", ...).
struct SkippedFile {
  std::string path;
  std::uint64_t size = 0;
  std::string reason;
  friend bool operator==(const SkippedFile&, const SkippedFile&) = default;
};

inline void to_json(nlohmann::json& j, const SkippedFile& f) {
  j = nlohmann::json{{"path", f.path}, {"size", f.size}, {"reason", f.reason}};
}

inline void from_json(const nlohmann::json& j, SkippedFile& f) {
  f.path = j.at("path").get<std::string>();
  f.size = j.value("size", std::uint64_t{0});
  f.reason = j.value("reason", "");
}

// Bounds on a run file's path: its length, one name's length, its depth.
inline constexpr std::size_t kMaxRunFilePath = 1024;
inline constexpr std::size_t kMaxRunFileName = 255;
inline constexpr std::size_t kMaxRunFileDepth = 16;

// Why `path` cannot name a run file, or "" when it can: it must be relative,
// '/'-separated names none of which is empty, "." or "..", UTF-8 without
// control characters, within the bounds above. Every such path stays inside
// the working directory, and means the same on every backend.
inline std::string run_file_path_problem(std::string_view path) {
  if (path.empty()) return "the path is empty";
  if (path.size() > kMaxRunFilePath)
    return "the path is longer than " + std::to_string(kMaxRunFilePath) + " bytes";
  if (path.front() == '/')
    return "the path is absolute (it must be relative to the working folder)";
  std::size_t depth = 0;
  for (std::size_t start = 0; start <= path.size();) {
    std::size_t end = std::min(path.find('/', start), path.size());
    std::string_view name = path.substr(start, end - start);
    if (name.empty()) return "the path has an empty name (\"//\" or a trailing \"/\")";
    if (name == "." || name == "..") return "the path has a \".\" or \"..\" in it";
    if (name.size() > kMaxRunFileName)
      return "a name in the path is longer than " + std::to_string(kMaxRunFileName) + " bytes";
    if (++depth > kMaxRunFileDepth)
      return "the path is deeper than " + std::to_string(kMaxRunFileDepth) + " folders";
    start = end + 1;
  }
  for (char c : path)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return "the path has a control character in it";
  try {
    (void)nlohmann::json(std::string(path)).dump();  // strict: throws on bytes that are not UTF-8
  } catch (const nlohmann::json::type_error&) {
    return "the path is not UTF-8";
  }
  return "";
}

// What the host asks a sandbox backend to run. The code and stdin bytes travel
// beside it (warden_run_request), not inside the JSON.
struct RunSpec {
  std::string run_id;               // unique per run, chosen by the host
  std::string language = "python";  // the backend maps it to an interpreter
  // The program's arguments (Python's sys.argv[1:]), passed as they are, never
  // through a shell. Since ABI 1.1: the host refuses arguments to a backend
  // built for 1.0, which would drop them.
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // the whole environment of the program
  Limits limits;
  NetworkMode network = NetworkMode::kNone;
  // The host path of warden's egress proxy's unix socket, bound at
  // kEgressSocketPath: required when `network` is kEgress, empty otherwise (a
  // backend refuses a mismatch with WARDEN_ERR_INVALID_ARGUMENT). Since ABI 1.1.
  std::string egress_socket;
  // A host folder of installed packages bound read-only at kSiteDirPath, which
  // the program imports from; "" for none. Since ABI 1.1.
  std::string site_dir;
  bool read_only_root = true;
  std::uint32_t uid = 65534;  // unprivileged user the program runs as
  std::uint32_t gid = 65534;
};

inline void to_json(nlohmann::json& j, const RunSpec& s) {
  j = nlohmann::json{{"run_id", s.run_id},
                     {"language", s.language},
                     {"args", s.args},
                     {"env", s.env},
                     {"limits", s.limits},
                     {"network", to_string(s.network)},
                     {"read_only_root", s.read_only_root},
                     {"uid", s.uid},
                     {"gid", s.gid}};
  // Only when set: a plain run's spec is what it was before they existed.
  if (!s.egress_socket.empty()) j["egress_socket"] = s.egress_socket;
  if (!s.site_dir.empty()) j["site_dir"] = s.site_dir;
}

inline void from_json(const nlohmann::json& j, RunSpec& s) {
  s.run_id = j.at("run_id").get<std::string>();
  s.language = j.value("language", "python");
  s.args = j.value("args", std::vector<std::string>{});
  s.env = j.value("env", std::map<std::string, std::string>{});
  s.limits = j.at("limits").get<Limits>();
  s.network = network_mode_from_string(j.value("network", "none"));
  s.egress_socket = j.value("egress_socket", "");
  s.site_dir = j.value("site_dir", "");
  s.read_only_root = j.value("read_only_root", true);
  s.uid = j.value("uid", 65534u);
  s.gid = j.value("gid", 65534u);
}

// What happened in one run, as measured by the backend.
struct RunResult {
  std::optional<int> exit_code;    // set when the program exited
  std::optional<int> signal;       // set when it was killed by a signal
  bool timed_out = false;          // wall time ran out; the whole tree was killed
  bool cpu_time_exceeded = false;  // CPU time ran out
  bool oom_killed = false;         // the memory limit was hit and the kernel killed it
  bool output_truncated = false;   // stdout+stderr hit the output cap
  // Other limits the run reached: "pids", "file_size" (docs/sandboxes.md,
  // "What a RunResult says").
  std::vector<std::string> limits_hit;
  std::uint64_t peak_memory_bytes = 0;
  std::uint64_t cpu_time_ms = 0;
  std::uint64_t wall_time_ms = 0;
  std::string backend_run_id;  // the backend's own id: container id, cgroup name
  std::string stdout_data;     // not part of the JSON form: travels through sinks
  std::string stderr_data;
  // The files handed back (under limits.output_files and output_files_bytes),
  // in path order. Not part of the JSON form: they travel through
  // warden_run_request's output_files sink.
  std::vector<RunFile> files;
  // Files the program left that were not handed back, with the reason.
  std::vector<SkippedFile> files_skipped;
};

// The limits a result says the run reached, by their names in the policy's
// limits: "wall_time" (timed_out), "cpu_time" (cpu_time_exceeded), "memory"
// (oom_killed), "output" (output_truncated), then those of limits_hit
// ("pids", "file_size", "output_files"). Empty when it reached none.
inline std::vector<std::string> limits_reached(const RunResult& r) {
  std::vector<std::string> reached;
  if (r.timed_out) reached.push_back("wall_time");
  if (r.cpu_time_exceeded) reached.push_back("cpu_time");
  if (r.oom_killed) reached.push_back("memory");
  if (r.output_truncated) reached.push_back("output");
  reached.insert(reached.end(), r.limits_hit.begin(), r.limits_hit.end());
  return reached;
}

inline void to_json(nlohmann::json& j, const RunResult& r) {
  j = nlohmann::json{{"exit_code", r.exit_code ? nlohmann::json(*r.exit_code) : nullptr},
                     {"signal", r.signal ? nlohmann::json(*r.signal) : nullptr},
                     {"timed_out", r.timed_out},
                     {"cpu_time_exceeded", r.cpu_time_exceeded},
                     {"oom_killed", r.oom_killed},
                     {"output_truncated", r.output_truncated},
                     {"limits_hit", r.limits_hit},
                     {"peak_memory_bytes", r.peak_memory_bytes},
                     {"cpu_time_ms", r.cpu_time_ms},
                     {"wall_time_ms", r.wall_time_ms},
                     {"backend_run_id", r.backend_run_id},
                     {"files_skipped", r.files_skipped}};
}

inline void from_json(const nlohmann::json& j, RunResult& r) {
  r.exit_code =
      j.at("exit_code").is_null() ? std::nullopt : std::optional<int>(j.at("exit_code").get<int>());
  r.signal =
      j.at("signal").is_null() ? std::nullopt : std::optional<int>(j.at("signal").get<int>());
  r.timed_out = j.value("timed_out", false);
  r.cpu_time_exceeded = j.value("cpu_time_exceeded", false);
  r.oom_killed = j.value("oom_killed", false);
  r.output_truncated = j.value("output_truncated", false);
  r.limits_hit = j.value("limits_hit", std::vector<std::string>{});
  r.peak_memory_bytes = j.value("peak_memory_bytes", std::uint64_t{0});
  r.cpu_time_ms = j.value("cpu_time_ms", std::uint64_t{0});
  r.wall_time_ms = j.value("wall_time_ms", std::uint64_t{0});
  r.backend_run_id = j.value("backend_run_id", "");
  r.files_skipped = j.value("files_skipped", std::vector<SkippedFile>{});
}

}  // namespace warden

#endif  // WARDEN_TYPES_H_
