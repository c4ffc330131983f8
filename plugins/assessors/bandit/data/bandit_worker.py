"""A warm Bandit for warden's bandit assessor plugin.

Started once per worker by the plugin (bandit.so) with the tools
virtualenv's Python; imports Bandit once, then assesses one program per
request. It goes through Bandit's own manager exactly as the `bandit` command
does (BanditConfig, BanditManager, discover_files, run_tests,
get_issue_list), so its findings are the command's findings.

Protocol: JSON lines. First the worker prints
  {"ready": true, "bandit": "<version>"}
then, for each request line {"code": "...", "file_name": "x.py",
"skips": ["B101", ...]}, one answer line:
  {"issues": [<Issue.as_dict()>...], "skipped": [[file, reason]...],
   "syntax_error": {"line": N, "column": N, "message": "..."} or null}
or {"error": "..."} when Bandit itself raised. `syntax_error` says where
CPython stops parsing the program when Bandit skipped it (Bandit's own reason
has no line). stdout carries only the
protocol: Bandit's logging goes to stderr.
"""
import json
import logging
import os
import sys
import tempfile


def syntax_error(path):
    """Where CPython stops parsing the file Bandit skipped, or None."""
    with open(path, "rb") as f:
        source = f.read()
    try:
        compile(source, os.path.basename(path), "exec", dont_inherit=True)
    except SyntaxError as e:
        return {"line": e.lineno or 1, "column": e.offset or 1, "message": e.msg}
    except ValueError as e:  # null bytes
        return {"line": 1, "column": 1, "message": str(e)}
    return None


def main():
    protocol = sys.stdout
    sys.stdout = sys.stderr  # anything else printed must not corrupt the protocol
    logging.basicConfig(stream=sys.stderr, level=logging.ERROR)
    import bandit
    from bandit.core import config as b_config
    from bandit.core import constants
    from bandit.core import manager as b_manager

    def answer(obj):
        protocol.write(json.dumps(obj) + "\n")
        protocol.flush()

    answer({"ready": True, "bandit": bandit.__version__})
    workdir = tempfile.mkdtemp(prefix="warden-bandit-")
    for line in sys.stdin:
        try:
            request = json.loads(line)
            name = os.path.basename(request.get("file_name") or "main.py") or "main.py"
            if not name.endswith(".py"):
                name += ".py"
            path = os.path.join(workdir, name)
            with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(request["code"])
            conf = b_config.BanditConfig()
            profile = {"include": set(), "exclude": set(request.get("skips", []))}
            manager = b_manager.BanditManager(conf, "file", profile=profile, quiet=True)
            manager.discover_files([path], False)
            manager.run_tests()
            issues = [
                i.as_dict(with_code=False)
                for i in manager.get_issue_list(constants.LOW, constants.LOW)
            ]
            answer({"issues": issues,
                    "skipped": [[os.path.basename(f), why] for f, why in manager.skipped],
                    "syntax_error": syntax_error(path) if manager.skipped else None})
            os.unlink(path)
        except Exception as e:  # report, keep serving
            answer({"error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
