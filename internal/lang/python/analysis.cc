#include "lang/python/analysis.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "lang/python/payload.h"
#include "lang/python/source.h"
#include "lang/python/tokenizer.h"

namespace warden::heuristics {
namespace {

using python::Token;
using python::TokenKind;

enum RuleIndex {
  kCodeExec,
  kCodeExecDynamic,
  kDecodedPayload,
  kShellCommand,
  kProcessExec,
  kSubprocess,
  kDestructiveCommand,
  kPrivilege,
  kSystemPathWrite,
  kSensitiveRead,
  kNativeCode,
  kDeserialization,
  kDynamicImport,
  kBuiltinsAccess,
  kDunderWalk,
  kComputedAttribute,
  kNetwork,
  kRawSocket,
  kReverseShell,
  kForkBomb,
  kNetworkLoop,
  kExfiltration,
  kCallableReference,
  kUnreadableSource,
  kPersistence,
  kCodeLoad,
};

const std::vector<Rule> kRules = {
    {"heuristics.code-exec", Severity::kCritical, Confidence::kHigh, "code-execution", 95,
     "runs code built at run time (eval/exec/compile)"},
    {"heuristics.code-exec-dynamic", Severity::kHigh, Confidence::kHigh, "code-execution", 95,
     "the code given to eval/exec/compile is not a literal"},
    {"heuristics.decoded-payload", Severity::kCritical, Confidence::kHigh, "obfuscation", 506,
     "decodes a hidden payload and runs it"},
    {"heuristics.shell-command", Severity::kCritical, Confidence::kHigh, "command-execution", 78,
     "runs a shell command"},
    {"heuristics.process-exec", Severity::kHigh, Confidence::kHigh, "command-execution", 78,
     "replaces or spawns a process (os.exec*/os.spawn*)"},
    {"heuristics.subprocess", Severity::kMedium, Confidence::kMedium, "command-execution", 78,
     "starts a subprocess"},
    {"heuristics.destructive-command", Severity::kCritical, Confidence::kHigh, "filesystem", 78,
     "command destroys data or the system (rm -rf, mkfs, dd, shutdown)"},
    {"heuristics.privilege", Severity::kHigh, Confidence::kMedium, "privilege", 250,
     "asks for privileges (sudo, setuid, chmod 777, mount, iptables)"},
    {"heuristics.system-path-write", Severity::kCritical, Confidence::kHigh, "filesystem", 73,
     "writes to or deletes a system path"},
    {"heuristics.sensitive-read", Severity::kHigh, Confidence::kHigh, "filesystem", 200,
     "reads credentials or system secrets"},
    {"heuristics.native-code", Severity::kHigh, Confidence::kHigh, "native-code", 111,
     "calls native code (ctypes/cffi)"},
    {"heuristics.deserialization", Severity::kHigh, Confidence::kHigh, "deserialization", 502,
     "deserializes data that can run code (pickle, marshal, shelve, unsafe yaml)"},
    {"heuristics.dynamic-import", Severity::kHigh, Confidence::kMedium, "obfuscation", 470,
     "imports a module chosen at run time"},
    {"heuristics.builtins-access", Severity::kHigh, Confidence::kHigh, "introspection", 693,
     "reaches into __builtins__"},
    {"heuristics.dunder-walk", Severity::kCritical, Confidence::kHigh, "introspection", 693,
     "walks interpreter internals (__subclasses__, __globals__, __mro__) to escape restrictions"},
    {"heuristics.computed-attribute", Severity::kHigh, Confidence::kMedium, "introspection", 470,
     "gets or sets an attribute whose name is computed"},
    {"heuristics.network", Severity::kMedium, Confidence::kMedium, "network", 918,
     "opens a network connection"},
    {"heuristics.raw-socket", Severity::kHigh, Confidence::kHigh, "network", 406,
     "uses raw or link-level sockets"},
    {"heuristics.reverse-shell", Severity::kCritical, Confidence::kHigh, "network", 553,
     "wires a socket to the standard streams (reverse shell)"},
    {"heuristics.fork-bomb", Severity::kCritical, Confidence::kMedium, "other", 400,
     "forks in an endless loop"},
    {"heuristics.network-loop", Severity::kHigh, Confidence::kMedium, "network", 799,
     "connects or sends in a loop (scanning, brute force, flooding)"},
    {"heuristics.exfiltration", Severity::kCritical, Confidence::kMedium, "network", 200,
     "sends data while reading secrets (credentials, keys, the environment)"},
    {"heuristics.callable-reference", Severity::kHigh, Confidence::kMedium, "code-execution", 502,
     "hands a command or code runner over as a value (a pickle gadget, an indirect call)"},
    {"heuristics.unreadable-source", Severity::kCritical, Confidence::kHigh, "obfuscation", 172,
     "the program cannot be read as CPython reads it"},
    {"heuristics.persistence", Severity::kCritical, Confidence::kHigh, "persistence", 912,
     "writes a file that runs code later (shell start-up files, sitecustomize, .pth, cron, "
     "autostart, authorized_keys)"},
    {"heuristics.code-load", Severity::kCritical, Confidence::kHigh, "code-execution", 94,
     "runs code from a file or from a code object made at run time (importlib loaders, runpy, "
     "types.CodeType)"},
};

// How deep code given to eval/exec/compile as a constant is itself assessed.
constexpr int kMaxCodeDepth = 4;

// Runs a string as Python: the builtins, and the interpreters and
// sub-interpreters that take source text (logging.config.listen evaluates
// the configuration it is sent).
const std::set<std::string> kCodeExecCalls = {"eval",
                                              "exec",
                                              "compile",
                                              "execfile",
                                              "code.interact",
                                              "code.compile_command",
                                              "code.InteractiveConsole.push",
                                              "code.InteractiveConsole.runsource",
                                              "code.InteractiveConsole.runcode",
                                              "code.InteractiveInterpreter.runsource",
                                              "code.InteractiveInterpreter.runcode",
                                              "_xxsubinterpreters.run_string",
                                              "_interpreters.run_string",
                                              "_testcapi.run_in_subinterp",
                                              "test.support.run_in_subinterp",
                                              "logging.config.listen"};
// Builtin names an import or assignment elsewhere in the program must not
// talk away: `from x import eval` after (or never reaching) `eval(code)`.
const std::set<std::string, std::less<>> kUnshadowedBuiltins = {
    "eval", "exec", "compile", "execfile", "__import__", "getattr", "globals", "vars"};
// Debuggers, profilers and timers that run a string as Python: a constant
// is assessed as code, like eval's.
const std::set<std::string> kCodeStringRunners = {"pdb.run",
                                                  "pdb.runeval",
                                                  "pdb.runctx",
                                                  "pdb.Pdb.run",
                                                  "pdb.Pdb.runeval",
                                                  "pdb.Pdb.runctx",
                                                  "bdb.Bdb.run",
                                                  "bdb.Bdb.runeval",
                                                  "bdb.Bdb.runctx",
                                                  "cProfile.run",
                                                  "cProfile.runctx",
                                                  "cProfile.Profile.run",
                                                  "cProfile.Profile.runctx",
                                                  "profile.run",
                                                  "profile.runctx",
                                                  "profile.Profile.run",
                                                  "profile.Profile.runctx",
                                                  "trace.Trace.run",
                                                  "trace.Trace.runctx",
                                                  "timeit.timeit",
                                                  "timeit.repeat",
                                                  "timeit.Timer"};
// Loaders that run code from a file, or build a function from a code object.
const std::set<std::string> kCodeLoaders = {"importlib.util.spec_from_file_location",
                                            "importlib.util.spec_from_loader",
                                            "importlib.machinery.SourceFileLoader",
                                            "importlib.machinery.SourcelessFileLoader",
                                            "importlib.machinery.ExtensionFileLoader",
                                            "imp.load_source",
                                            "imp.load_compiled",
                                            "imp.load_dynamic",
                                            "imp.load_module",
                                            "runpy.run_path",
                                            "zipimport.zipimporter",
                                            "types.FunctionType",
                                            "types.LambdaType",
                                            "types.CodeType"};
// Calls that load a native library; what they return is kNativeLibrary.
const std::set<std::string> kLibraryLoaders = {"ctypes.CDLL", "ctypes.PyDLL",
                                               "ctypes.cdll.LoadLibrary",
                                               "ctypes.pydll.LoadLibrary", "cffi.FFI.dlopen"};
// The value of a loaded native library: `ctypes.CDLL(None).system` is
// `ctypes.<library>.system`, C's system().
const std::string kNativeLibrary = "ctypes.<library>";
// Functions that turn a dotted name into the object ("os:system").
const std::set<std::string> kNameResolvers = {"pkgutil.resolve_name", "pydoc.locate"};
// Classes whose instances' methods the rules name (`console.push(...)` is
// code.InteractiveConsole.push): `x = Class(...)` makes x stand for Class.
const std::set<std::string> kInstanceClasses = {"code.InteractiveConsole",
                                                "code.InteractiveInterpreter",
                                                "paramiko.SSHClient",
                                                "paramiko.client.SSHClient",
                                                "pdb.Pdb",
                                                "bdb.Bdb",
                                                "cProfile.Profile",
                                                "profile.Profile",
                                                "trace.Trace",
                                                "cffi.FFI"};
// Methods that run a command on the host a client is connected to.
const std::set<std::string> kRemoteShellCalls = {"paramiko.SSHClient.exec_command",
                                                 "paramiko.client.SSHClient.exec_command"};
// Serializers of the pickle family: with a class that defines __reduce__,
// their output is a payload that runs code where it is loaded.
const std::set<std::string> kPickleDumps = {"pickle.dumps",  "pickle.dump",  "_pickle.dumps",
                                            "cPickle.dumps", "cPickle.dump", "dill.dumps",
                                            "dill.dump"};
const std::set<std::string> kShellCalls = {"os.system",
                                           "os.popen",
                                           "commands.getoutput",
                                           "commands.getstatusoutput",
                                           "subprocess.getoutput",
                                           "subprocess.getstatusoutput",
                                           "pty.spawn",
                                           "platform.popen",
                                           "popen2.popen2",
                                           "os.popen2",
                                           "os.popen3",
                                           "ctypes.<library>.system",
                                           "ctypes.<library>.popen"};
const std::set<std::string> kSubprocessCalls = {"subprocess.run",
                                                "subprocess.call",
                                                "subprocess.Popen",
                                                "subprocess.check_call",
                                                "subprocess.check_output",
                                                "asyncio.create_subprocess_shell",
                                                "asyncio.create_subprocess_exec",
                                                "asyncio.subprocess.create_subprocess_shell",
                                                "asyncio.subprocess.create_subprocess_exec"};
const std::set<std::string> kDecoders = {"base64.b64decode",
                                         "base64.b32decode",
                                         "base64.b16decode",
                                         "base64.a85decode",
                                         "base64.b85decode",
                                         "base64.decodebytes",
                                         "base64.urlsafe_b64decode",
                                         "binascii.unhexlify",
                                         "binascii.a2b_base64",
                                         "binascii.a2b_hex",
                                         "codecs.decode",
                                         "zlib.decompress",
                                         "bz2.decompress",
                                         "lzma.decompress",
                                         "gzip.decompress",
                                         "bytes.fromhex",
                                         "marshal.loads",
                                         "bytearray.fromhex"};
const std::set<std::string> kImportCalls = {"__import__", "builtins.__import__",
                                            "importlib.import_module", "importlib.__import__",
                                            "runpy.run_module"};
const std::set<std::string> kPathWrites = {"write_text", "write_bytes", "unlink", "rmdir",
                                           "chmod",      "touch",       "rename", "replace",
                                           "symlink_to", "hardlink_to", "lchmod"};
const std::set<std::string> kDeserializers = {
    "pickle.load",      "pickle.loads",         "pickle.Unpickler",   "cPickle.load",
    "cPickle.loads",    "_pickle.loads",        "dill.load",          "dill.loads",
    "marshal.load",     "marshal.loads",        "shelve.open",        "jsonpickle.decode",
    "yaml.unsafe_load", "yaml.unsafe_load_all", "pandas.read_pickle", "torch.load"};
// Calls whose second argument is the file they write.
const std::set<std::string> kPathCopies = {"shutil.copy",     "shutil.copyfile", "shutil.copy2",
                                           "shutil.copytree", "shutil.move",     "os.rename",
                                           "os.replace",      "os.symlink",      "os.link"};
const std::set<std::string> kPrivilegeCalls = {"os.setuid",    "os.setgid",    "os.seteuid",
                                               "os.setegid",   "os.setreuid",  "os.setregid",
                                               "os.setresuid", "os.setresgid", "os.chroot"};
const std::set<std::string> kPathMutations = {
    "os.remove",       "os.unlink",    "os.rmdir",        "os.removedirs", "os.rename",
    "os.replace",      "os.chmod",     "os.chown",        "os.truncate",   "os.lchown",
    "os.symlink",      "os.link",      "shutil.rmtree",   "shutil.move",   "shutil.copy",
    "shutil.copyfile", "shutil.copy2", "shutil.copytree", "shutil.chown"};
const std::set<std::string> kNetworkCalls = {"socket.socket",
                                             "socket.create_connection",
                                             "socket.socketpair",
                                             "urllib.request.urlopen",
                                             "urllib.urlopen",
                                             "urllib2.urlopen",
                                             "http.client.HTTPConnection",
                                             "http.client.HTTPSConnection",
                                             "requests.get",
                                             "requests.post",
                                             "requests.put",
                                             "requests.delete",
                                             "requests.request",
                                             "requests.Session",
                                             "ftplib.FTP",
                                             "telnetlib.Telnet",
                                             "smtplib.SMTP",
                                             "smtplib.SMTP_SSL",
                                             "paramiko.SSHClient",
                                             "asyncio.open_connection",
                                             "httpx.get",
                                             "httpx.post",
                                             "httpx.Client",
                                             "aiohttp.ClientSession",
                                             "xmlrpc.client.ServerProxy",
                                             "socketserver.TCPServer",
                                             "http.server.HTTPServer"};
const std::set<std::string> kDangerousAttributes = {
    "system", "popen", "eval", "exec",      "compile", "__import__", "spawnl", "execv",
    "execl",  "loads", "load", "getoutput", "call",    "Popen",      "run",    "check_output"};
constexpr std::string_view kSystemPaths[] = {"/etc",  "/usr",   "/bin", "/sbin", "/boot",
                                             "/root", "/var",   "/sys", "/proc", "/dev",
                                             "/lib",  "/lib64", "/opt", "/srv",  "/home"};
constexpr std::string_view kSensitive[] = {
    "/etc/shadow",     "/etc/passwd",      "/etc/sudoers",
    "/etc/gshadow",    "/root/",           ".ssh/",
    "id_rsa",          "id_ed25519",       "/proc/self/environ",
    "/proc/1/environ", ".aws/credentials", ".netrc",
    ".bash_history",   "/etc/ssh/"};
constexpr std::string_view kDestructive[] = {
    "rm -rf", "rm -fr", "mkfs",      "dd if=",   ":(){",   "shutdown",
    "reboot", "halt",   "> /dev/sd", "of=/dev/", "wipefs", "shred "};
constexpr std::string_view kPrivilegeWords[] = {
    "sudo ",       "sudo\t", "su -",   "chmod 777", "chmod +s", "chmod u+s",
    "chown root",  "mount ", "umount", "iptables",  "setuid",   "/etc/sudoers",
    "/etc/shadow", "visudo", "passwd", "useradd",   "usermod"};

// Which table a call is in: check_qualified() asks once, by one hash
// lookup, instead of asking each table in turn.
enum class CallKind {
  kNone,
  kCodeExec,
  kCodeString,
  kCodeLoad,
  kShell,
  kSubprocess,
  kRemoteShell,
  kDeserializer,
  kPickleDump,
  kImport,
  kPrivilege,
  kPathMutation,
  kNetwork,
  kNameResolver,
  kLibraryLoader,
  kAttributeLookup,  // getattr(o, n) and its other spellings with the object first
};

// getattr(o, n), setattr/delattr(o, n, ...) and their other spellings.
const std::set<std::string> kAttributeLookups = {"getattr",
                                                 "setattr",
                                                 "delattr",
                                                 "object.__getattribute__",
                                                 "type.__getattribute__",
                                                 "inspect.getattr_static",
                                                 "object.__setattr__",
                                                 "object.__delattr__"};

CallKind call_kind(std::string_view q) {
  static const auto kinds = [] {
    std::unordered_map<std::string_view, CallKind> k;
    for (const auto& [table, kind] :
         std::initializer_list<std::pair<const std::set<std::string>*, CallKind>>{
             {&kCodeExecCalls, CallKind::kCodeExec},
             {&kCodeStringRunners, CallKind::kCodeString},
             {&kCodeLoaders, CallKind::kCodeLoad},
             {&kShellCalls, CallKind::kShell},
             {&kSubprocessCalls, CallKind::kSubprocess},
             {&kRemoteShellCalls, CallKind::kRemoteShell},
             {&kDeserializers, CallKind::kDeserializer},
             {&kPickleDumps, CallKind::kPickleDump},
             {&kImportCalls, CallKind::kImport},
             {&kPrivilegeCalls, CallKind::kPrivilege},
             {&kPathMutations, CallKind::kPathMutation},
             {&kNetworkCalls, CallKind::kNetwork},
             {&kNameResolvers, CallKind::kNameResolver},
             {&kLibraryLoaders, CallKind::kLibraryLoader},
             {&kAttributeLookups, CallKind::kAttributeLookup}})
      for (const std::string& name : *table) k.emplace(name, kind);  // the first table wins
    return k;
  }();
  auto it = kinds.find(q);
  return it == kinds.end() ? CallKind::kNone : it->second;
}

// The (first byte, length) pairs of a set of names: answers "not in the set"
// for nearly every other name without hashing it.
class NameShapes {
 public:
  void add(std::string_view name) {
    if (!name.empty()) shapes_[static_cast<unsigned char>(name[0])] |= bit(name);
  }
  bool may_contain(std::string_view name) const {
    return !name.empty() && (shapes_[static_cast<unsigned char>(name[0])] & bit(name));
  }

 private:
  static std::uint64_t bit(std::string_view n) {
    return std::uint64_t{1} << std::min<std::size_t>(n.size(), 63);
  }
  std::array<std::uint64_t, 256> shapes_{};  // per first byte: bit k, a name of length k
};

// A set of names asked far more often about names it does not hold.
class NameSet {
 public:
  explicit NameSet(std::unordered_set<std::string_view> names) : names_(std::move(names)) {
    for (std::string_view n : names_) shapes_.add(n);
  }
  bool contains(std::string_view name) const {
    return shapes_.may_contain(name) && names_.count(name);
  }

 private:
  NameShapes shapes_;
  std::unordered_set<std::string_view> names_;
};

// The last names of every call the rules look for ("system" of os.system),
// built from the tables above so that none is missed.
// Is `name` one of rule_names()?
bool is_rule_name(std::string_view name);

const std::unordered_set<std::string_view>& rule_names() {
  static const std::unordered_set<std::string_view> names = [] {
    // Besides the tables: what the resolver follows (getattr, namespaces,
    // __call__) and the calls the rules look at by hand.
    std::unordered_set<std::string_view> n = {"getattr",
                                              "setattr",
                                              "delattr",
                                              "open",
                                              "load",
                                              "load_all",
                                              "Path",
                                              "PosixPath",
                                              "dup2",
                                              "fork",
                                              "forkpty",
                                              "__import__",
                                              "eval",
                                              "exec",
                                              "compile",
                                              "import_module",
                                              "__call__",
                                              "__dict__",
                                              "vars",
                                              "globals",
                                              "locals",
                                              "partial",
                                              "methodcaller",
                                              "subprocess_exec",
                                              "subprocess_shell",
                                              "YAML",
                                              "__getattribute__",
                                              "__getattr__",
                                              "getattr_static",
                                              "attrgetter",
                                              "CDLL",
                                              "PyDLL",
                                              "LoadLibrary",
                                              "dlopen",
                                              "cdll"};
    for (const auto* table :
         {&kCodeExecCalls, &kShellCalls, &kSubprocessCalls, &kDecoders, &kDeserializers,
          &kPrivilegeCalls, &kPathMutations, &kNetworkCalls, &kImportCalls, &kRemoteShellCalls,
          &kPickleDumps, &kCodeStringRunners, &kCodeLoaders, &kNameResolvers}) {
      for (const std::string& call : *table) {
        std::size_t dot = call.rfind('.');
        n.insert(dot == std::string::npos ? std::string_view(call)
                                          : std::string_view(call).substr(dot + 1));
      }
    }
    return n;
  }();
  return names;
}

bool is_rule_name(std::string_view name) {
  static const NameSet names(rule_names());
  return names.contains(name);
}

// Whether `function` is one of os's exec*, spawn* and posix_spawn* (or C's
// execve): dispatched on the first byte, since it is asked of every name.
bool is_exec_family(std::string_view function) {
  if (function.empty()) return false;
  switch (function[0]) {
    case 'e': return function.starts_with("exec");
    case 's': return function.starts_with("spawn");
    case 'p': return function.starts_with("posix_spawn");
    default: return false;
  }
}

template <std::size_t N>
bool contains_any(std::string_view text, const std::string_view (&words)[N]) {
  for (std::string_view word : words)
    if (text.find(word) != std::string_view::npos) return true;
  return false;
}

bool is_system_path(const std::string& path) {
  if (path == "/" || path == "/*") return true;
  if (path == "/dev/null" || path.rfind("/tmp", 0) == 0 || path.rfind("/dev/shm", 0) == 0)
    return false;
  for (std::string_view prefix : kSystemPaths) {
    std::string p(prefix);
    if (path == p || path.rfind(p + "/", 0) == 0) return true;
  }
  return false;
}

std::string_view base_name(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Files whose content runs later, by a shell, the interpreter, cron or a
// login: writing one plants code that outlives the program.
bool is_persistence_path(std::string_view path) {
  static constexpr std::string_view kNames[] = {
      ".bashrc",          ".bash_profile",    ".bash_login",      ".bash_logout",
      ".profile",         ".zshrc",           ".zprofile",        ".zshenv",
      ".zlogin",          ".cshrc",           ".tcshrc",          ".kshrc",
      ".xinitrc",         ".xprofile",        ".xsessionrc",      ".pythonrc",
      ".pythonrc.py",     "sitecustomize.py", "usercustomize.py", "authorized_keys",
      "authorized_keys2", "rc.local",         "crontab",          "ld.so.preload",
      ".pam_environment"};
  static constexpr std::string_view kFolders[] = {
      "/.config/autostart/", "/etc/xdg/autostart/", "/etc/cron",
      "/var/spool/cron/",    "/etc/init.d/",        "/etc/systemd/",
      "/.config/systemd/",   "/lib/systemd/",       "/etc/profile.d/",
      "/.git/hooks/",        "/site-packages/",     "/dist-packages/",
      "/LaunchAgents/",      "/etc/update-motd.d/", "/.local/share/systemd/"};
  std::string_view name = base_name(path);
  for (std::string_view n : kNames)
    if (name == n) return true;
  if (name.ends_with(".pth")) return true;
  for (std::string_view folder : kFolders)
    if (path.find(folder) != std::string_view::npos) return true;
  return false;
}

// The words of a shell command: split at blanks and at the characters that
// end a command or a quoted part.
std::vector<std::string_view> shell_words(std::string_view command) {
  std::vector<std::string_view> words;
  std::size_t start = 0;
  while (start < command.size()) {
    std::size_t stop = command.find_first_of(" \t\n;|&()`'\"", start);
    if (stop == std::string_view::npos) stop = command.size();
    if (stop > start) words.push_back(command.substr(start, stop - start));
    start = stop + 1;
  }
  return words;
}

// A command that destroys data or the system: the known phrases, `rm` with
// a recursive flag however it is spelled (-r, -R, -fr, -r -f, --recursive,
// /bin/rm), `find ... -delete` or `find ... -exec rm`.
bool is_destructive_command(std::string_view command) {
  if (contains_any(command, kDestructive)) return true;
  auto words = shell_words(command);
  for (std::size_t w = 0; w < words.size(); ++w) {
    if (base_name(words[w]) == "rm") {
      for (std::size_t f = w + 1; f < words.size() && words[f].starts_with("-") && words[f] != "--";
           ++f)
        if (words[f] == "--recursive" ||
            (!words[f].starts_with("--") && words[f].find_first_of("rR") != std::string_view::npos))
          return true;
    }
    if (base_name(words[w]) == "find")
      for (std::size_t f = w + 1; f < words.size(); ++f)
        if (words[f] == "-delete" ||
            (words[f] == "-exec" && f + 1 < words.size() && base_name(words[f + 1]) == "rm"))
          return true;
  }
  return false;
}

// A shell started with a script to run (`sh -c "..."`, `bash -lc ...`).
bool runs_shell_script(std::string_view command) {
  static constexpr std::string_view kShells[] = {"sh",  "bash", "dash", "zsh", "ksh",
                                                 "csh", "tcsh", "fish", "ash"};
  auto words = shell_words(command);
  if (words.empty()) return false;
  std::size_t program = base_name(words[0]) == "env" && words.size() > 1 ? 1 : 0;
  if (std::find(std::begin(kShells), std::end(kShells), base_name(words[program])) ==
      std::end(kShells))
    return false;
  for (std::size_t f = program + 1; f < words.size() && words[f].starts_with("-"); ++f)
    if (!words[f].starts_with("--") && words[f].find('c') != std::string_view::npos) return true;
  return false;
}

// A shell command that writes a file that runs code later (`echo ... >>
// ~/.bashrc`, `cp x ~/.profile`, `... | crontab -`).
bool command_plants_code(std::string_view command) {
  std::size_t crontabs = 0, listings = 0;
  for (std::size_t at = command.find("crontab"); at != std::string_view::npos;
       at = command.find("crontab", at + 1)) {
    ++crontabs;
    listings += command.substr(at).starts_with("crontab -l");
  }
  if (crontabs > listings) return true;
  bool writes = command.find('>') != std::string_view::npos ||
                command.find("tee ") != std::string_view::npos ||
                command.find("cp ") != std::string_view::npos ||
                command.find("mv ") != std::string_view::npos ||
                command.find("ln ") != std::string_view::npos;
  if (!writes) return false;
  for (std::string_view word : shell_words(command)) {
    word.remove_prefix(std::min(word.find_first_not_of('>'), word.size()));  // >>~/.bashrc
    if (is_persistence_path(word)) return true;
  }
  return false;
}

struct Argument {
  std::size_t begin, end;  // token range
  std::string keyword;     // "shell" for shell=True
};

// CPython refuses a program whose brackets nest deeper than this ("too many
// nested parentheses"); warden does not follow one either.
constexpr std::size_t kMaxBracketDepth = 200;
// How deep the constant folder and the resolver call themselves, whatever
// the program: a hostile one must not exhaust the stack.
constexpr int kMaxNesting = 1000;

class Analyzer {
 public:
  // `depth` 0: a program; more: code given to eval/exec/compile as a constant.
  Analyzer(std::string_view code, int depth)
      : source_(python::read_source(code, depth == 0)),
        code_(source_.text),
        tokens_(python::tokenize(code_)),
        depth_(depth) {
    // Only code tokens matter; comments and layout are dropped up front,
    // after noting which code runs in a loop (that needs the layout).
    std::vector<bool> loop_blocks;  // per indented block: is it a loop's body?
    int open_loops = 0;
    bool line_start = true, header_is_loop = false, body_on_header_line = false;
    bool next_block_is_loop = false;
    std::vector<std::size_t> open_brackets;  // code-token indices
    code_tokens_.reserve(tokens_.size());
    in_loop_.reserve(tokens_.size());
    comprehension_opens_.assign(tokens_.size(), false);
    matches_.assign(tokens_.size(), kUnmatched);
    for (const auto& t : tokens_) {
      if (t.kind == TokenKind::kIndent) {
        loop_blocks.push_back(next_block_is_loop);
        open_loops += next_block_is_loop;
        next_block_is_loop = false;
        continue;
      }
      if (t.kind == TokenKind::kDedent) {
        if (!loop_blocks.empty()) {
          open_loops -= loop_blocks.back();
          loop_blocks.pop_back();
        }
        continue;
      }
      if (t.kind == TokenKind::kComment || t.kind == TokenKind::kNl) continue;
      std::size_t index = code_tokens_.size();
      code_tokens_.push_back(&t);
      in_loop_.push_back(open_loops > 0 || body_on_header_line);
      if (t.kind == TokenKind::kNewline) {
        next_block_is_loop = header_is_loop && index > 0 && is_op(index - 1, ":");
        line_start = true;
        header_is_loop = body_on_header_line = false;
        open_brackets.clear();
        continue;
      }
      bool is_for = t.kind == TokenKind::kName && t.text == "for";
      if (line_start) {
        header_is_loop = is_for || (t.kind == TokenKind::kName && t.text == "while");
        line_start = false;
      } else if (is_for && index >= 1 && code_tokens_[index - 1]->text == "async" &&
                 (index == 1 || code_tokens_[index - 2]->kind == TokenKind::kNewline)) {
        header_is_loop = true;  // async for
      }
      if (is_for && !open_brackets.empty()) comprehension_opens_[open_brackets.back()] = true;
      if (t.kind != TokenKind::kOp || t.text.size() != 1) continue;
      switch (t.text[0]) {
        case '(':
        case '[':
        case '{':
          open_brackets.push_back(index);
          if (open_brackets.size() > kMaxBracketDepth && !deepest_bracket_) deepest_bracket_ = &t;
          break;
        case ')':
        case ']':
        case '}':
          if (!open_brackets.empty()) {
            std::size_t open = open_brackets.back();
            open_brackets.pop_back();
            matches_[open] = index;
            if (comprehension_opens_[open]) comprehension_ranges_.emplace_back(open, index);
          }
          break;
        case ':':
          if (header_is_loop && open_brackets.empty()) body_on_header_line = true;
          break;
        default: break;
      }
    }
    for (const auto& [open, close] : comprehension_ranges_)
      for (std::size_t i = open; i <= close; ++i) in_loop_[i] = true;
  }

  heuristics::Analysis run() {
    if (!source_.error.empty())
      add(kUnreadableSource, source_.error_line, 1,
          source_.error + " (CPython would run what warden cannot see)");
    if (deepest_bracket_) {
      add(kUnreadableSource, *deepest_bracket_,
          "brackets nested deeper than " + std::to_string(kMaxBracketDepth) +
              " levels: CPython refuses such a program (too many nested parentheses)");
      return {std::move(findings_), {}, {}};
    }
    collect_bindings();
    followed_.clear();  // what follow() found while the bindings were still being collected
    for (std::size_t i = 0; i < code_tokens_.size(); ++i) {
      const Token& t = *code_tokens_[i];
      if (t.kind != TokenKind::kName) continue;
      check_name(i);
      if (i == 0 || !is_op(i - 1, ".")) {
        std::size_t end = chain_end(i);
        if (!worth_resolving(i, end)) continue;
        std::string value = follow(i, end, true);
        if (!value.empty() && !is_op(end, "(") && !is_op(end, "=") && !is_op(end, ".") &&
            !is_op(end, "["))
          check_reference(i, value);
      }
    }
    check_wrapper_calls();
    if (uses_socket_)  // each stream wired to the socket, where the other assessors see it too
      for (const auto& [at, streams] : stream_wirings_)
        for (std::size_t n = 0; n < streams.size(); ++n)
          add(kReverseShell, at->line, at->column, streams[n], {0, static_cast<int>(n)});
    if (has_endless_loop_ && fork_token_) add(kForkBomb, *fork_token_);
    if (first_network_) {
      bool secrets = names_secret_file();
      if (secrets || environment_dump_)
        add(kExfiltration, *first_network_,
            secrets ? "with a credential or secret file named in the code"
                    : "with the whole environment");
    }
    if (defines_reduce_)
      for (const auto& [at, q] : pickle_dumps_)
        add(kDeserialization, *at, q + " of an object with __reduce__ (builds a pickle payload)");
    for (const Token* at : callable_references_) {
      if (add(kCallableReference, *at) && defines_reduce_)
        findings_.back().severity = Severity::kCritical;
    }
    return {std::move(findings_), unique(std::move(imports_), &heuristics::Import::module),
            unique(std::move(calls_), &heuristics::Call::name)};
  }

 private:
  [[gnu::always_inline]] bool is_op(std::size_t i, std::string_view op) const {
    if (i >= code_tokens_.size()) return false;
    const Token& t = *code_tokens_[i];  // first byte first: most tokens differ there
    return t.kind == TokenKind::kOp && t.text.size() == op.size() && t.text[0] == op[0] &&
           t.text == op;
  }
  [[gnu::always_inline]] bool is_name(std::size_t i, std::string_view name) const {
    if (i >= code_tokens_.size()) return false;
    const Token& t = *code_tokens_[i];  // first byte first, as in is_op
    return t.kind == TokenKind::kName && t.text.size() == name.size() && t.text[0] == name[0] &&
           t.text == name;
  }

  // Adds a finding unless the rule was reported at that place already;
  // returns whether it did (then it is findings_.back()).
  bool add(RuleIndex rule, const Token& at, const std::string& detail = "") {
    return add(rule, at.line, at.column, detail);
  }
  // A rule counts once per place: a line and column of the program, and for
  // code given to exec (reported at the call that runs it) the line and
  // column inside that code, so that its findings count as often as they
  // would in a program of their own, and calls squeezed onto one line count
  // as often as on several.
  bool add(RuleIndex rule, int line, int column, const std::string& detail = "",
           std::pair<int, int> inner = {0, 0}) {
    const Rule& r = kRules[rule];
    if (!reported_.insert({r.id, line, column, inner.first, inner.second}).second) return false;
    Finding f;
    f.rule_id = r.id;
    f.severity = r.severity;
    f.confidence = r.confidence;
    f.category = r.category;
    f.cwe = r.cwe;
    f.line = line;
    f.column = column;
    f.message = detail.empty() ? r.message : std::string(r.message) + ": " + detail;
    f.source_line = trimmed_source_line(line);
    findings_.push_back(std::move(f));
    return true;
  }

  std::string trimmed_source_line(int number) const {
    std::optional<std::string_view> line = source_line(number);
    if (!line) return "";
    std::size_t first = line->find_first_not_of(" \t");
    return first == std::string_view::npos ? "" : std::string(line->substr(first, 200));
  }

  // "a.b.c" from NAME (. NAME)* starting at i; `end` is set past it.
  // `f.__call__` is `f`: calling it is calling f.
  std::string dotted(std::size_t i, std::size_t& end) const {
    std::string name(code_tokens_[i]->text);
    end = chain_end(i);
    for (std::size_t k = i + 2; k < end; k += 2) {
      if (code_tokens_[k]->text == "__call__") continue;
      name += '.';
      name += code_tokens_[k]->text;
    }
    return name;
  }

  // The index past NAME (. NAME)* starting at i.
  std::size_t chain_end(std::size_t i) const {
    std::size_t end = i + 1;
    while (is_op(end, ".") && end + 1 < code_tokens_.size() &&
           code_tokens_[end + 1]->kind == TokenKind::kName)
      end += 2;
    return end;
  }

  // Whether the chain [i, end) can resolve to anything a rule looks at: its
  // head was bound by an import or assignment, or its last name is one the
  // rules know. Most names (locals, print, len, self.x) are not, and are
  // passed over without building strings.
  bool worth_resolving(std::size_t i, std::size_t end) const {
    std::string_view head = code_tokens_[i]->text;
    return (alias_shapes_.may_contain(head) && aliases_.find(head) != aliases_.end()) ||
           network_objects_.find(head) != network_objects_.end() || head == "__builtins__" ||
           is_rule_name(code_tokens_[end - 1]->text) || is_exec_family(code_tokens_[end - 1]->text);
  }

  // Binds `name` to `value` (a module, a function) for resolve().
  void alias(const std::string& name, std::string value) {
    alias_shapes_.add(name);
    aliases_[name] = std::move(value);
  }

  // Resolves the first component through import aliases and assignments.
  // The builtins module's functions are named bare: `builtins.eval` and
  // `__builtins__.eval` are `eval`.
  std::string resolve(const std::string& name) const {
    std::size_t dot = name.find('.');
    std::string head = name.substr(0, dot), rest = dot == std::string::npos ? "" : name.substr(dot);
    auto it = aliases_.find(head);
    if (it != aliases_.end() && !kUnshadowedBuiltins.count(head))
      return same_module(bare_builtin(it->second + rest));
    if (head == "__builtins__") return bare_builtin("builtins" + rest);
    for (const auto& module : star_imports_)
      if (kShellCalls.count(module + "." + head) || kSubprocessCalls.count(module + "." + head) ||
          kDeserializers.count(module + "." + head) || kDecoders.count(module + "." + head))
        return module + "." + head + rest;
    return same_module(name);
  }

  // `q` with its module named as the rules name it: posix and nt are os,
  // __builtin__ is builtins, and a module replaced in sys.modules
  // (`sys.modules["json"] = os`) is what replaced it.
  std::string same_module(std::string q) const {
    std::size_t dot = q.find('.');
    std::string_view top = std::string_view(q).substr(0, dot);
    if (top == "posix" || top == "nt") return q.replace(0, top.size(), "os");
    if (top == "__builtin__") return q.replace(0, top.size(), "builtins");  // Python 2's name
    if (auto it = replaced_modules_.find(top); it != replaced_modules_.end())
      return q.replace(0, top.size(), it->second);
    return q;
  }

  // `items` without repeats of the same (name, line), in their order.
  template <typename T>
  static std::vector<T> unique(std::vector<T> items, std::string T::*name) {
    std::set<std::pair<std::string, int>> seen;
    std::vector<T> out;
    for (auto& item : items)
      if (seen.insert({item.*name, item.line}).second) out.push_back(std::move(item));
    return out;
  }

  static std::string bare_builtin(std::string name) {
    if (name.rfind("builtins.", 0) == 0 && name.size() > 9 && name.compare(9, 8, "__dict__") != 0)
      name.erase(0, 9);
    return name;
  }

  // The string value of tokens [begin, end) if it is built only from string
  // literals, known constant names, chr(N), '+', "sep".join(...),
  // "...".format(...), "..." % (...), what decoders (base64, hex, rot13,
  // zlib) and path builders (os.path.join, Path.home() / "x") make of
  // constants, and methods that keep a constant constant (.decode(),
  // [::-1]): the ways a name, a path or a payload is spelled in pieces to
  // hide it.
  std::optional<std::string> constant(std::size_t begin, std::size_t end) const {
    Nesting nesting(nesting_);
    if (nesting.too_deep()) {
      cut_short_ = true;
      return std::nullopt;
    }
    std::string value;
    std::size_t i = begin;
    if (is_op(i, "+")) ++i;
    bool any = false;
    while (i < end) {
      bool path_join = false;
      if (any) {
        path_join = is_op(i, "/");  // Path("~") / ".bashrc"
        if (!path_join && !is_op(i, "+")) return std::nullopt;
        ++i;
      }
      auto term = constant_term(i, end);
      if (!term) return std::nullopt;
      value += path_join ? "/" + *term : *term;
      any = true;
    }
    if (!any) return std::nullopt;
    return value;
  }

  // One term of constant(): an atom and the methods and slices after it.
  // Advances `i` past it.
  std::optional<std::string> constant_term(std::size_t& i, std::size_t end) const {
    auto value = constant_atom(i, end);
    while (value && i < end && (is_op(i, "[") || is_op(i, "."))) {
      if (is_op(i, "[")) {  // s[::-1]
        if (!(i + 5 < end && is_reversal(i))) return std::nullopt;
        std::reverse(value->begin(), value->end());
        i += 6;
        continue;
      }
      if (!(is_op(i, ".") && i + 2 < end && code_tokens_[i + 1]->kind == TokenKind::kName &&
            is_op(i + 2, "(")))
        return std::nullopt;
      std::string_view method = code_tokens_[i + 1]->text;
      std::size_t open = i + 2, close = matching_paren(open);
      if (close >= end) return std::nullopt;
      i = close + 1;
      if (method == "join") {
        value = joined(*value, open, close);
        continue;
      }
      std::vector<std::string> args;
      for (const auto& a : arguments(open, close)) {
        auto arg = a.keyword.empty() ? constant(a.begin, a.end) : std::nullopt;
        if (!arg) return std::nullopt;
        args.push_back(*arg);
      }
      if (method == "format") {
        value = substitute(*value, args, "{", "}");
      } else if (method == "replace" && args.size() >= 2 && !args[0].empty()) {
        std::string replaced;
        for (std::size_t at = 0;;) {
          std::size_t next = value->find(args[0], at);
          replaced.append(*value, at, next == std::string::npos ? std::string::npos : next - at);
          if (next == std::string::npos) break;
          replaced += args[1];
          at = next + args[0].size();
        }
        value = std::move(replaced);
      } else if (method == "joinpath") {
        for (const auto& part : args) *value += "/" + part;
      } else if (method == "lower" || method == "upper") {
        for (char& c : *value)
          c = static_cast<char>(method == "lower" ? std::tolower(static_cast<unsigned char>(c))
                                                  : std::toupper(static_cast<unsigned char>(c)));
      } else if (method != "decode" && method != "encode" && method != "strip" &&
                 method != "expanduser" && method != "resolve" && method != "absolute") {
        return std::nullopt;
      }
    }
    return value;
  }

  // Tokens at..at+5 are `[::-1]`.
  bool is_reversal(std::size_t at) const {
    return is_op(at, "[") && is_op(at + 1, ":") && is_op(at + 2, ":") && is_op(at + 3, "-") &&
           at + 4 < code_tokens_.size() && code_tokens_[at + 4]->text == "1" && is_op(at + 5, "]");
  }

  // The atom a constant term starts with; advances `i` past it.
  std::optional<std::string> constant_atom(std::size_t& i, std::size_t end) const {
    if (i >= end) return std::nullopt;
    const Token& t = *code_tokens_[i];
    if (t.kind == TokenKind::kName && t.text == "chr" && is_op(i + 1, "(") && i + 3 < end &&
        code_tokens_[i + 2]->kind == TokenKind::kNumber && is_op(i + 3, ")")) {
      auto c = number(*code_tokens_[i + 2]);
      if (!c) return std::nullopt;
      i += 4;
      return std::string(1, static_cast<char>(*c));
    }
    if (t.kind == TokenKind::kName) {
      std::size_t chain = chain_end(i);
      if (is_op(chain, "(") && is_fold_name(code_tokens_[chain - 1]->text))
        if (auto value = folded_call(i, end)) return value;
      if (is_op(i + 1, "(")) return std::nullopt;
      if (is_op(chain, "[") && code_tokens_[chain - 1]->text == "environ" &&
          resolve(dotted(i, chain)) == "os.environ") {  // os.environ["HOME"]
        std::size_t close = matching_paren(chain);
        if (close < end && constant(chain + 1, close) == "HOME") {
          i = close + 1;
          return "~";
        }
        return std::nullopt;
      }
      if (is_op(i + 1, "[") && !constants_.count(t.text)) return element(i, end);
      auto it = constants_.find(t.text);
      if (it == constants_.end()) return std::nullopt;
      ++i;
      return it->second;
    }
    if (t.kind == TokenKind::kOp && t.text == "(") {  // a parenthesized constant
      std::size_t close = matching_paren(i);
      if (close >= end) return std::nullopt;
      auto inner = constant(i + 1, close);
      if (inner) i = close + 1;
      return inner;
    }
    if (t.kind != TokenKind::kString || t.from_fstring) return std::nullopt;
    std::string text;
    while (i < end && code_tokens_[i]->kind == TokenKind::kString &&
           !code_tokens_[i]->from_fstring) {
      // An f-string with a replacement field (its tokens follow it) is not
      // constant: f"{code}" is whatever code is.
      if (i + 1 < code_tokens_.size() && code_tokens_[i + 1]->from_fstring) return std::nullopt;
      text += python::string_value(*code_tokens_[i++]);  // "a" "b" is one literal
    }
    if (is_op(i, "%") && i + 1 < end) {
      std::vector<std::string> parts;
      if (is_op(i + 1, "(")) {
        std::size_t close = matching_paren(i + 1);
        if (close >= end) return std::nullopt;
        for (const auto& a : arguments(i + 1, close)) {
          auto part = constant(a.begin, a.end);
          if (!part) return std::nullopt;
          parts.push_back(*part);
        }
        i = close + 1;
      } else {
        ++i;
        auto part = constant_term(i, end);
        if (!part) return std::nullopt;
        parts.push_back(*part);
      }
      return substitute(text, parts, "%", "");
    }
    return text;
  }

  // `name[key]` at i of a name bound to a list or dict of constants.
  std::optional<std::string> element(std::size_t& i, std::size_t end) const {
    std::size_t close = matching_paren(i + 1);
    if (close >= end) return std::nullopt;
    std::optional<std::string> value;
    if (auto list = string_lists_.find(code_tokens_[i]->text); list != string_lists_.end()) {
      auto index = close == i + 3 ? number(*code_tokens_[i + 2]) : std::nullopt;
      if (index && *index >= 0 && static_cast<std::size_t>(*index) < list->second.size())
        value = list->second[static_cast<std::size_t>(*index)];
    } else if (auto dict = string_dicts_.find(code_tokens_[i]->text); dict != string_dicts_.end()) {
      if (auto key = constant(i + 2, close))
        if (auto item = dict->second.find(*key); item != dict->second.end()) value = item->second;
    }
    if (value) i = close + 1;
    return value;
  }

  // `separator.join(...)` with the call's parentheses at [open, close]: a
  // literal list or tuple of constants, `map(chr, numbers)`, or
  // `chr(v) for v in numbers` (bracketed or not, `v` maybe shifted or xored
  // by a constant), where numbers are a literal list or a name bound to one.
  std::optional<std::string> joined(const std::string& separator, std::size_t open,
                                    std::size_t close) const {
    auto parts = joined_parts(open, close);
    if (!parts) return std::nullopt;
    return joined_words(*parts, separator);
  }

  std::optional<std::vector<std::string>> joined_parts(std::size_t open, std::size_t close) const {
    std::size_t first = open + 1;
    if (auto items = string_list(first, close)) return items;
    if (is_name(first, "reversed") && is_op(first + 1, "(") &&
        matching_paren(first + 1) == close - 1) {  // reversed("...") or reversed([...])
      auto items = string_list(first + 2, close - 1);
      if (!items) {
        auto text = constant(first + 2, close - 1);
        if (!text) return std::nullopt;
        items.emplace();
        for (char c : *text) items->emplace_back(1, c);
      }
      std::reverse(items->begin(), items->end());
      return items;
    }
    std::vector<std::string> parts;
    bool bracketed = (is_op(first, "[") || is_op(first, "(")) && matching_paren(first) == close - 1;
    std::size_t begin = bracketed ? first : open, stop = bracketed ? close - 1 : close;
    if (is_name(begin + 1, "chr") && is_op(begin + 2, "(")) {
      if (auto chars = characters(begin + 1, stop)) {
        for (char c : *chars) parts.emplace_back(1, c);
        return parts;
      }
    }
    if (is_name(first, "map") && is_op(first + 1, "(") && is_name(first + 2, "chr") &&
        is_op(first + 3, ",") && matching_paren(first + 1) == close - 1) {
      auto codes = numbers(first + 4, close - 1);
      if (!codes) return std::nullopt;
      for (long c : *codes) parts.emplace_back(1, static_cast<char>(c));
      return parts;
    }
    return std::nullopt;
  }

  // The strings of a list or tuple of constants at [begin, end), of a name
  // bound to one, or of either reversed by [::-1].
  std::optional<std::vector<std::string>> string_list(std::size_t begin, std::size_t end) const {
    bool reversed = end >= begin + 7 && is_reversal(end - 6);
    if (reversed) end -= 6;
    std::optional<std::vector<std::string>> items;
    if (end == begin + 1 && code_tokens_[begin]->kind == TokenKind::kName) {
      auto it = string_lists_.find(code_tokens_[begin]->text);
      if (it == string_lists_.end()) return std::nullopt;
      items = it->second;
    } else if (end > begin && (is_op(begin, "[") || is_op(begin, "(")) &&
               matching_paren(begin) == end - 1) {
      items.emplace();
      for (const auto& a : arguments(begin, end - 1)) {
        auto item = a.keyword.empty() ? constant(a.begin, a.end) : std::nullopt;
        if (!item) return std::nullopt;
        items->push_back(*item);
      }
    }
    if (items && reversed) std::reverse(items->begin(), items->end());
    return items;
  }

  // The constant keys and values of a dict literal at [begin, end).
  std::optional<std::map<std::string, std::string, std::less<>>> string_dict(
      std::size_t begin, std::size_t end) const {
    if (!is_op(begin, "{") || matching_paren(begin) != end - 1) return std::nullopt;
    std::map<std::string, std::string, std::less<>> items;
    for (const auto& a : arguments(begin, end - 1)) {
      std::size_t colon = a.begin;
      while (colon < a.end && !is_op(colon, ":")) ++colon;
      auto key = colon < a.end ? constant(a.begin, colon) : std::nullopt;
      auto value = key ? constant(colon + 1, a.end) : std::nullopt;
      if (!value) return std::nullopt;
      items[*key] = *value;
    }
    return items;
  }

  // `chr(EXPR) for v in numbers` over [begin, end), EXPR being v, v+N, v-N,
  // v^N or N^v: the characters it makes.
  std::optional<std::string> characters(std::size_t begin, std::size_t end) const {
    std::size_t call_close = matching_paren(begin + 1);
    if (call_close >= end || !is_name(call_close + 1, "for") || !is_name(call_close + 3, "in") ||
        code_tokens_[call_close + 2]->kind != TokenKind::kName)
      return std::nullopt;
    std::string_view variable = code_tokens_[call_close + 2]->text;
    auto codes = numbers(call_close + 4, end);
    if (!codes) return std::nullopt;
    std::size_t e = begin + 2;  // the expression inside chr( )
    char op = 0;
    long operand = 0;
    if (call_close == e + 1 && is_name(e, variable)) {
    } else if (call_close == e + 3 && is_name(e, variable) &&
               code_tokens_[e + 1]->kind == TokenKind::kOp &&
               code_tokens_[e + 1]->text.size() == 1 && number(*code_tokens_[e + 2])) {
      op = code_tokens_[e + 1]->text[0];
      operand = *number(*code_tokens_[e + 2]);
    } else if (call_close == e + 3 && is_name(e + 2, variable) && is_op(e + 1, "^") &&
               number(*code_tokens_[e])) {
      op = '^';
      operand = *number(*code_tokens_[e]);
    } else {
      return std::nullopt;
    }
    std::string out;
    for (long c : *codes) {
      switch (op) {
        case 0: break;
        case '+': c += operand; break;
        case '-': c -= operand; break;
        case '^': c ^= operand; break;
        default: return std::nullopt;
      }
      out.push_back(static_cast<char>(c));
    }
    return out;
  }

  // The numbers of a literal list or tuple at [begin, end), or of a name
  // bound to one.
  std::optional<std::vector<long>> numbers(std::size_t begin, std::size_t end) const {
    if (end == begin + 1 && code_tokens_[begin]->kind == TokenKind::kName) {
      auto it = number_lists_.find(code_tokens_[begin]->text);
      if (it == number_lists_.end()) return std::nullopt;
      return it->second;
    }
    if (!(is_op(begin, "[") || is_op(begin, "(")) || matching_paren(begin) != end - 1)
      return std::nullopt;
    std::vector<long> out;
    for (std::size_t k = begin + 1; k < end - 1; ++k) {
      if (is_op(k, ",")) continue;
      auto n = number(*code_tokens_[k]);
      if (!n) return std::nullopt;
      out.push_back(*n);
    }
    return out;
  }

  static std::optional<long> number(const Token& t) {
    if (t.kind != TokenKind::kNumber) return std::nullopt;
    try {
      std::string digits(t.text);
      std::erase(digits, '_');
      return std::stol(digits, nullptr, digits.size() > 1 && digits[0] == '0' ? 0 : 10);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }

  // The last names of the calls folded_call() knows, to pass over every other
  // call without resolving it.
  static bool is_fold_name(std::string_view name) {
    static const NameSet names({"b64decode",
                                "standard_b64decode",
                                "urlsafe_b64decode",
                                "b32decode",
                                "b16decode",
                                "decodebytes",
                                "decodestring",
                                "a2b_base64",
                                "unhexlify",
                                "a2b_hex",
                                "fromhex",
                                "decode",
                                "encode",
                                "decompress",
                                "str",
                                "bytes",
                                "bytearray",
                                "join",
                                "expanduser",
                                "expandvars",
                                "abspath",
                                "realpath",
                                "normpath",
                                "Path",
                                "PurePath",
                                "PosixPath",
                                "PurePosixPath",
                                "home",
                                "getenv",
                                "get",
                                "getsitepackages",
                                "getusersitepackages",
                                "get_path",
                                "__import__",
                                "import_module"});
    return names.contains(name);
  }

  // The resolved name of the chain at i, read through a module imported by a
  // constant name on the way (`__import__("base64").b64decode` is
  // base64.b64decode); `end` is set past the chain.
  std::string callee(std::size_t i, std::size_t& end) const {
    std::string q = resolve(dotted(i, end));
    if (!kImportCalls.count(q) || !is_op(end, "(")) return q;
    std::size_t close = matching_paren(end);
    if (close >= code_tokens_.size() || !is_op(close + 1, ".")) return q;
    auto args = arguments(end, close);
    auto module = args.empty() ? std::nullopt : constant(args[0].begin, args[0].end);
    if (!module) return q;
    std::string name = same_module(*module);
    std::size_t k = close + 1;
    for (; is_op(k, ".") && k + 1 < code_tokens_.size() &&
           code_tokens_[k + 1]->kind == TokenKind::kName;
         k += 2)
      name += "." + std::string(code_tokens_[k + 1]->text);
    end = k;
    return name;
  }

  // A call at i that makes a constant of constants: a decoder, a path
  // builder, str()/bytes(). Advances `i` past it.
  std::optional<std::string> folded_call(std::size_t& i, std::size_t end) const {
    std::size_t open;
    std::string q = callee(i, open);
    if (!is_op(open, "(")) return std::nullopt;
    std::size_t close = matching_paren(open);
    if (close >= end) return std::nullopt;
    auto args = arguments(open, close);
    std::vector<std::string> values;
    for (const auto& a : args) {
      auto value = a.keyword.empty() ? constant(a.begin, a.end) : std::nullopt;
      values.push_back(value.value_or(""));
      if (!value && !(q == "bytes" || q == "bytearray")) return std::nullopt;
    }
    auto arg = [&](std::size_t n) { return n < values.size() ? values[n] : std::string(); };
    std::optional<std::string> out;
    std::string codec = arg(1);
    std::replace(codec.begin(), codec.end(), '-', '_');
    if (q == "base64.b64decode" || q == "base64.standard_b64decode" || q == "base64.decodebytes" ||
        q == "base64.decodestring" || q == "binascii.a2b_base64" ||
        (q == "codecs.decode" &&
         (codec == "base64" || codec == "base_64" || codec == "base64_codec")))
      out = python::base64_decode(arg(0), false);
    else if (q == "base64.urlsafe_b64decode")
      out = python::base64_decode(arg(0), true);
    else if (q == "base64.b32decode")
      out = python::base32_decode(arg(0));
    else if (q == "base64.b16decode" || q == "binascii.unhexlify" || q == "binascii.a2b_hex" ||
             q == "bytes.fromhex" || q == "bytearray.fromhex" ||
             (q == "codecs.decode" && (codec == "hex" || codec == "hex_codec")))
      out = python::hex_decode(arg(0));
    else if ((q == "codecs.decode" || q == "codecs.encode") &&
             (codec == "rot13" || codec == "rot_13"))
      out = python::rot13(arg(0));
    else if (q == "zlib.decompress" || q == "gzip.decompress" ||
             (q == "codecs.decode" && (codec == "zlib" || codec == "zlib_codec")))
      out = python::inflate(arg(0));
    else if (q == "codecs.decode" || q == "str")
      out = arg(0);
    else if (q == "bytes" || q == "bytearray") {
      if (args.size() == 1) {
        if (auto codes = numbers(args[0].begin, args[0].end)) {
          out.emplace();
          for (long c : *codes) out->push_back(static_cast<char>(c));
        }
      } else if (!values.empty() && !values[0].empty()) {
        out = arg(0);  // bytes("...", "utf-8")
      }
    } else if (q == "os.path.join" || q == "pathlib.Path" || q == "pathlib.PurePath" ||
               q == "pathlib.PosixPath" || q == "pathlib.PurePosixPath") {
      out.emplace();
      for (const auto& part : values)
        *out = part.starts_with("/") || out->empty() ? part : *out + "/" + part;
    } else if (q == "os.path.expanduser" || q == "os.path.expandvars" || q == "os.path.abspath" ||
               q == "os.path.realpath" || q == "os.path.normpath")
      out = arg(0);
    else if (q == "pathlib.Path.home" ||
             ((q == "os.getenv" || q == "os.environ.get") && arg(0) == "HOME"))
      out = "~";
    else if (q == "site.getsitepackages" || q == "site.getusersitepackages" ||
             (q == "sysconfig.get_path" && (arg(0) == "purelib" || arg(0) == "platlib")))
      out = "/site-packages";
    if (!out) return std::nullopt;
    i = close + 1;
    if (q == "site.getsitepackages" && i + 2 < end && is_op(i, "[") && is_op(i + 2, "]"))
      i += 3;  // [0]
    return out;
  }

  // Replaces each placeholder ("{...}" or "%s"-like) with the next part.
  static std::optional<std::string> substitute(const std::string& format,
                                               const std::vector<std::string>& parts,
                                               const char* open, const char* close) {
    std::string out;
    std::size_t next = 0;
    for (std::size_t k = 0; k < format.size(); ++k) {
      if (format.compare(k, 1, open) != 0) {
        out.push_back(format[k]);
        continue;
      }
      if (k + 1 < format.size() && format[k + 1] == open[0]) {  // "{{" or "%%"
        out.push_back(format[++k]);
        continue;
      }
      std::size_t stop = *close ? format.find(close, k) : std::min(k + 1, format.size() - 1);
      if (stop == std::string::npos || next >= parts.size()) return std::nullopt;
      out += parts[next++];
      k = stop;
    }
    return out;
  }

  // The closing bracket of the opening one at `open` (code_tokens_.size()
  // when it has none), as the constructor matched them.
  std::size_t matching_paren(std::size_t open) const {
    if (open < code_tokens_.size() && code_tokens_[open]->kind == TokenKind::kOp &&
        code_tokens_[open]->text.size() == 1 &&
        (code_tokens_[open]->text[0] == '(' || code_tokens_[open]->text[0] == '[' ||
         code_tokens_[open]->text[0] == '{'))
      return matches_[open] == kUnmatched ? code_tokens_.size() : matches_[open];
    int depth = 0;
    for (std::size_t i = open; i < code_tokens_.size(); ++i) {
      const Token& t = *code_tokens_[i];
      if (t.kind != TokenKind::kOp) continue;
      if (t.text == "(" || t.text == "[" || t.text == "{") ++depth;
      if (t.text == ")" || t.text == "]" || t.text == "}") {
        if (--depth == 0) return i;
      }
    }
    return code_tokens_.size();
  }

  std::vector<Argument> arguments(std::size_t open, std::size_t close) const {
    std::vector<Argument> args;
    std::size_t start = open + 1;
    int depth = 0;
    for (std::size_t i = open + 1; i <= close; ++i) {
      const Token& t = *code_tokens_[i];
      if (t.kind == TokenKind::kOp && (t.text == "(" || t.text == "[" || t.text == "{")) ++depth;
      if (t.kind == TokenKind::kOp && (t.text == ")" || t.text == "]" || t.text == "}")) --depth;
      if ((depth == 0 && t.kind == TokenKind::kOp && t.text == ",") || i == close) {
        if (i > start) {
          Argument a{start, i, ""};
          if (i - start >= 2 && code_tokens_[start]->kind == TokenKind::kName &&
              is_op(start + 1, "=")) {
            a.keyword = std::string(code_tokens_[start]->text);
            a.begin = start + 2;
          }
          args.push_back(a);
        }
        start = i + 1;
      }
    }
    return args;
  }

  void collect_bindings() {
    import_tokens_.assign(code_tokens_.size(), false);
    for (std::size_t i = 0; i < code_tokens_.size(); ++i) {
      bool statement_start = i == 0 || code_tokens_[i - 1]->kind == TokenKind::kNewline ||
                             is_op(i - 1, ";") || is_op(i - 1, ":");
      if (!statement_start) continue;
      if (is_name(i, "def") || (is_name(i, "async") && is_name(i + 1, "def")))
        defs_.push_back(is_name(i, "def") ? i : i + 1);
      if (is_name(i, "import") || is_name(i, "from"))
        for (std::size_t j = i; j < code_tokens_.size() &&
                                code_tokens_[j]->kind != TokenKind::kNewline && !is_op(j, ";");
             ++j)
          import_tokens_[j] = true;
      if (is_name(i, "import")) {
        for (std::size_t j = i + 1;
             j < code_tokens_.size() && code_tokens_[j]->kind != TokenKind::kNewline;) {
          if (code_tokens_[j]->kind != TokenKind::kName) {
            ++j;
            continue;
          }
          std::size_t end;
          std::string module = dotted(j, end);
          note_import(module, *code_tokens_[j]);
          std::string top = module.substr(0, module.find('.'));
          if (is_name(end, "as") && end + 1 < code_tokens_.size()) {
            alias(std::string(code_tokens_[end + 1]->text), module);
            end += 2;
          } else {
            alias(top, top);
          }
          j = end;
        }
      } else if (is_name(i, "from") && i + 1 < code_tokens_.size() &&
                 code_tokens_[i + 1]->kind == TokenKind::kName) {
        std::size_t end;
        std::string module = dotted(i + 1, end);
        if (!is_name(end, "import")) continue;
        note_import(module, *code_tokens_[i + 1]);
        for (std::size_t j = end + 1;
             j < code_tokens_.size() && code_tokens_[j]->kind != TokenKind::kNewline; ++j) {
          if (is_op(j, "*")) star_imports_.insert(module);
          if (code_tokens_[j]->kind != TokenKind::kName) continue;
          std::string name(code_tokens_[j]->text);
          if (is_name(j + 1, "as") && j + 2 < code_tokens_.size()) {
            alias(std::string(code_tokens_[j + 2]->text), module + "." + name);
            j += 2;
          } else {
            alias(name, module + "." + name);
          }
        }
      } else if (code_tokens_[i]->kind == TokenKind::kName &&
                 (is_op(i + 1, "=") || is_op(i + 1, ","))) {
        collect_assignment(i);
      } else if (code_tokens_[i]->kind == TokenKind::kName && i + 1 < code_tokens_.size() &&
                 code_tokens_[i + 1]->kind == TokenKind::kOp &&
                 code_tokens_[i + 1]->text.size() >= 2 && code_tokens_[i + 1]->text.back() == '=' &&
                 code_tokens_[i + 1]->text != "==" && code_tokens_[i + 1]->text != "!=" &&
                 code_tokens_[i + 1]->text != "<=" && code_tokens_[i + 1]->text != ">=") {
        collect_augmented_assignment(i);
      } else if (code_tokens_[i]->kind == TokenKind::kName) {
        collect_namespace_assignment(i);
      }
    }
    collect_wrappers();
  }

  // The index past the simple statement at i: its NEWLINE or `;`.
  std::size_t statement_end(std::size_t i) const {
    while (i < code_tokens_.size() && code_tokens_[i]->kind != TokenKind::kNewline &&
           !is_op(i, ";"))
      ++i;
    return i;
  }

  // `a = b = value` and `a, b = x, y` at statement start i: constants,
  // aliases of modules and functions, decoded data, connections.
  void collect_assignment(std::size_t i) {
    std::size_t end = statement_end(i);
    if (is_op(i + 1, "=") && !is_op(i + 3, "=") && !is_op(i + 3, ",")) {  // x = value: most of them
      if (i + 2 < end) bind(std::string(code_tokens_[i]->text), i + 2, end);
      return;
    }
    std::vector<std::vector<std::string>> targets;  // one list per `=`
    std::size_t value = i;
    for (;;) {
      std::vector<std::string> names;
      std::size_t k = value;
      while (k < end && code_tokens_[k]->kind == TokenKind::kName) {
        names.emplace_back(code_tokens_[k]->text);
        if (!is_op(k + 1, ",")) {
          ++k;
          break;
        }
        k += 2;
      }
      if (names.empty() || !is_op(k, "=")) break;
      targets.push_back(std::move(names));
      value = k + 1;
    }
    if (targets.empty() || value >= end) return;
    std::vector<Argument> values = {Argument{value, end, ""}};
    bool tuple = false;
    for (const auto& names : targets) tuple |= names.size() > 1;
    if (tuple) {  // x, y = a, b  or  x, y = (a, b)
      std::size_t open = value - 1, close = end;
      if ((is_op(value, "(") || is_op(value, "[")) && matching_paren(value) == end - 1) {
        open = value;
        close = end - 1;
      }
      values = arguments(open, close);
    }
    for (const auto& names : targets) {
      if (names.size() == 1 && !tuple) {
        bind(names[0], value, end);
      } else if (names.size() == values.size()) {
        for (std::size_t n = 0; n < names.size(); ++n)
          bind(names[n], values[n].begin, values[n].end);
      }
    }
  }

  // `s += "..."` at i: a string built up in pieces is the pieces joined, in
  // the order of the program (a piece added in a loop or a branch counts
  // once: enough to see what the string can run). Any other change of a
  // constant makes it a variable.
  void collect_augmented_assignment(std::size_t i) {
    std::size_t end = statement_end(i);
    auto known = constants_.find(code_tokens_[i]->text);
    if (known == constants_.end()) return;
    auto piece = is_op(i + 1, "+=") ? constant(i + 2, end) : std::nullopt;
    if (piece)
      known->second += *piece;
    else
      constants_.erase(known);  // its value is not known any more
  }

  // A statement at i that puts a value into a namespace under a constant
  // name: `sys.modules["json"] = os` makes json os; `globals()["f"] = x`,
  // `builtins.print = x`, `__builtins__["print"] = x` and
  // `setattr(builtins, "print", x)` make the name x; `sys.breakpointhook = x`
  // and `os.environ["PYTHONBREAKPOINT"] = "x"` make breakpoint x.
  void collect_namespace_assignment(std::size_t i) {
    std::size_t chain = chain_end(i);
    bool calls_setattr = is_name(i, "setattr") && is_op(i + 1, "(");
    bool subscript =
        is_op(chain, "[") || (is_op(chain, "(") && is_op(chain + 1, ")") && is_op(chain + 2, "["));
    bool attribute = chain == i + 3 && is_op(chain, "=");
    if (!calls_setattr && !subscript && !attribute) return;  // most statements: cheaply
    std::string_view head = code_tokens_[i]->text;
    if (!calls_setattr && !alias_shapes_.may_contain(head) && head != "__builtins__" &&
        head != "globals" && head != "locals" && head != "vars")
      return;  // self.x = ..., d[k] = ...: not a namespace a rule follows
    std::size_t end = statement_end(i);
    if (calls_setattr && matching_paren(i + 1) + 1 == end) {
      auto args = arguments(i + 1, end - 1);
      if (args.size() != 3 || value_of(args[0]) != "builtins") return;
      if (auto name = constant(args[1].begin, args[1].end)) bind_value(*name, args[2]);
      return;
    }
    std::string target = resolve(dotted(i, chain));
    std::size_t equals = chain;
    std::optional<std::string> key;
    if (is_op(chain, "(") && is_op(chain + 1, ")") &&
        (target == "globals" || target == "locals" || target == "vars")) {
      target = "";  // the program's own names
      chain += 2;
    }
    if (is_op(chain, "[")) {
      std::size_t close = matching_paren(chain);
      if (close >= end) return;
      key = constant(chain + 1, close);
      equals = close + 1;
    } else if (attribute && resolve(std::string(code_tokens_[i]->text)) == "builtins") {
      key = std::string(code_tokens_[i + 2]->text);  // builtins.print = ...
      target = "builtins";
    } else if (attribute && target == "sys.breakpointhook") {
      key = "breakpoint";  // breakpoint(...) calls the hook
      target = "builtins";
    }
    if (!key || !is_op(equals, "=") || equals + 1 >= end) return;
    Argument value{equals + 1, end, ""};
    if (target == "sys.modules") {
      std::string module = value_of(value);
      if (!module.empty() && module != *key) replaced_modules_[*key] = module;
    } else if (target == "os.environ" && *key == "PYTHONBREAKPOINT") {
      // breakpoint(...) calls the function the variable names
      if (auto hook = constant(value.begin, value.end)) {
        std::replace(hook->begin(), hook->end(), ':', '.');
        alias("breakpoint", same_module(*hook));
      }
    } else if (target.empty() || target == "builtins" || target == "builtins.__dict__") {
      bind_value(*key, value);
    }
  }

  // `name` is bound to the followable value of `value` (a module, a function).
  void bind_value(const std::string& name, const Argument& value) {
    std::string q = value_of(value);
    if (!q.empty()) alias(name, q);
  }

  void bind(const std::string& target, std::size_t begin, std::size_t end) {
    if (begin >= end) return;
    if (auto value = constant(begin, end)) {
      constants_[target] = *value;
      if (args_have_decoder(begin, end)) decoded_names_.insert(target);
      for (std::size_t k = begin; k < end; ++k)
        if (code_tokens_[k]->text == "Path" || code_tokens_[k]->text == "PosixPath" ||
            path_names_.count(code_tokens_[k]->text))
          path_names_.insert(target);
      return;
    }
    if (auto codes = numbers(begin, end)) {
      number_lists_[target] = std::move(*codes);
      return;
    }
    if (auto items = string_list(begin, end)) {
      string_lists_[target] = std::move(*items);
      return;
    }
    if (auto items = string_dict(begin, end)) {
      string_dicts_[target] = std::move(*items);
      return;
    }
    if (is_name(begin, "lambda")) {
      std::size_t colon = begin + 1;
      while (colon < end && !is_op(colon, ":")) ++colon;
      note_wrapper(target, begin + 1, colon, colon + 1, end);
      return;
    }
    if (code_tokens_[begin]->kind != TokenKind::kName) return;
    std::size_t chain = chain_end(begin);
    if (!worth_resolving(begin, chain)) return;  // nothing a rule could tell from it
    std::size_t followed;
    std::string q = follow(begin, followed, false);
    if (followed == end && !q.empty()) alias(target, q);
    std::size_t chain_end;
    std::string callee = resolve(dotted(begin, chain_end));
    if (is_op(chain_end, "(") && matching_paren(chain_end) + 1 == end &&
        kInstanceClasses.count(callee))
      alias(target, callee);  // console = code.InteractiveConsole(): console.push is its push
    if (is_op(chain_end, "(") && kDecoders.count(callee)) decoded_names_.insert(target);
    if (is_op(chain_end, "(") && kNetworkCalls.count(callee)) network_objects_.insert(target);
  }

  // `def name(params):` whose body hands a parameter to a command or code
  // runner is that runner under another name (as is `name = lambda params:
  // runner(...)`): a call of it is checked as the runner's call, with its
  // arguments (`run("rm -rf /")`).
  void collect_wrappers() {
    for (std::size_t i : defs_) {
      if (i + 2 >= code_tokens_.size() || code_tokens_[i + 1]->kind != TokenKind::kName ||
          !is_op(i + 2, "("))
        continue;
      std::size_t params_close = matching_paren(i + 2);
      std::size_t colon = params_close;
      while (colon < code_tokens_.size() && !is_op(colon, ":") &&
             code_tokens_[colon]->kind != TokenKind::kNewline)
        ++colon;
      if (!is_op(colon, ":")) continue;
      std::size_t body_end = colon + 1;
      if (body_end < code_tokens_.size() && code_tokens_[body_end]->kind == TokenKind::kNewline) {
        int def_column = code_tokens_[i]->column;
        for (++body_end; body_end < code_tokens_.size(); ++body_end)
          if (code_tokens_[body_end - 1]->kind == TokenKind::kNewline &&
              code_tokens_[body_end]->column <= def_column)
            break;
      } else {
        while (body_end < code_tokens_.size() &&
               code_tokens_[body_end]->kind != TokenKind::kNewline)
          ++body_end;
      }
      note_wrapper(std::string(code_tokens_[i + 1]->text), i + 3, params_close, colon + 1,
                   body_end);
    }
  }

  // `target` wraps the first runner called in the body [body, body_end)
  // with one of the parameter names found in [params, params_end).
  void note_wrapper(const std::string& target, std::size_t params, std::size_t params_end,
                    std::size_t body, std::size_t body_end) {
    std::vector<std::string_view> names;
    for (std::size_t k = params; k < params_end; ++k)
      if (code_tokens_[k]->kind == TokenKind::kName && (k == params || !is_op(k - 1, "=")))
        names.push_back(code_tokens_[k]->text);
    for (std::size_t k = body; k < body_end; ++k) {
      if (code_tokens_[k]->kind != TokenKind::kName || (k > body && is_op(k - 1, "."))) continue;
      std::size_t open = chain_end(k);
      if (!is_op(open, "(") || !worth_resolving(k, open)) continue;
      std::string q = resolve(dotted(k, open));
      if (!is_op(open, "(") || !is_runner(q)) continue;
      std::size_t close = std::min(matching_paren(open), body_end);
      bool passes_parameter = false, shell = false;
      for (std::size_t a = open + 1; a < close; ++a) {
        passes_parameter |=
            code_tokens_[a]->kind == TokenKind::kName && !is_op(a + 1, "=") &&
            std::find(names.begin(), names.end(), code_tokens_[a]->text) != names.end();
        shell |= is_name(a, "shell") && is_op(a + 1, "=") && is_truthy_constant(a + 2);
      }
      if (!passes_parameter) continue;
      bool method = !names.empty() && (names[0] == "self" || names[0] == "cls");
      wrappers_[target] = {q, shell, method};
      return;
    }
  }

  // Calls of the wrappers collect_wrappers() found.
  void check_wrapper_calls() {
    if (wrappers_.empty()) return;
    for (std::size_t i = 0; i < code_tokens_.size(); ++i) {
      if (code_tokens_[i]->kind != TokenKind::kName || !is_op(i + 1, "(") ||
          (i > 0 && is_name(i - 1, "def")))
        continue;
      auto it = wrappers_.find(code_tokens_[i]->text);
      if (it == wrappers_.end() || (i > 0 && is_op(i - 1, ".") && !it->second.method)) continue;
      std::size_t close = matching_paren(i + 1);
      if (close >= code_tokens_.size()) continue;
      const Token& at = *code_tokens_[i];
      auto args = arguments(i + 1, close);
      check_qualified(it->second.runner, at, args, i + 1, close);
      if (it->second.shell) {
        add(kShellCommand, at, it->second.runner + " through " + std::string(at.text));
        check_command_strings(args, at);
      }
    }
  }

  // Line `number` (1-based) of the code, without its line break.
  std::optional<std::string_view> source_line(int number) const {
    std::size_t start = 0;
    for (int n = 1; n < number; ++n) {
      start = code_.find('\n', start);
      if (start == std::string_view::npos) return std::nullopt;
      ++start;
    }
    if (number < 1 || start > code_.size()) return std::nullopt;
    std::size_t end = code_.find('\n', start);
    return code_.substr(start, end == std::string_view::npos ? end : end - start);
  }

  // A string literal names a credential or secret file (.ssh/, id_rsa, ...).
  bool names_secret_file() const {
    for (const Token* t : code_tokens_)
      if (t->kind == TokenKind::kString && contains_any(t->text, kSensitive)) return true;
    return false;
  }

  // Token i is `environ` of os (os.environ, or `from os import environ`).
  bool is_environment(std::size_t i) const {
    if (i >= 2 && is_op(i - 1, ".") && code_tokens_[i - 2]->kind == TokenKind::kName)
      return resolve(std::string(code_tokens_[i - 2]->text)) == "os";
    return (i == 0 || !is_op(i - 1, ".")) && resolve("environ") == "os.environ";
  }

  // Methods of pathlib paths that write, move or delete the file (and open).
  static bool is_path_method(std::string_view name) {
    static const NameSet names = [] {
      std::unordered_set<std::string_view> n(kPathWrites.begin(), kPathWrites.end());
      n.insert("open");
      return NameSet(std::move(n));
    }();
    return names.contains(name);
  }

  // Whether `q` runs a command or code when called.
  static bool is_runner(std::string_view q) {
    static const auto names =
        name_set({&kShellCalls, &kCodeExecCalls, &kSubprocessCalls, &kDeserializers}, {});
    return names.count(q) || is_process_exec(q);
  }

  static bool is_process_exec(std::string_view q) {
    std::string_view function;
    if (q.starts_with("os."))
      function = q.substr(3);
    else if (q.starts_with(kNativeLibrary) && q.substr(kNativeLibrary.size()).starts_with("."))
      function = q.substr(kNativeLibrary.size() + 1);  // C's execve
    return is_exec_family(function);
  }

  // The names of `tables` and `extra` together, for one hash lookup.
  static std::unordered_set<std::string_view> name_set(
      std::initializer_list<const std::set<std::string>*> tables,
      std::initializer_list<std::string_view> extra) {
    std::unordered_set<std::string_view> names(extra);
    for (const auto* table : tables)
      for (const std::string& name : *table) names.insert(name);
    return names;
  }

  // A command or code runner named without being called (`os.system` handed
  // to pickle's __reduce__, to map(), to a thread, kept in a dict): the call
  // happens where no call site shows it, so it counts as the call itself,
  // with the strings of its statement as its arguments.
  void check_reference(std::size_t i, const std::string& q) {
    if (import_tokens_[i] || (i > 0 && (is_name(i - 1, "def") || is_name(i - 1, "class")))) return;
    if (!is_runner(q)) return;
    callable_references_.push_back(code_tokens_[i]);
    std::size_t begin = i, end = i;
    while (begin > 0 && code_tokens_[begin - 1]->kind != TokenKind::kNewline) --begin;
    while (end < code_tokens_.size() && code_tokens_[end]->kind != TokenKind::kNewline) ++end;
    check_qualified(q, *code_tokens_[i], {Argument{begin, end, ""}}, begin, end);
  }

  // Names that matter wherever they appear; dispatched on the first byte,
  // since nearly every name in a program is none of them.
  void check_name(std::size_t i) {
    const Token& t = *code_tokens_[i];
    std::string_view w = t.text;
    bool attribute = i > 0 && is_op(i - 1, ".");
    if (attribute && is_op(i + 1, "(") && is_path_method(w)) check_path_method(i);
    switch (w[0]) {
      case '_':
        if (w == "__builtins__") add(kBuiltinsAccess, t);
        if (attribute &&
            (w == "__subclasses__" || w == "__globals__" || w == "__code__" || w == "__closure__" ||
             w == "__mro__" || w == "__bases__" || w == "__base__"))
          add(kDunderWalk, t, std::string(w));
        if ((w == "__reduce__" || w == "__reduce_ex__") && i > 0 && is_name(i - 1, "def"))
          defines_reduce_ = true;
        break;
      case 'f':
        if (attribute && w == "f_globals") add(kDunderWalk, t, std::string(w));
        if (w == "for" && iterates_forever(i)) has_endless_loop_ = true;
        break;
      case 'g':
        if (attribute && w == "gi_frame") add(kDunderWalk, t, std::string(w));
        break;
      case 'S':
      case 'A':
      case 'I':
        if (w == "SOCK_RAW" || w == "AF_PACKET" || w == "IPPROTO_RAW") add(kRawSocket, t);
        break;
      case 'e':
        if (w == "environ" && is_environment(i) && !is_op(i + 1, "[") &&
            !(is_op(i + 1, ".") &&
              (is_name(i + 2, "get") || is_name(i + 2, "setdefault") || is_name(i + 2, "pop"))))
          environment_dump_ = true;  // the whole of os.environ, not one variable
        break;
      case 'w':
        if (w == "while" && is_truthy_constant(i + 1) && is_op(i + 2, ":"))
          has_endless_loop_ = true;  // while True, while 1, while "x"
        break;
      default: break;
    }
  }

  // Token i is a constant that is always true: True, a non-zero number, a
  // non-empty string.
  bool is_truthy_constant(std::size_t i) const {
    if (i >= code_tokens_.size()) return false;
    const Token& t = *code_tokens_[i];
    if (t.kind == TokenKind::kName) return t.text == "True";
    if (t.kind == TokenKind::kNumber)
      return t.text.find_first_not_of("0._xXoObBjJ") != std::string_view::npos;
    return t.kind == TokenKind::kString && !t.from_fstring && !python::string_value(t).empty();
  }

  // `for x in <an endless iterator>:` at i: itertools.count(), cycle(),
  // repeat(x) without a count, iter(f, sentinel).
  bool iterates_forever(std::size_t i) const {
    std::size_t k = i + 1;
    while (k < code_tokens_.size() && !is_name(k, "in") &&
           code_tokens_[k]->kind != TokenKind::kNewline)
      ++k;
    if (!is_name(k, "in") || k + 1 >= code_tokens_.size() ||
        code_tokens_[k + 1]->kind != TokenKind::kName)
      return false;
    std::size_t open;
    std::string q = resolve(dotted(k + 1, open));
    if (!is_op(open, "(")) return false;
    std::size_t close = matching_paren(open);
    if (close >= code_tokens_.size()) return false;
    std::size_t args = arguments(open, close).size();
    return q == "itertools.count" || q == "itertools.cycle" ||
           (q == "itertools.repeat" && args == 1) || (q == "iter" && args == 2);
  }

  bool args_have_decoder(std::size_t begin, std::size_t end) const {
    for (std::size_t j = begin; j < end; ++j) {
      if (code_tokens_[j]->kind != TokenKind::kName || (j > begin && is_op(j - 1, "."))) continue;
      std::size_t chain_end;
      std::string q = callee(j, chain_end);
      if (kDecoders.count(q) && is_op(chain_end, "(")) return true;
      if (decoded_names_.count(std::string(code_tokens_[j]->text))) return true;
      if (is_op(j + 1, "[") && is_op(j + 2, ":") && is_op(j + 3, ":")) return true;  // s[::-1]
    }
    for (std::size_t j = begin; j + 2 < end; ++j)  // "..."[::-1] on a literal
      if (is_op(j, "[") && is_op(j + 1, ":") && is_op(j + 2, ":")) return true;
    return false;
  }

  // A file written at `path`: a system path, a file that runs code later.
  // Returns whether either was reported.
  bool check_written_path(const std::string& path, const Token& at, const std::string& detail) {
    bool reported = false;
    if (is_persistence_path(path)) reported |= add(kPersistence, at, detail);
    if (is_system_path(path)) reported |= add(kSystemPathWrite, at, detail);
    return reported;
  }

  // A method of a path at i (`.write_text` of `Path.home() / ".bashrc"`, of
  // `(Path("/usr") / "bin")`, of a name bound to a path), followed by its
  // call: the path is the receiver's constant value.
  void check_path_method(std::size_t i) {
    std::size_t dot = i - 1, begin = dot;
    for (int depth = 0; begin > 0; --begin) {  // back to the start of the receiver
      const Token& t = *code_tokens_[begin - 1];
      if (t.kind == TokenKind::kNewline) break;
      if (t.kind == TokenKind::kOp) {
        if (t.text == ")" || t.text == "]")
          ++depth;
        else if (t.text == "(" || t.text == "[") {
          if (depth == 0) break;
          --depth;
        } else if (depth == 0 && t.text != ".") {
          break;
        }
        continue;
      }
      if (depth == 0 && begin < dot && code_tokens_[begin]->kind != TokenKind::kOp) break;
    }
    if (begin == dot) return;
    auto path = constant(begin, dot);
    if (!path) return;
    bool is_path = false;  // str has .replace too: only a path's counts
    for (std::size_t k = begin; k < dot && !is_path; ++k)
      is_path = code_tokens_[k]->text == "Path" || code_tokens_[k]->text == "PosixPath" ||
                path_names_.count(code_tokens_[k]->text);
    std::string method(code_tokens_[i]->text);
    const Token& at = *code_tokens_[begin];
    std::string detail = *path + " ." + method + "()";
    std::size_t close = matching_paren(i + 1);
    auto args = close < code_tokens_.size() ? arguments(i + 1, close) : std::vector<Argument>{};
    if (method == "open") {
      std::string mode = args.empty() ? "r" : constant(args[0].begin, args[0].end).value_or("r");
      if (is_path && mode.find_first_of("wax+") != std::string::npos)
        check_written_path(*path, at, detail);
      return;
    }
    if (!kPathWrites.count(method) || (method == "replace" && !is_path)) return;
    if (is_system_path(*path)) add(kSystemPathWrite, at, detail);
    bool writes_content = method == "write_text" || method == "write_bytes" ||
                          method == "symlink_to" || method == "hardlink_to";
    if (writes_content && is_persistence_path(*path)) add(kPersistence, at, detail);
    if ((method == "rename" || method == "replace") && !args.empty())
      if (auto to = constant(args[0].begin, args[0].end); to && is_persistence_path(*to))
        add(kPersistence, at, *path + " ." + method + "(" + *to + ")");
  }

  // A process started by `q` without a shell: as dangerous as the command
  // it runs, so starting `rm -rf /` or `sh -c ...` from an argv list is
  // critical, like the same command given to a shell.
  void start_process(RuleIndex rule, const std::string& q, const Token& at,
                     const std::vector<Argument>& args) {
    bool added = add(rule, at, q);
    std::size_t index = findings_.size() - 1;  // the process's finding, when added
    if (check_command_strings(args, at) && added && rule != kShellCommand)
      findings_[index].severity = Severity::kCritical;
  }

  // The command a runner is given, as the shell or exec will see it: each
  // argument's constant value (`"r" "m -rf /"`, `"rm" + " -rf /"`), an argv
  // list joined by spaces (`["rm", "-rf", "/"]`), the positional arguments
  // of os.spawnl/execl joined, and every string and constant name inside.
  // Returns whether the command destroys data, plants code or runs a shell
  // script.
  bool check_command_strings(const std::vector<Argument>& args, const Token& at) {
    std::vector<std::string> texts, positional;
    for (const auto& a : args) {
      if (auto value = constant(a.begin, a.end)) {
        texts.push_back(*value);
        if (a.keyword.empty()) positional.push_back(*value);
      } else if (auto argv = string_list(a.begin, a.end)) {
        texts.push_back(joined_words(*argv));
      }
      for (std::size_t j = a.begin; j < a.end; ++j) {
        const Token& t = *code_tokens_[j];
        if (t.kind == TokenKind::kString) texts.push_back(python::string_value(t));
        if (t.kind == TokenKind::kName)
          if (auto it = constants_.find(t.text); it != constants_.end())
            texts.push_back(it->second);
      }
    }
    if (positional.size() > 1) texts.push_back(joined_words(positional));
    bool dangerous = false;
    for (const std::string& text : texts) {
      if (text.empty()) continue;
      std::string shown = text.substr(0, 80);
      if (is_destructive_command(text)) {
        add(kDestructiveCommand, at, shown);
        dangerous = true;
      }
      if (contains_any(text, kPrivilegeWords) || text.rfind("sudo", 0) == 0)
        add(kPrivilege, at, shown);
      if (command_plants_code(text)) {
        add(kPersistence, at, shown);
        dangerous = true;
      }
      if (runs_shell_script(text)) {
        add(kShellCommand, at, "a shell given a script: " + shown);
        dangerous = true;
      }
    }
    return dangerous;
  }

  // `words` with `separator` between them, as str.join makes them.
  static std::string joined_words(const std::vector<std::string>& words,
                                  const std::string& separator = " ") {
    std::string out;
    for (std::size_t k = 0; k < words.size(); ++k) out += (k ? separator : "") + words[k];
    return out;
  }

  // Follows the expression that starts with the name at i through
  // attributes, calls and subscripts as far as the rules can tell what its
  // value is: a module, a function, or a namespace (`sys.modules`,
  // `os.__dict__`, `vars(os)`, `globals()`, `__builtins__`) read with a
  // constant key. `__import__("os")` is the module os, `getattr(os, "sys" +
  // "tem")` is os.system, `functools.partial(f, ...)` calls f,
  // `operator.methodcaller("system", c)(os)` calls os.system, and
  // `f.__call__` is f. With `report`, every call on the way is checked.
  // Returns the resolved name of the value it ends with ("" when unknown)
  // and sets `end` past what it followed.
  std::string follow(std::size_t i, std::size_t& end, bool report) {
    // Only an argument followed from inside another follow() is asked about
    // again (by each enclosing call): those answers are kept.
    if (report || nesting_ == 0) return follow_uncached(i, end, report);
    if (auto it = followed_.find(i); it != followed_.end()) {  // an argument seen before
      end = it->second.second;
      return it->second.first;
    }
    bool outer_cut_short = cut_short_;
    cut_short_ = false;
    std::string q = follow_uncached(i, end, false);
    if (!cut_short_) followed_[i] = {q, end};
    cut_short_ |= outer_cut_short;
    return q;
  }

  std::string follow_uncached(std::size_t i, std::size_t& end, bool report) {
    Nesting nesting(nesting_);
    if (nesting.too_deep()) {
      cut_short_ = true;
      end = i + 1;
      return "";
    }
    const Token& at = *code_tokens_[i];
    std::string q = resolve(dotted(i, end));
    for (std::size_t k = i + 2; k < end; k += 2)  // os.__dict__.get(...): the namespace first
      if (code_tokens_[k]->text == "__dict__") {
        std::size_t prefix_end;
        q = resolve(dotted(i, prefix_end));
        if (std::size_t at_dict = q.find(".__dict__"); at_dict != std::string::npos)
          q.resize(at_dict + 9);
        end = k + 1;
        break;
      }
    bool mapping = false;  // q's namespace: q["name"] is q.name ("" : names of the program)
    auto enter_namespace = [&] {
      if (q.size() > 9 && q.ends_with(".__dict__")) {
        q.resize(q.size() - 9);
        mapping = true;
      } else if (q == "sys.modules" || q == "builtins") {
        if (q == "sys.modules") q.clear();
        mapping = is_op(end, "[");
      }
    };
    enter_namespace();
    std::string method;     // operator.methodcaller("name", ...) waiting for its object
    std::string attribute;  // operator.attrgetter("name") waiting for its object
    std::vector<Argument> method_args;
    std::size_t method_open = 0, method_close = 0;
    for (int steps = 0; steps < 64; ++steps) {
      if (is_op(end, "[") && mapping) {
        std::size_t close = matching_paren(end);
        if (close >= code_tokens_.size()) break;
        auto key = constant(end + 1, close);
        if (!key) {
          if (report) add(kComputedAttribute, at, (q.empty() ? "a namespace" : q) + "[...]");
          break;
        }
        if (report) check_dangerous_name(*key, at, "'" + *key + "'");
        q = q.empty() ? resolve(*key) : bare_builtin(q + "." + *key);
        mapping = false;
        end = close + 1;
        enter_namespace();
        continue;
      }
      if (is_op(end, ".") && end + 1 < code_tokens_.size() &&
          code_tokens_[end + 1]->kind == TokenKind::kName) {
        std::string_view name = code_tokens_[end + 1]->text;
        if (mapping ? name != "get" : q.empty()) break;
        end += 2;
        if (name == "__call__") continue;
        if (name == "__dict__") {
          mapping = true;
          continue;
        }
        if (mapping && is_op(end, "(")) {  // os.__dict__.get("system") is os.__dict__["system"]
          std::size_t close = matching_paren(end);
          auto args = close < code_tokens_.size() ? arguments(end, close) : std::vector<Argument>{};
          auto key = args.empty() ? std::nullopt : constant(args[0].begin, args[0].end);
          if (!key) break;
          q = q.empty() ? resolve(*key) : bare_builtin(q + "." + *key);
          mapping = false;
          end = close + 1;
          continue;
        }
        q = bare_builtin(q + "." + std::string(name));
        if (q.starts_with("ctypes.cdll.") || q.starts_with("ctypes.pydll."))
          if (name != "LoadLibrary") q = kNativeLibrary;  // ctypes.cdll.libc
        enter_namespace();
        continue;
      }
      if (!is_op(end, "(")) break;
      std::size_t open = end, close = matching_paren(open);
      if (close >= code_tokens_.size()) break;  // unterminated call: nothing to read
      auto args = arguments(open, close);
      end = close + 1;
      if (!attribute.empty()) {  // attrgetter("system")(os) is os.system
        q = args.size() == 1 ? value_of(args[0]) : "";
        if (q.empty()) break;
        q = bare_builtin(q + "." + attribute);
        attribute.clear();
        enter_namespace();
        continue;
      }
      if (!method.empty()) {  // methodcaller("system", cmd)(os)
        std::string object = args.size() == 1 ? value_of(args[0]) : "";
        if (object.empty()) break;
        q = bare_builtin(object + "." + method);
        if (report) check_call(q, at, method_args, method_open, method_close);
        break;
      }
      if ((q == "globals" || q == "locals" || q == "vars") && args.empty()) {
        q.clear();  // the program's own names
        mapping = true;
        continue;
      }
      if (q == "vars" && args.size() == 1) {
        q = value_of(args[0]);
        if (q.empty()) break;
        mapping = true;
        continue;
      }
      if (q.empty()) break;
      if (report) check_call(q, at, args, open, close);
      std::string called = q;
      CallKind kind = call_kind(called);
      q.clear();
      if (kind == CallKind::kImport && !args.empty()) {
        if (auto module = constant(args[0].begin, args[0].end)) q = same_module(*module);
      } else if (auto lookup = attribute_lookup(called, args)) {
        auto name = constant(lookup->name->begin, lookup->name->end);
        if (name && !lookup->object.empty()) q = bare_builtin(lookup->object + "." + *name);
      } else if (kind == CallKind::kNameResolver && !args.empty()) {
        if (auto name = constant(args[0].begin, args[0].end)) {  // "os:system", "os.system"
          std::replace(name->begin(), name->end(), ':', '.');
          q = resolve(*name);
        }
      } else if (kind == CallKind::kLibraryLoader) {
        q = kNativeLibrary;
      } else if (called == "operator.attrgetter" && !args.empty()) {
        if (auto name = constant(args[0].begin, args[0].end)) {  // attrgetter("system")(os)
          attribute = *name;
          if (report) check_dangerous_name(attribute, at, "attrgetter('" + attribute + "')");
          continue;
        }
      } else if (called == "functools.partial" && !args.empty()) {
        q = value_of(args[0]);  // calling the partial calls q
        if (report && !q.empty())
          check_call(q, at, std::vector<Argument>(args.begin() + 1, args.end()), open, close);
      } else if (called == "operator.methodcaller" && !args.empty()) {
        if (auto name = constant(args[0].begin, args[0].end)) {
          method = *name;
          method_args.assign(args.begin() + 1, args.end());
          method_open = open;
          method_close = close;
          if (report) check_dangerous_name(method, at, "methodcaller('" + method + "')");
          continue;
        }
      }
      if (q.empty()) break;
      enter_namespace();
    }
    return method.empty() ? q : "";
  }

  // The resolved name of an argument that is a followable expression and
  // nothing more (`os`, `sys.modules["os"]`, `__import__("os")`), or "".
  std::string value_of(const Argument& a) {
    if (!a.keyword.empty() || a.begin >= a.end || code_tokens_[a.begin]->kind != TokenKind::kName)
      return "";
    std::size_t end;
    std::string q = follow(a.begin, end, false);
    return end == a.end ? q : "";
  }

  // getattr(o, n) and its other spellings: setattr/delattr(o, n, ...),
  // object.__getattribute__(o, n), inspect.getattr_static(o, n) and
  // o.__getattribute__(n): the object's value and the name's argument.
  struct AttributeLookup {
    std::string object;
    const Argument* name;
  };
  std::optional<AttributeLookup> attribute_lookup(const std::string& called,
                                                  const std::vector<Argument>& args) {
    if (call_kind(called) == CallKind::kAttributeLookup && args.size() >= 2)
      return AttributeLookup{value_of(args[0]), &args[1]};
    for (std::string_view method : {".__getattribute__", ".__getattr__"})
      if (called.ends_with(method) && called.size() > method.size() && args.size() == 1)
        return AttributeLookup{called.substr(0, called.size() - method.size()), &args[0]};
    return std::nullopt;
  }

  // Whether `q` is a call the rules know (what the assessment lists as `calls`).
  static bool is_known_call(std::string_view q) {
    static const auto names =
        name_set({&kDecoders, &kImportCalls, &kPrivilegeCalls, &kPathMutations, &kNetworkCalls,
                  &kCodeStringRunners, &kCodeLoaders},
                 {"yaml.load", "yaml.load_all", "os.fork", "os.forkpty", "os.dup2"});
    return names.count(q) || is_runner(q) || q.starts_with("ctypes.") || q.starts_with("cffi.");
  }

  // Code given to eval/exec/compile as a constant is Python: it is assessed
  // as such (to kMaxCodeDepth), its findings, imports and calls reported on
  // the line of the call that runs it.
  void check_code_string(const std::string& code, const std::string& runner, const Token& at) {
    if (depth_ + 1 > kMaxCodeDepth) {
      add(kCodeExecDynamic, at,
          "code nested deeper than " + std::to_string(kMaxCodeDepth) + " levels");
      return;
    }
    heuristics::Analysis inner = Analyzer(code, depth_ + 1).run();
    for (Finding& f : inner.findings) {
      RuleIndex rule = kCodeExec;
      for (std::size_t r = 0; r < kRules.size(); ++r)
        if (f.rule_id == kRules[r].id) rule = static_cast<RuleIndex>(r);
      std::string detail = f.message;
      std::string rule_message = std::string(kRules[rule].message) + ": ";
      if (detail.rfind(rule_message, 0) == 0) detail.erase(0, rule_message.size());
      if (detail == kRules[rule].message) detail.clear();
      if (add(rule, at.line, at.column,
              "in the code given to " + runner + " (its line " + std::to_string(f.line) +
                  ", column " + std::to_string(f.column) + ")" +
                  (detail.empty() ? "" : ": " + detail),
              {f.line, f.column}))
        findings_.back().severity = std::max(findings_.back().severity, f.severity);
    }
    for (auto& i : inner.imports) imports_.push_back({std::move(i.module), at.line});
    for (auto& c : inner.calls) calls_.push_back({std::move(c.name), at.line});
  }

  // A debugger's, profiler's or timer's call that runs its string arguments
  // (`stmt`, `setup`, `cmd`...) as Python: constants are assessed as code;
  // anything else is dynamic code, except that timeit takes a callable too.
  void check_code_arguments(const std::string& q, const Token& at,
                            const std::vector<Argument>& args, std::size_t open,
                            std::size_t close) {
    static const std::set<std::string, std::less<>> kCodeKeywords = {
        "", "stmt", "setup", "cmd", "statement", "expression", "source"};
    // timeit takes a callable too, and a constant statement to time is
    // ordinary: only what that statement does counts.
    bool takes_callable = q.starts_with("timeit.");
    if (!takes_callable) add(kCodeExec, at, q);
    for (std::size_t n = 0; n < args.size(); ++n) {
      const Argument& a = args[n];
      if (!kCodeKeywords.count(a.keyword) || (a.keyword.empty() && n >= 2)) continue;
      if (auto code = constant(a.begin, a.end)) {
        check_code_string(*code, q, at);
      } else if (!takes_callable && a.keyword.empty() && n == 0) {
        add(kCodeExecDynamic, at, q);
      }
    }
    if (args_have_decoder(open, close)) {
      add(kCodeExec, at, q);
      add(kDecodedPayload, at);
    }
  }

  // A process started with its standard streams given a socket's descriptor
  // or a connection (`stdin=s.fileno()`): a reverse shell without os.dup2.
  void note_stream_wiring(const Token& at, const std::vector<Argument>& args) {
    std::vector<std::string> streams;
    for (const auto& a : args) {
      if (a.keyword != "stdin" && a.keyword != "stdout" && a.keyword != "stderr") continue;
      for (std::size_t k = a.begin; k < a.end; ++k)
        if (code_tokens_[k]->text == "fileno" || network_objects_.count(code_tokens_[k]->text)) {
          streams.push_back(a.keyword + " of " + std::string(at.text));
          break;
        }
    }
    if (!streams.empty()) stream_wirings_.push_back({&at, std::move(streams)});
  }

  // A constant a deserializer is given that names functions it will call: a
  // pickle's GLOBAL opcodes (`cos\nsystem\n`, protocol 0) and YAML's
  // `!!python/object/apply:os.system` tags. Each is checked as that call,
  // with the payload's text as its command.
  void check_serialized_calls(const std::string& payload, const std::string& loader,
                              const Token& at) {
    std::vector<std::string> names;
    for (std::size_t k = 0; k + 1 < payload.size(); ++k) {  // pickle: c<module>\n<name>\n
      if (payload[k] != 'c' || (k > 0 && payload[k - 1] != '\n' && payload[k - 1] != '(' &&
                                payload[k - 1] != '.' && payload[k - 1] != ')'))
        continue;
      std::size_t first = payload.find('\n', k + 1);
      std::size_t second = first == std::string::npos ? first : payload.find('\n', first + 1);
      if (second == std::string::npos || first - k > 64 || second - first > 64) continue;
      names.push_back(payload.substr(k + 1, first - k - 1) + "." +
                      payload.substr(first + 1, second - first - 1));
    }
    static constexpr std::string_view kTag = "!!python/object/apply:";
    for (std::size_t k = payload.find(kTag); k != std::string::npos;
         k = payload.find(kTag, k + 1)) {
      std::size_t start = k + kTag.size();
      std::size_t stop = payload.find_first_of(" \t\n[{", start);
      names.push_back(payload.substr(start, stop == std::string::npos ? stop : stop - start));
    }
    for (std::string& name : names) {
      std::string q = bare_builtin(same_module(name));
      if (!is_runner(q)) continue;
      add(kDeserialization, at, loader + " of a payload that calls " + q);
      for (auto it = findings_.rbegin(); it != findings_.rend(); ++it)  // the loader's finding
        if (it->rule_id == kRules[kDeserialization].id && it->line == at.line &&
            it->column == at.column) {
          it->severity = Severity::kCritical;
          it->message = std::string(kRules[kDeserialization].message) + ": " + loader +
                        " of a payload that calls " + q;
          break;
        }
      if (kShellCalls.count(q) || is_process_exec(q) || kSubprocessCalls.count(q)) {
        add(kShellCommand, at, q + " from the payload " + loader + " is given");
        if (is_destructive_command(payload)) add(kDestructiveCommand, at, payload.substr(0, 80));
      }
    }
  }

  // A module the program imports (by a statement or a constant name).
  void note_import(const std::string& module, const Token& at) {
    imports_.push_back({module, at.line});
    std::string top = module.substr(0, module.find('.'));
    if (top == "ctypes" || top == "cffi") add(kNativeCode, at, module);
    if (top == "socket") uses_socket_ = true;
  }

  // A dangerous attribute (system, eval, ...) reached by a computed lookup:
  // naming one is worse than a computed name alone, so its
  // computed-attribute finding is critical. Returns whether `name` is one.
  bool check_dangerous_name(const std::string& name, const Token& at, const std::string& detail) {
    if (!kDangerousAttributes.count(name)) return false;
    if (add(kComputedAttribute, at, detail)) findings_.back().severity = Severity::kCritical;
    return true;
  }

  // The call of `q` (already resolved) at `at` with `args`.
  void check_call(const std::string& q, const Token& at, const std::vector<Argument>& args,
                  std::size_t open, std::size_t close) {
    if (auto lookup = attribute_lookup(q, args)) {
      const Argument& name_arg = *lookup->name;
      auto name = constant(name_arg.begin, name_arg.end);
      bool single_literal = name_arg.end - name_arg.begin == 1 &&
                            code_tokens_[name_arg.begin]->kind == TokenKind::kString;
      if (!(name && check_dangerous_name(*name, at, "'" + *name + "'")) && !single_literal)
        add(kComputedAttribute, at);
      if (lookup->object == "builtins") add(kBuiltinsAccess, at);
      return;
    }
    check_qualified(q, at, args, open, close);
  }

  void check_qualified(const std::string& q, const Token& at, const std::vector<Argument>& args,
                       std::size_t open, std::size_t close) {
    auto keyword_true = [&](const char* name) {
      for (const auto& a : args)
        if (a.keyword == name && a.end - a.begin == 1 && is_truthy_constant(a.begin)) return true;
      return false;
    };
    if (is_known_call(q)) calls_.push_back({q, at.line});
    CallKind kind = call_kind(q);
    if (is_runner(q) || q == "pty.spawn") note_stream_wiring(at, args);
    if (kind == CallKind::kCodeExec) {
      add(kCodeExec, at, q);
      auto code = args.empty() ? std::nullopt : constant(args[0].begin, args[0].end);
      if (code)
        check_code_string(*code, q, at);
      else if (!args.empty())
        add(kCodeExecDynamic, at);
      if (args_have_decoder(open, close)) add(kDecodedPayload, at);
    } else if (kind == CallKind::kCodeString) {
      check_code_arguments(q, at, args, open, close);
    } else if (kind == CallKind::kCodeLoad) {
      add(kCodeLoad, at, q);  // what it runs is read at run time, as exec(open(f).read())
      add(kCodeExecDynamic, at, q + " runs what it reads at run time");
    } else if (kind == CallKind::kShell) {
      add(kShellCommand, at, q);
      check_command_strings(args, at);
    } else if (is_process_exec(q)) {
      start_process(kProcessExec, q, at, args);
    } else if (kind == CallKind::kSubprocess) {
      bool shell = keyword_true("shell") || q.ends_with("create_subprocess_shell");
      start_process(shell ? kShellCommand : kSubprocess, q, at, args);
    } else if (q.ends_with(".subprocess_shell") || q.ends_with(".subprocess_exec")) {
      // an asyncio event loop's own way to start a process
      start_process(q.ends_with("shell") ? kShellCommand : kSubprocess, q, at, args);
    } else if (kind == CallKind::kRemoteShell) {
      add(kShellCommand, at, q + " (on the remote host)");
    } else if (kind == CallKind::kDeserializer) {
      add(kDeserialization, at, q);
      if (!args.empty())
        if (auto payload = constant(args[0].begin, args[0].end))
          check_serialized_calls(*payload, q, at);
    } else if (kind == CallKind::kPickleDump) {
      pickle_dumps_.push_back({&at, q});
    } else if (q == "ruamel.yaml.YAML") {
      for (const auto& a : args)
        if (a.keyword == "typ")
          if (auto typ = constant(a.begin, a.end); typ && (*typ == "unsafe" || *typ == "base"))
            add(kDeserialization, at, q + "(typ='" + *typ + "')");
    } else if (q == "yaml.load" || q == "yaml.load_all" || q == "yaml.unsafe_load" ||
               q == "yaml.full_load") {
      if (!args.empty())
        if (auto document = constant(args[0].begin, args[0].end))
          check_serialized_calls(*document, q, at);
      bool safe = false;
      for (const auto& a : args)
        for (std::size_t j = a.begin; j < a.end; ++j)
          if (code_tokens_[j]->text.find("SafeLoader") != std::string::npos ||
              code_tokens_[j]->text.find("BaseLoader") != std::string::npos)
            safe = true;
      if (!safe) add(kDeserialization, at, q + " without SafeLoader");
    } else if (kind == CallKind::kImport) {
      if (args.empty() || !constant(args[0].begin, args[0].end)) {
        add(kDynamicImport, at, q);
      } else {
        std::string module = *constant(args[0].begin, args[0].end);
        note_import(module, at);
        if (module == "os" || module == "subprocess" || module == "ctypes" || module == "socket" ||
            module == "pty" || module == "builtins" || module == "pickle" || module == "marshal")
          add(kDynamicImport, at, q + "('" + module + "')");
      }
    } else if (kind == CallKind::kPrivilege) {
      add(kPrivilege, at, q);
    } else if (q == "open" || q == "io.open" || q == "os.open" || q == "codecs.open") {
      if (args.empty()) return;
      auto path = constant(args[0].begin, args[0].end);
      if (!path) return;
      std::string mode = "r";
      if (args.size() >= 2 && args[1].keyword.empty())
        mode = constant(args[1].begin, args[1].end).value_or("r");
      for (const auto& a : args)
        if (a.keyword == "mode") mode = constant(a.begin, a.end).value_or(mode);
      for (std::size_t j = open; j < close; ++j)
        if (code_tokens_[j]->text == "O_WRONLY" || code_tokens_[j]->text == "O_RDWR" ||
            code_tokens_[j]->text == "O_CREAT")
          mode = "w";
      bool writes = mode.find_first_of("wax+") != std::string::npos;
      if (!(writes && check_written_path(*path, at, *path)) && contains_any(*path, kSensitive))
        add(kSensitiveRead, at, *path);
    } else if (kind == CallKind::kPathMutation) {
      for (const auto& a : args) {
        auto path = constant(a.begin, a.end);
        if (path && (is_system_path(*path) || *path == "~" || *path == "/")) {
          add(kSystemPathWrite, at, q + "('" + *path + "')");
          break;
        }
      }
      if (kPathCopies.count(q) && args.size() >= 2)  // the destination: what is written
        if (auto path = constant(args[1].begin, args[1].end); path && is_persistence_path(*path))
          add(kPersistence, at, q + " to " + *path);
      if (q == "os.chmod")
        for (const auto& a : args)
          if (a.end - a.begin == 1 &&
              (code_tokens_[a.begin]->text == "0o777" || code_tokens_[a.begin]->text == "0o4755" ||
               code_tokens_[a.begin]->text == "511"))
            add(kPrivilege, at, "chmod 777");
    } else if (kind == CallKind::kNetwork) {
      add(kNetwork, at, q);
      if (!first_network_) first_network_ = &at;
      if (in_loop_[open]) add(kNetworkLoop, at, q);
      if (q.rfind("socket.", 0) == 0) uses_socket_ = true;
    } else if (q.find('.') != std::string::npos &&
               network_objects_.count(q.substr(0, q.find('.'))) && in_loop_[open]) {
      add(kNetworkLoop, at, q);
    } else if (q.rfind("ctypes.", 0) == 0 || q.rfind("cffi.", 0) == 0) {
      add(kNativeCode, at, q);
    } else if (q == "os.dup2") {
      if (in_loop_[open])  // each of the streams a loop wires
        stream_wirings_.push_back({&at,
                                   {"os.dup2 in a loop: stdin", "os.dup2 in a loop: stdout",
                                    "os.dup2 in a loop: stderr"}});
      else
        stream_wirings_.push_back({&at, {""}});
    } else if (q == "os.fork" || q == "os.forkpty") {
      fork_token_ = &at;
    }
  }

  // Counts the nesting of constant() and follow() while one runs.
  class Nesting {
   public:
    explicit Nesting(int& depth) : depth_(depth) { ++depth_; }
    ~Nesting() { --depth_; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;
    bool too_deep() const { return depth_ > kMaxNesting; }

   private:
    int& depth_;
  };
  mutable int nesting_ = 0;
  mutable bool cut_short_ = false;  // stopped at kMaxNesting: follow()'s answer is not kept
  // follow(i, report = false) by i: value and end.
  std::unordered_map<std::size_t, std::pair<std::string, std::size_t>> followed_;
  static constexpr std::size_t kUnmatched = static_cast<std::size_t>(-1);
  std::vector<std::size_t> matches_;  // per opening bracket (code-token index): its closing one
  const Token* deepest_bracket_ = nullptr;  // an opening bracket past kMaxBracketDepth

  python::SourceText source_;
  std::string_view code_;  // the text CPython runs (source_.text)
  std::vector<Token> tokens_;
  int depth_;
  std::vector<const Token*> code_tokens_;
  std::map<std::string, std::string, std::less<>> aliases_;  // written by alias() only
  NameShapes alias_shapes_;                                  // of the names in aliases_
  std::map<std::string, std::string, std::less<>> constants_;
  std::map<std::string, std::string, std::less<>> replaced_modules_;    // sys.modules["json"] = os
  std::map<std::string, std::vector<long>, std::less<>> number_lists_;  // x = [105, 100]
  std::map<std::string, std::vector<std::string>, std::less<>> string_lists_;  // x = ["rm", "-rf"]
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>>
      string_dicts_;                               // x = {"c": "..."}
  std::set<std::string, std::less<>> path_names_;  // names bound to a pathlib path
  std::set<std::string> star_imports_;
  std::set<std::string> decoded_names_;
  struct Wrapper {
    std::string runner;   // the resolved runner it calls
    bool shell = false;   // with shell=True
    bool method = false;  // a method (`def run(self, c)`): called as x.run(...)
  };
  std::map<std::string, Wrapper, std::less<>> wrappers_;
  std::vector<std::size_t> defs_;  // code-token indices of `def` at statement start
  std::vector<heuristics::Import> imports_;
  std::vector<heuristics::Call> calls_;
  std::set<std::tuple<std::string, int, int, int, int>> reported_;
  std::vector<char> in_loop_;              // per code token: inside a loop body or a comprehension
  std::vector<char> comprehension_opens_;  // per code token: an open bracket holding a `for`
  std::vector<std::pair<std::size_t, std::size_t>> comprehension_ranges_;
  std::vector<char> import_tokens_;  // per code token: part of an import statement
  std::set<std::string, std::less<>> network_objects_;  // names bound to connections and clients
  std::vector<const Token*> callable_references_;
  std::vector<std::pair<const Token*, std::string>> pickle_dumps_;
  const Token* first_network_ = nullptr;
  bool environment_dump_ = false;
  bool defines_reduce_ = false;
  std::vector<Finding> findings_;
  bool uses_socket_ = false;
  bool has_endless_loop_ = false;  // while True (or 1, "x"), for over itertools.count()...
  // Calls that may wire standard streams to a socket (os.dup2, a process
  // started with stdin=s.fileno()), and how many streams each wires.
  // One finding for each stream, with a detail that tells them apart.
  std::vector<std::pair<const Token*, std::vector<std::string>>> stream_wirings_;
  const Token* fork_token_ = nullptr;
};

}  // namespace

const std::vector<Rule>& rules() {
  return kRules;
}

Analysis analyze(std::string_view code) {
  return Analyzer(code, 0).run();
}

void to_json(nlohmann::json& j, const Import& i) {
  j = {{"module", i.module}, {"line", i.line}};
}

void to_json(nlohmann::json& j, const Call& c) {
  j = {{"name", c.name}, {"line", c.line}};
}

}  // namespace warden::heuristics
