"""The Python module itself: the GIL is released while code runs, values cross
the boundary intact, errors map to the right Python exceptions, and the
installed package finds its plugins, policies and configuration."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

import warden
from conftest import under_ci, write_config
from risk_samples import LOW

SLEEP = "import time\ntime.sleep(0.5)\nprint('slept')\n"


def test_parallel_calls_run_at_once(api):
    api.assess_and_execute(LOW)  # warm up: policies compiled, caches filled
    results = []

    def run():
        results.append(api.assess_and_execute(SLEEP))

    threads = [threading.Thread(target=run) for _ in range(4)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert [r["stdout"] for r in results] == ["slept\n"] * 4
    assert all(r["resource_usage"]["wall_time_ms"] >= 500 for r in results)
    # One after the other would take at least 4 x 0.5 s.
    assert elapsed < 1.5, f"4 parallel 0.5 s programs took {elapsed:.2f} s"


def spin(until) -> int:
    spins = 0
    while not until():
        spins += 1
    return spins


def test_python_keeps_running_while_code_runs(api):
    deadline = time.monotonic() + 0.1
    spins_per_second = spin(lambda: time.monotonic() >= deadline) / 0.1

    finished = threading.Event()
    result = {}

    def run():
        result.update(api.assess_and_execute(SLEEP))
        finished.set()

    worker = threading.Thread(target=run)
    worker.start()
    spins = spin(finished.is_set)
    worker.join()
    assert result["stdout"] == "slept\n"
    # The call takes over 0.5 s. With the GIL released this thread spins for
    # most of it; with the GIL held it would get only a few switch intervals.
    assert spins > 0.25 * spins_per_second, (spins, spins_per_second)


def test_stdin_goes_in_as_str_or_bytes(api):
    code = "import sys\nprint(sys.stdin.read().upper())\n"
    assert api.assess_and_execute(code, stdin="hello")["stdout"] == "HELLO\n"
    assert api.assess_and_execute(code, stdin=b"bytes")["stdout"] == "BYTES\n"


def test_output_that_is_not_utf8_comes_back_with_replacements(api):
    result = api.assess_and_execute("import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe!\\n')\n")
    assert result["decision"] == "ran"
    assert result["stdout"] == "ok \ufffd\ufffd!\n"
    assert result["stdout_replaced"] is True
    assert result["stderr_replaced"] is False


def test_exit_code_and_stderr_come_back(api):
    result = api.assess_and_execute("import sys\nprint('oops', file=sys.stderr)\nsys.exit(7)\n")
    assert result["decision"] == "ran"
    assert result["exit_code"] == 7
    assert result["stderr"] == "oops\n"


def test_metadata_without_a_json_form_names_the_place(open_api):
    api = open_api()
    with pytest.raises(ValueError, match=r"^metadata\['a'\]\[1\]: a set has no JSON form"):
        api.assess_and_execute(LOW, metadata={"a": [1, {2}]})
    with pytest.raises(ValueError, match=r"^metadata: a int as a key has no JSON form"):
        api.assess_and_execute(LOW, metadata={1: "x"})
    with pytest.raises(ValueError, match=r"^metadata\['n'\]: a int this large"):
        api.assess_and_execute(LOW, metadata={"n": 2**70})
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["d"] = {}
        node = node["d"]
    with pytest.raises(ValueError, match="nested more than 64 levels deep"):
        api.assess_and_execute(LOW, metadata=deep)


def test_wrong_types_raise_type_error(open_api):
    api = open_api()
    with pytest.raises(TypeError, match="^code must be a str, not bytes$"):
        api.assess_and_execute(b"print(1)")
    with pytest.raises(TypeError, match="^user_explanation must be a str, not int$"):
        api.assess_and_execute(LOW, user_override=True, user_explanation=5)
    with pytest.raises(TypeError, match="^stdin must be a str or bytes, not list$"):
        api.assess_and_execute(LOW, stdin=["a"])
    with pytest.raises(ValueError, match="^Limits must be a dictionary$"):
        api.assess_and_execute(LOW, limits=["memory"])
    with pytest.raises(ValueError, match="^Policy files must map file names"):
        api.configure_policies({"files": {"risk.lua": 3}})
    with pytest.raises(ValueError, match=r"^Unknown policy key\(s\) \['rules'\]"):
        api.configure_policies({"rules": {}})
    with pytest.raises(ValueError, match="^Policies must give either 'directory' or 'files'$"):
        api.configure_policies({})


def test_requested_limits_are_enforced_as_given(api):
    result = api.assess_and_execute(
        "import resource\nprint(resource.getrlimit(resource.RLIMIT_NOFILE)[1])\n",
        limits={"open_files": 40, "wall_time": "3s", "memory": "128MiB"},
    )
    assert result["limits"]["open_files"] == 40
    assert result["limits"]["wall_time_ms"] == 3000
    assert result["limits"]["memory_bytes"] == 128 * 1024 * 1024
    assert result["stdout"] == "40\n"


def test_a_bad_configuration_is_a_value_error_naming_the_file(tmp_path: Path):
    config = write_config(tmp_path, "requests: {max_code_sise: 1KiB}\n")
    with pytest.raises(ValueError, match=rf"^{config}:\d+:\d+: .*max_code_sise"):
        warden.SafetyAPI(config)


def test_a_closed_api_refuses_calls(config: Path):
    with warden.SafetyAPI(config) as api:
        assert api.get_security_status()["audit_integrity"]["valid"] is True
    with pytest.raises(ValueError, match="^This warden host is closed$"):
        api.get_security_status()
    api.close()  # closing twice is harmless
    # The audit log was closed cleanly: a new host finds it intact, with the stop.
    with warden.SafetyAPI(config) as again:
        summary = again.get_audit_report()["summary"]
        assert summary["by_kind"]["system_stop"] == 1
        assert again.get_security_status()["audit_integrity"]["valid"] is True


def test_the_installed_package_finds_its_plugins_policies_and_config(tmp_path, monkeypatch):
    package = Path(warden.__file__).parent
    assert Path(warden.data_directory()) == package / "share" / "warden"
    assert (package / "lib" / "warden" / "plugins" / "heuristics.so").is_file()
    assert (package / "lib" / "warden" / "plugins" / "native.so").is_file()
    # No config_path, no $WARDEN_CONFIG and no user warden.yaml: the one
    # installed with the package, whose audit log lives under $HOME.
    monkeypatch.delenv("WARDEN_CONFIG", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with warden.SafetyAPI() as api:
        status = api.get_security_status()
        assert status["components"]["assessor:heuristics"]["available"] is True
        assert "sandbox:native" in status["components"]
        assert api.assess_code_only(LOW)["level"] == "LOW"
    assert list((tmp_path / ".local" / "state" / "warden" / "audit").glob("seg-*.wal"))
    # $WARDEN_CONFIG is the next place looked at.
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("WARDEN_CONFIG", str(write_config(other)))
    with warden.SafetyAPI() as api:
        api.assess_code_only(LOW)
    assert list((other / "audit").glob("seg-*.wal"))


def test_no_code_runs_while_the_audit_log_cannot_be_written(tmp_path: Path):
    if os.geteuid() != 0:
        if under_ci():
            pytest.fail("this test mounts a small tmpfs and needs root")
        pytest.skip("skipped: mounting a small tmpfs needs root")
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)], check=True)
    try:
        api = warden.SafetyAPI(write_config(small))
        try:
            (small / "filler").write_bytes(b"x" * (1 << 20))
        except OSError:
            pass  # the file system is full now, as intended
        # Records still fit in the segment's last page for a while; the first
        # write that does not fit turns the log unwritable for good.
        for _ in range(50):
            try:
                api.assess_code_only(LOW)
            except warden.WardenError:
                break
        with pytest.raises(warden.WardenError, match="audit log cannot be written") as caught:
            api.assess_and_execute("print('must not run')\n")
        assert isinstance(caught.value, RuntimeError)
        assert caught.value.kind == "environment"
        assert api.get_security_status()["system_status"] == "degraded"
        assert api.get_execution_history()["recent_executions"] == []
        api.close()
    finally:
        subprocess.run(["umount", "-l", str(small)], check=True)
