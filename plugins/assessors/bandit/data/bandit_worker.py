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
  {"issues": [<Issue.as_dict()>...], "skipped": [[file, reason]...]}
or {"error": "..."} when Bandit itself raised. stdout carries only the
protocol: Bandit's logging goes to stderr.
"""
import json
import logging
import os
import sys
import tempfile


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
                    "skipped": [[os.path.basename(f), why] for f, why in manager.skipped]})
            os.unlink(path)
        except Exception as e:  # report, keep serving
            answer({"error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
