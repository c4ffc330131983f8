#include "python_analysis.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>

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
    {"heuristics.fork-bomb", Severity::kHigh, Confidence::kMedium, "other", 400,
     "forks in an endless loop"},
};

const std::set<std::string> kCodeExecCalls = {
    "eval", "exec", "compile", "execfile", "builtins.eval", "builtins.exec", "builtins.compile"};
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
                                           "os.popen3"};
const std::set<std::string> kSubprocessCalls = {"subprocess.run",
                                                "subprocess.call",
                                                "subprocess.Popen",
                                                "subprocess.check_call",
                                                "subprocess.check_output",
                                                "asyncio.create_subprocess_shell",
                                                "asyncio.create_subprocess_exec"};
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
const std::set<std::string> kDeserializers = {
    "pickle.load",      "pickle.loads",         "pickle.Unpickler",   "cPickle.load",
    "cPickle.loads",    "_pickle.loads",        "dill.load",          "dill.loads",
    "marshal.load",     "marshal.loads",        "shelve.open",        "jsonpickle.decode",
    "yaml.unsafe_load", "yaml.unsafe_load_all", "pandas.read_pickle", "torch.load"};
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
const char* kSystemPaths[] = {"/etc",  "/usr", "/bin", "/sbin",  "/boot", "/root", "/var", "/sys",
                              "/proc", "/dev", "/lib", "/lib64", "/opt",  "/srv",  "/home"};
const char* kSensitive[] = {"/etc/shadow",     "/etc/passwd",      "/etc/sudoers",
                            "/etc/gshadow",    "/root/",           ".ssh/",
                            "id_rsa",          "id_ed25519",       "/proc/self/environ",
                            "/proc/1/environ", ".aws/credentials", ".netrc",
                            ".bash_history",   "/etc/ssh/"};
const char* kDestructive[] = {"rm -rf", "rm -fr", "mkfs",      "dd if=",   ":(){",   "shutdown",
                              "reboot", "halt",   "> /dev/sd", "of=/dev/", "wipefs", "shred "};
const char* kPrivilegeWords[] = {
    "sudo ",       "sudo\t", "su -",   "chmod 777", "chmod +s", "chmod u+s",
    "chown root",  "mount ", "umount", "iptables",  "setuid",   "/etc/sudoers",
    "/etc/shadow", "visudo", "passwd", "useradd",   "usermod"};

bool contains_any(const std::string& text, const char* const* words, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (text.find(words[i]) != std::string::npos) return true;
  return false;
}

bool is_system_path(const std::string& path) {
  if (path == "/" || path == "/*") return true;
  if (path == "/dev/null" || path.rfind("/tmp", 0) == 0 || path.rfind("/dev/shm", 0) == 0)
    return false;
  for (const char* prefix : kSystemPaths) {
    std::string p = prefix;
    if (path == p || path.rfind(p + "/", 0) == 0) return true;
  }
  return false;
}

struct Argument {
  std::size_t begin, end;  // token range
  std::string keyword;     // "shell" for shell=True
};

class Analysis {
 public:
  explicit Analysis(std::string_view code) : code_(code), tokens_(python::tokenize(code)) {
    for (std::size_t start = 0; start <= code.size();) {
      std::size_t end = code.find('\n', start);
      if (end == std::string_view::npos) end = code.size();
      lines_.emplace_back(code.substr(start, end - start));
      start = end + 1;
    }
    // Only code tokens matter; comments and layout are dropped up front.
    for (const auto& t : tokens_)
      if (t.kind != TokenKind::kComment && t.kind != TokenKind::kNl &&
          t.kind != TokenKind::kIndent && t.kind != TokenKind::kDedent)
        code_tokens_.push_back(&t);
  }

  std::vector<Finding> run() {
    collect_bindings();
    for (std::size_t i = 0; i < code_tokens_.size(); ++i) {
      const Token& t = *code_tokens_[i];
      if (t.kind != TokenKind::kName) continue;
      check_name(i);
      if (i == 0 || !is_op(i - 1, ".")) check_call(i);
    }
    if (uses_socket_ && dup2_line_) add(kReverseShell, *dup2_token_);
    if (has_while_true_ && fork_token_) add(kForkBomb, *fork_token_);
    return std::move(findings_);
  }

 private:
  bool is_op(std::size_t i, std::string_view op) const {
    return i < code_tokens_.size() && code_tokens_[i]->kind == TokenKind::kOp &&
           code_tokens_[i]->text == op;
  }
  bool is_name(std::size_t i, std::string_view name) const {
    return i < code_tokens_.size() && code_tokens_[i]->kind == TokenKind::kName &&
           code_tokens_[i]->text == name;
  }

  void add(RuleIndex rule, const Token& at, const std::string& detail = "") {
    const Rule& r = kRules[rule];
    if (!reported_.insert({r.id, at.line}).second) return;
    Finding f;
    f.rule_id = r.id;
    f.severity = r.severity;
    f.confidence = r.confidence;
    f.category = r.category;
    f.cwe = r.cwe;
    f.line = at.line;
    f.column = at.column;
    f.message = detail.empty() ? r.message : std::string(r.message) + ": " + detail;
    if (at.line >= 1 && static_cast<std::size_t>(at.line) <= lines_.size()) {
      std::string_view line = lines_[at.line - 1];
      std::size_t first = line.find_first_not_of(" \t");
      f.source_line = first == std::string_view::npos ? "" : std::string(line.substr(first, 200));
    }
    findings_.push_back(std::move(f));
  }

  // "a.b.c" from NAME (. NAME)* starting at i; `end` is set past it.
  std::string dotted(std::size_t i, std::size_t& end) const {
    std::string name(code_tokens_[i]->text);
    end = i + 1;
    while (is_op(end, ".") && end + 1 < code_tokens_.size() &&
           code_tokens_[end + 1]->kind == TokenKind::kName) {
      name += "." + std::string(code_tokens_[end + 1]->text);
      end += 2;
    }
    return name;
  }

  // Resolves the first component through import aliases and assignments.
  std::string resolve(const std::string& name) const {
    std::size_t dot = name.find('.');
    std::string head = name.substr(0, dot), rest = dot == std::string::npos ? "" : name.substr(dot);
    auto it = aliases_.find(head);
    if (it != aliases_.end()) return it->second + rest;
    for (const auto& module : star_imports_)
      if (kShellCalls.count(module + "." + head) || kSubprocessCalls.count(module + "." + head) ||
          kDeserializers.count(module + "." + head) || kDecoders.count(module + "." + head))
        return module + "." + head + rest;
    return name;
  }

  // The string value of tokens [begin, end) if it is built only from string
  // literals, known constant names, '+' and chr(N) calls.
  std::optional<std::string> constant(std::size_t begin, std::size_t end) const {
    std::string value;
    bool any = false;
    for (std::size_t i = begin; i < end; ++i) {
      const Token& t = *code_tokens_[i];
      if (t.kind == TokenKind::kString && !t.from_fstring) {
        value += t.value;
        any = true;
      } else if (t.kind == TokenKind::kName && constants_.count(std::string(t.text)) &&
                 !is_op(i + 1, "(")) {
        value += constants_.at(std::string(t.text));
        any = true;
      } else if (t.kind == TokenKind::kName && t.text == "chr" && is_op(i + 1, "(") &&
                 i + 3 < end && code_tokens_[i + 2]->kind == TokenKind::kNumber &&
                 is_op(i + 3, ")")) {
        try {
          value.push_back(
              static_cast<char>(std::stoi(std::string(code_tokens_[i + 2]->text), nullptr, 0)));
        } catch (const std::exception&) {
          return std::nullopt;
        }
        i += 3;
        any = true;
      } else if (!(t.kind == TokenKind::kOp && t.text == "+")) {
        return std::nullopt;
      }
    }
    if (!any) return std::nullopt;
    return value;
  }

  std::size_t matching_paren(std::size_t open) const {
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
    for (std::size_t i = 0; i < code_tokens_.size(); ++i) {
      bool statement_start = i == 0 || code_tokens_[i - 1]->kind == TokenKind::kNewline ||
                             is_op(i - 1, ";") || is_op(i - 1, ":");
      if (!statement_start) continue;
      if (is_name(i, "import")) {
        for (std::size_t j = i + 1;
             j < code_tokens_.size() && code_tokens_[j]->kind != TokenKind::kNewline;) {
          if (code_tokens_[j]->kind != TokenKind::kName) {
            ++j;
            continue;
          }
          std::size_t end;
          std::string module = dotted(j, end);
          std::string top = module.substr(0, module.find('.'));
          if (is_name(end, "as") && end + 1 < code_tokens_.size()) {
            aliases_[std::string(code_tokens_[end + 1]->text)] = module;
            end += 2;
          } else {
            aliases_[top] = top;
          }
          j = end;
        }
      } else if (is_name(i, "from") && i + 1 < code_tokens_.size() &&
                 code_tokens_[i + 1]->kind == TokenKind::kName) {
        std::size_t end;
        std::string module = dotted(i + 1, end);
        if (!is_name(end, "import")) continue;
        for (std::size_t j = end + 1;
             j < code_tokens_.size() && code_tokens_[j]->kind != TokenKind::kNewline; ++j) {
          if (is_op(j, "*")) star_imports_.insert(module);
          if (code_tokens_[j]->kind != TokenKind::kName) continue;
          std::string name(code_tokens_[j]->text);
          if (is_name(j + 1, "as") && j + 2 < code_tokens_.size()) {
            aliases_[std::string(code_tokens_[j + 2]->text)] = module + "." + name;
            j += 2;
          } else {
            aliases_[name] = module + "." + name;
          }
        }
      } else if (code_tokens_[i]->kind == TokenKind::kName && is_op(i + 1, "=")) {
        std::size_t end = i + 2;
        while (end < code_tokens_.size() && code_tokens_[end]->kind != TokenKind::kNewline &&
               !is_op(end, ";"))
          ++end;
        std::string target(code_tokens_[i]->text);
        if (auto value = constant(i + 2, end)) {
          constants_[target] = *value;
        } else if (end > i + 2 && code_tokens_[i + 2]->kind == TokenKind::kName) {
          std::size_t chain_end;
          std::string chain = dotted(i + 2, chain_end);
          if (chain_end == end) aliases_[target] = resolve(chain);
          if (is_op(chain_end, "(") && kDecoders.count(resolve(chain)))
            decoded_names_.insert(target);
        }
      }
    }
  }

  void check_name(std::size_t i) {
    const Token& t = *code_tokens_[i];
    std::string_view w = t.text;
    if (w == "__builtins__") add(kBuiltinsAccess, t);
    if (i > 0 && is_op(i - 1, ".")) {
      if (w == "__subclasses__" || w == "__globals__" || w == "__code__" || w == "__closure__" ||
          w == "__mro__" || w == "__bases__" || w == "__base__" || w == "f_globals" ||
          w == "gi_frame")
        add(kDunderWalk, t, std::string(w));
    }
    if (w == "SOCK_RAW" || w == "AF_PACKET" || w == "IPPROTO_RAW") add(kRawSocket, t);
    if (w == "while" && is_name(i + 1, "True")) has_while_true_ = true;
    if ((w == "import" || w == "from") && i + 1 < code_tokens_.size()) {
      std::string module(code_tokens_[i + 1]->text);
      if (module == "ctypes" || module == "cffi") add(kNativeCode, *code_tokens_[i + 1], module);
      if (module == "socket") uses_socket_ = true;
    }
  }

  bool args_have_decoder(std::size_t begin, std::size_t end) const {
    for (std::size_t j = begin; j < end; ++j) {
      if (code_tokens_[j]->kind != TokenKind::kName || (j > begin && is_op(j - 1, "."))) continue;
      std::size_t chain_end;
      std::string q = resolve(dotted(j, chain_end));
      if (kDecoders.count(q) && is_op(chain_end, "(")) return true;
      if (decoded_names_.count(std::string(code_tokens_[j]->text))) return true;
      if (is_op(j + 1, "[") && is_op(j + 2, ":") && is_op(j + 3, ":")) return true;  // s[::-1]
    }
    for (std::size_t j = begin; j + 2 < end; ++j)  // "..."[::-1] on a literal
      if (is_op(j, "[") && is_op(j + 1, ":") && is_op(j + 2, ":")) return true;
    return false;
  }

  void check_command_strings(const std::vector<Argument>& args, const Token& at) {
    for (const auto& a : args) {
      for (std::size_t j = a.begin; j < a.end; ++j) {
        const Token& t = *code_tokens_[j];
        std::string text;
        if (t.kind == TokenKind::kString) text = t.value;
        if (t.kind == TokenKind::kName && constants_.count(std::string(t.text)))
          text = constants_.at(std::string(t.text));
        if (text.empty()) continue;
        if (contains_any(text, kDestructive, std::size(kDestructive)))
          add(kDestructiveCommand, at, text.substr(0, 80));
        if (contains_any(text, kPrivilegeWords, std::size(kPrivilegeWords)) ||
            text.rfind("sudo", 0) == 0)
          add(kPrivilege, at, text.substr(0, 80));
      }
    }
  }

  void check_call(std::size_t i) {
    std::size_t chain_end;
    std::string raw = dotted(i, chain_end);
    if (!is_op(chain_end, "(")) return;
    std::size_t open = chain_end, close = matching_paren(open);
    if (close >= code_tokens_.size()) return;  // unterminated call: nothing to read
    auto args = arguments(open, close);
    std::string q = resolve(raw);
    const Token& at = *code_tokens_[i];

    // getattr(obj, "name")(...) calls obj.name.
    if (q == "getattr" || q == "setattr" || q == "delattr" || q == "builtins.getattr") {
      if (args.size() >= 2) {
        auto name = constant(args[1].begin, args[1].end);
        bool single_literal = args[1].end - args[1].begin == 1 &&
                              code_tokens_[args[1].begin]->kind == TokenKind::kString;
        if (name && kDangerousAttributes.count(*name)) {
          // Naming a dangerous attribute is worse than a computed name alone.
          add(kComputedAttribute, at, "'" + *name + "'");
          findings_.back().severity = Severity::kCritical;
        } else if (!single_literal) {
          add(kComputedAttribute, at);
        }
        if (name && is_op(close + 1, "(") && args[0].end - args[0].begin >= 1 &&
            code_tokens_[args[0].begin]->kind == TokenKind::kName) {
          std::size_t obj_end;
          std::string obj = resolve(dotted(args[0].begin, obj_end));
          std::size_t inner_close = matching_paren(close + 1);
          if (inner_close >= code_tokens_.size()) return;
          check_qualified(obj + "." + *name, at, arguments(close + 1, inner_close), close + 1,
                          inner_close);
        }
        if (code_tokens_[args[0].begin]->text == "__builtins__" ||
            resolve(std::string(code_tokens_[args[0].begin]->text)) == "builtins")
          add(kBuiltinsAccess, at);
      }
      return;
    }
    check_qualified(q, at, args, open, close);
  }

  void check_qualified(const std::string& q, const Token& at, const std::vector<Argument>& args,
                       std::size_t open, std::size_t close) {
    auto keyword_true = [&](const char* name) {
      for (const auto& a : args)
        if (a.keyword == name && a.end - a.begin == 1 && code_tokens_[a.begin]->text == "True")
          return true;
      return false;
    };
    if (kCodeExecCalls.count(q) || q == "__builtins__.eval" || q == "__builtins__.exec") {
      add(kCodeExec, at, q);
      if (!args.empty() && !constant(args[0].begin, args[0].end)) add(kCodeExecDynamic, at);
      if (args_have_decoder(open, close)) add(kDecodedPayload, at);
    } else if (kShellCalls.count(q)) {
      add(kShellCommand, at, q);
      check_command_strings(args, at);
    } else if (q.rfind("os.exec", 0) == 0 || q.rfind("os.spawn", 0) == 0 ||
               q.rfind("os.posix_spawn", 0) == 0) {
      add(kProcessExec, at, q);
      check_command_strings(args, at);
    } else if (kSubprocessCalls.count(q)) {
      bool shell = keyword_true("shell") || q == "asyncio.create_subprocess_shell";
      add(shell ? kShellCommand : kSubprocess, at, q);
      check_command_strings(args, at);
    } else if (kDeserializers.count(q)) {
      add(kDeserialization, at, q);
    } else if (q == "yaml.load" || q == "yaml.load_all") {
      bool safe = false;
      for (const auto& a : args)
        for (std::size_t j = a.begin; j < a.end; ++j)
          if (code_tokens_[j]->text.find("SafeLoader") != std::string::npos ||
              code_tokens_[j]->text.find("BaseLoader") != std::string::npos)
            safe = true;
      if (!safe) add(kDeserialization, at, q + " without SafeLoader");
    } else if (q == "__import__" || q == "builtins.__import__" || q == "importlib.import_module" ||
               q == "importlib.__import__") {
      if (args.empty() || !constant(args[0].begin, args[0].end)) {
        add(kDynamicImport, at, q);
      } else {
        std::string module = *constant(args[0].begin, args[0].end);
        if (module == "os" || module == "subprocess" || module == "ctypes" || module == "socket" ||
            module == "pty" || module == "builtins" || module == "pickle" || module == "marshal")
          add(kDynamicImport, at, q + "('" + module + "')");
      }
    } else if (kPrivilegeCalls.count(q)) {
      add(kPrivilege, at, q);
    } else if (q == "open" || q == "io.open" || q == "builtins.open" || q == "os.open" ||
               q == "codecs.open") {
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
      if (writes && is_system_path(*path))
        add(kSystemPathWrite, at, *path);
      else if (contains_any(*path, kSensitive, std::size(kSensitive)))
        add(kSensitiveRead, at, *path);
    } else if (kPathMutations.count(q)) {
      for (const auto& a : args) {
        auto path = constant(a.begin, a.end);
        if (path && (is_system_path(*path) || *path == "~" || *path == "/")) {
          add(kSystemPathWrite, at, q + "('" + *path + "')");
          break;
        }
      }
      if (q == "os.chmod")
        for (const auto& a : args)
          if (a.end - a.begin == 1 &&
              (code_tokens_[a.begin]->text == "0o777" || code_tokens_[a.begin]->text == "0o4755" ||
               code_tokens_[a.begin]->text == "511"))
            add(kPrivilege, at, "chmod 777");
    } else if (kNetworkCalls.count(q)) {
      add(kNetwork, at, q);
      if (q.rfind("socket.", 0) == 0) uses_socket_ = true;
    } else if (q.rfind("ctypes.", 0) == 0 || q.rfind("cffi.", 0) == 0) {
      add(kNativeCode, at, q);
    } else if (q == "os.dup2" && !dup2_line_) {
      dup2_line_ = at.line;
      dup2_token_ = &at;
    } else if (q == "os.fork" || q == "os.forkpty") {
      fork_token_ = &at;
    }
  }

  std::string_view code_;
  std::vector<Token> tokens_;
  std::vector<const Token*> code_tokens_;
  std::vector<std::string_view> lines_;
  std::map<std::string, std::string> aliases_;
  std::map<std::string, std::string> constants_;
  std::set<std::string> star_imports_;
  std::set<std::string> decoded_names_;
  std::set<std::pair<std::string, int>> reported_;
  std::vector<Finding> findings_;
  bool uses_socket_ = false;
  bool has_while_true_ = false;
  int dup2_line_ = 0;
  const Token* dup2_token_ = nullptr;
  const Token* fork_token_ = nullptr;
};

}  // namespace

const std::vector<Rule>& rules() {
  return kRules;
}

std::vector<Finding> analyze(std::string_view code) {
  return Analysis(code).run();
}

}  // namespace warden::heuristics
