"""Several SafetyAPI objects on one audit log, in one Python process and in
several: each works, and the shared log verifies afterwards (issue: two Mai
processes of one user used to damage it on the first try)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import warden
from conftest import write_config

PROGRAM = "print(sum(range(10)))\n"


def verify(config: Path) -> dict:
    api = warden.SafetyAPI(config)
    try:
        return api.get_security_status()["audit_integrity"]
    finally:
        api.close()


def test_two_safety_apis_in_one_process(api, tmp_path):
    config = write_config(tmp_path)
    second = warden.SafetyAPI(config)
    try:
        results = []

        def run(target):
            for _ in range(5):
                results.append(target.assess_and_execute(PROGRAM))

        threads = [threading.Thread(target=run, args=(a,)) for a in (api, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 10
        assert all(r["decision"] == "ran" and r["stdout"] == "45\n" for r in results)
    finally:
        second.close()
    integrity = verify(config)
    assert integrity["valid"], integrity["reason"]


def test_safety_apis_in_several_processes(api, tmp_path):
    config = write_config(tmp_path)
    child = textwrap.dedent(
        f"""
        import warden
        api = warden.SafetyAPI({str(config)!r})
        for _ in range(4):
            r = api.assess_and_execute({PROGRAM!r})
            assert r["decision"] == "ran" and r["stdout"] == "45\\n", r
        api.close()
        """
    )
    children = [subprocess.Popen([sys.executable, "-c", child]) for _ in range(4)]
    for _ in range(4):
        assert api.assess_and_execute(PROGRAM)["decision"] == "ran"
    assert [c.wait(timeout=300) for c in children] == [0, 0, 0, 0]
    integrity = verify(config)
    assert integrity["valid"], integrity["reason"]
    history = api.get_execution_history(100)
    assert history["summary"]["runs"] == 20
