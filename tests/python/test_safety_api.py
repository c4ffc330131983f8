"""Mai's 13 integration scenarios (tests/test_safety_integration.py in Mai),
done for real through the Python module: the heuristics assessor, the default
Lua policy, the native sandbox and the audit log, all as installed by pip."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

import warden
from risk_samples import BLOCKED, HIGH, LOW, MEDIUM

NO_RUN_KEYS = {"exit_code": None, "stdout": "", "resource_usage": None, "backend_run_id": ""}


def did_not_run(result: dict) -> bool:
    return all(result[key] == value for key, value in NO_RUN_KEYS.items())


def test_low_risk_code_runs_and_its_output_comes_back(api):
    result = api.assess_and_execute(LOW)
    assert result["decision"] == "ran"
    assert result["level"] == "LOW"
    assert result["trust"] == "trusted"
    assert result["override_used"] is False
    assert result["backend"] == "native"
    assert result["stdout"] == "Hello, World!\n"
    assert result["exit_code"] == 0
    assert result["warnings"] == []


def test_program_arguments_reach_sys_argv_as_they_are(api):
    code = "import sys\nprint(sys.argv[1:])\n"
    result = api.assess_and_execute(code, args=["-n", "two words", "$(id)"])
    assert result["decision"] == "ran"
    assert result["stdout"] == "['-n', 'two words', '$(id)']\n"
    with pytest.raises(TypeError):
        api.assess_and_execute(code, args="-n 3")  # a string is not a list of arguments
    with pytest.raises(ValueError, match="Too many program arguments"):
        api.assess_and_execute(code, args=["x"] * 257)


FILES_PROGRAM = """\
import hashlib
import pathlib

data = pathlib.Path("data/in.csv").read_bytes()
print(pathlib.Path("notes.txt").read_text(encoding="utf-8"))
print(hashlib.sha256(data).hexdigest())
try:
    with open("data/in.csv", "ab") as f:
        f.write(b"more")
except PermissionError:
    print("read-only")
pathlib.Path("out").mkdir()
pathlib.Path("out/result.bin").write_bytes(bytes(range(256)) + data[::-1])
"""


def test_input_files_go_in_read_only_and_the_files_left_come_back(api):
    blob = b"a,b\n1,2\n\xff\x00\x80"
    result = api.assess_and_execute(
        FILES_PROGRAM, files={"data/in.csv": blob, "notes.txt": "h\u00e9llo"}
    )
    assert result["decision"] == "ran", result["reason"]
    assert result["stderr"] == "" and result["exit_code"] == 0
    assert result["stdout"] == f"h\u00e9llo\n{hashlib.sha256(blob).hexdigest()}\nread-only\n"
    expected = bytes(range(256)) + blob[::-1]
    # Only what the program left: the input files do not come back.
    assert [f["path"] for f in result["files"]] == ["out/result.bin"]
    out = result["files"][0]
    assert out["size"] == len(expected)
    assert out["sha256"] == hashlib.sha256(expected).hexdigest()
    assert base64.b64decode(out["content_base64"]) == expected
    assert warden.output_files(result) == {"out/result.bin": expected}
    assert result["files_skipped"] == []
    # The audit log has the inputs' and the outputs' hashes.
    history = api.get_execution_history(limit=1)
    notes = "h\u00e9llo".encode()
    assert history["security_assessments"][0]["data"]["input_files"] == [
        {"path": "data/in.csv", "size": len(blob), "sha256": hashlib.sha256(blob).hexdigest()},
        {"path": "notes.txt", "size": len(notes), "sha256": hashlib.sha256(notes).hexdigest()},
    ]


def test_files_over_the_output_files_limit_are_listed_as_skipped(api):
    code = "for i in range(3):\n    open(f'f{i}.txt', 'w').write(str(i))\n"
    result = api.assess_and_execute(code, limits={"output_files": 2})
    assert result["decision"] == "ran", result["reason"]
    assert warden.output_files(result) == {"f0.txt": b"0", "f1.txt": b"1"}
    assert [(f["path"], f["size"]) for f in result["files_skipped"]] == [("f2.txt", 1)]
    assert "output_files" in result["files_skipped"][0]["reason"]


def test_bad_input_files_are_refused_before_anything_runs(api):
    code = "print('ran')\n"
    with pytest.raises(ValueError, match=r"Input file '\.\./x': the path has a \"\.\" or \"\.\.\""):
        api.assess_and_execute(code, files={"../x": b""})
    with pytest.raises(ValueError, match="Input file '/etc/x': the path is absolute"):
        api.assess_and_execute(code, files={"/etc/x": "x"})
    with pytest.raises(ValueError, match="'a' is also a folder of 'a/b'"):
        api.assess_and_execute(code, files={"a": b"", "a/b": b""})
    with pytest.raises(TypeError, match=r"files\['a'\]: the content must be bytes or str, not int"):
        api.assess_and_execute(code, files={"a": 3})
    with pytest.raises(TypeError, match="a path must be a str, not bytes"):
        api.assess_and_execute(code, files={b"a": b""})
    with pytest.raises(TypeError, match="files must be a mapping"):
        api.assess_and_execute(code, files=[("a", b"")])
    assert api.get_execution_history()["recent_executions"] == []


def test_medium_risk_runs_with_warnings_and_standard_trust(api):
    result = api.assess_and_execute(MEDIUM)
    assert result["level"] == "MEDIUM"
    assert result["decision"] == "ran"
    assert result["trust"] == "standard"
    assert any("subprocess" in w for w in result["warnings"])
    assert result["stdout"] == "medium\n"


def test_high_risk_does_not_run_without_confirmation_and_runs_with_it(api):
    unconfirmed = api.assess_and_execute(HIGH)
    assert unconfirmed["level"] == "HIGH"
    assert unconfirmed["decision"] == "needs_confirmation"
    assert did_not_run(unconfirmed)

    confirmed = api.assess_and_execute(HIGH, confirm=True)
    assert confirmed["decision"] == "ran"
    assert confirmed["trust"] == "untrusted"
    assert confirmed["stdout"] == "no shadow\n1\n"
    report = api.get_audit_report()
    assert report["summary"]["confirmations"] == 1
    assert report["summary"]["awaiting_confirmation"] == 1


def test_blocked_code_is_refused_without_an_override(api):
    result = api.assess_and_execute(BLOCKED)
    assert result["level"] == "BLOCKED"
    assert result["decision"] == "blocked"
    assert "blocked by security assessment" in result["reason"]
    assert result["override_used"] is False
    assert did_not_run(result)
    assert api.get_execution_history()["recent_executions"] == []


def test_blocked_code_with_an_explained_override_runs_untrusted_and_is_audited(api):
    explanation = "I wrote this cleanup myself"
    result = api.assess_and_execute(
        BLOCKED, user_override=True, user_explanation=explanation, user="mai"
    )
    assert result["decision"] == "ran"
    assert result["override_used"] is True
    assert result["trust"] == "untrusted"
    assert result["stdout"] == "ran anyway\n"

    # The same untrusted limits a confirmed HIGH run gets (by trust, not complexity).
    high = api.assess_and_execute(HIGH, confirm=True)
    for name in ("pids", "open_files", "file_size_bytes", "output_bytes"):
        assert result["limits"][name] == high["limits"][name], name

    overrides = api.get_audit_report()["summary"]["overrides"]
    assert len(overrides) == 1
    assert overrides[0]["explanation"] == explanation
    assert overrides[0]["allowed"] is True
    assert overrides[0]["request_id"] == result["request_id"]
    assert overrides[0]["user"] == "mai"


def test_limits_grow_with_complexity_and_the_sandbox_sees_them(api):
    probe = (
        "import resource\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[1],"
        " resource.getrlimit(resource.RLIMIT_FSIZE)[1],"
        " resource.getrlimit(resource.RLIMIT_CPU)[0])\n"
    )
    complex_code = probe + "".join(
        f"def f{i}(x):\n    for y in x:\n        if y:\n            return y\n" for i in range(40)
    )
    simple = api.assess_and_execute(probe)
    complex_ = api.assess_and_execute(complex_code)
    assert simple["decision"] == complex_["decision"] == "ran"
    assert complex_["limits"]["memory_bytes"] > simple["limits"]["memory_bytes"]
    assert complex_["limits"]["wall_time_ms"] > simple["limits"]["wall_time_ms"]
    for run in (simple, complex_):
        limits = run["limits"]
        cpu_seconds = -(-limits["cpu_time_ms"] // 1000)
        expected = f"{limits['open_files']} {limits['file_size_bytes']} {cpu_seconds}\n"
        assert run["stdout"] == expected
        assert 0 < run["resource_usage"]["peak_memory_bytes"] <= limits["memory_bytes"]


def test_every_operation_leaves_its_audit_records(api):
    ran = api.assess_and_execute(LOW)
    blocked = api.assess_and_execute(BLOCKED)
    assessed = api.assess_code_only(LOW)
    history = api.get_execution_history(limit=10)
    ids = {
        bucket: [entry["id"] for entry in history[bucket]]
        for bucket in ("security_assessments", "recent_decisions", "recent_executions")
    }
    # Newest first: assess_code_only, then the blocked request, then the run.
    assert ids["security_assessments"] == [
        assessed["audit_id"],
        blocked["audit_ids"][0],
        ran["audit_ids"][0],
    ]
    assert blocked["audit_ids"] == [ids["security_assessments"][1], ids["recent_decisions"][0]]
    assert len(ran["audit_ids"]) == 4  # assessment, decision, run_start, run_result
    assert ids["recent_decisions"][1] in ran["audit_ids"]
    assert ids["recent_executions"] == [ran["audit_ids"][-1]]
    by_kind = api.get_audit_report()["summary"]["by_kind"]
    assert by_kind["system_start"] == 1
    assert by_kind["policy_load"] >= 1
    assert by_kind["run_start"] == by_kind["run_result"] == 1


def test_a_tampered_audit_log_shows_up_in_the_security_status(api, tmp_path: Path):
    api.assess_and_execute(LOW)
    status = api.get_security_status()
    assert status["audit_integrity"]["valid"] is True
    assert status["system_status"] == "operational"

    segment = tmp_path / "audit" / "seg-00000001.wal"
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0x20
    segment.write_bytes(bytes(data))

    status = api.get_security_status()
    assert status["audit_integrity"]["valid"] is False
    assert status["system_status"] == "degraded"
    assert api.get_audit_report()["integrity_check"]["intact"] is False


def test_the_result_has_the_keys_of_the_json(api):
    result = api.assess_and_execute(LOW, metadata={"conversation": "c-1", "turn": 3})
    assert set(result) == set(warden.ExecutionResult.__annotations__)
    assert re.fullmatch(r"r-[0-9a-f]{16}", result["request_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", result["timestamp"])
    assert set(result["resource_usage"]) == set(warden.ResourceUsage.__annotations__)
    assert result["resource_usage"]["wall_time_ms"] > 0
    assert isinstance(result["findings"], list)
    assessment = api.get_execution_history(limit=1)["security_assessments"][0]
    assert assessment["data"]["metadata"] == {"conversation": "c-1", "turn": 3}


def test_bad_input_raises_value_error_with_mais_messages(open_api):
    api = open_api("requests: {max_code_size: 1KiB, max_explanation_chars: 20}\n")
    cases = [
        (dict(code=""), "Code cannot be empty"),
        (dict(code="  \n\t"), "Code cannot be empty"),
        (dict(code=None), "Code cannot be empty"),
        (dict(code="#" * 1025), "Code too large (max 1KB)"),
        (dict(code=BLOCKED, user_override=True), "User override requires explanation"),
        (
            dict(code=BLOCKED, user_override=True, user_explanation=" "),
            "User override requires explanation",
        ),
        (
            dict(code=BLOCKED, user_override=True, user_explanation="x" * 21),
            "Override explanation too long (max 20 characters)",
        ),
        (dict(code=LOW, backend="kubernetes"), "Unknown backend 'kubernetes' (loaded: native)"),
        (
            dict(code=LOW, limits={"memory": "64GiB"}),
            "limit 'memory' = '64GiB': above the ceiling of 2 GiB",
        ),
        (dict(code=LOW, limits={"wall_time": "1h"}), "limit 'wall_time' = '1h': above the ceiling"),
        (dict(code=LOW, limits={"disk": "1GiB"}), "limit 'disk' = '1GiB': unknown limit"),
        (dict(code=LOW, metadata="not a dict"), "Metadata must be a dictionary"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            api.assess_and_execute(**kwargs)
    with pytest.raises(ValueError, match="^Code cannot be empty$"):
        api.assess_code_only("")
    for limit in (0, -1, "10", 2.5, True):
        with pytest.raises(ValueError, match="^Limit must be a positive integer$"):
            api.get_execution_history(limit)
    for hours in (-1, "24", 1.5):
        with pytest.raises(ValueError, match="^time_range_hours must be a positive integer$"):
            api.get_audit_report(hours)
    with pytest.raises(ValueError, match="^Policies must be a dictionary$"):
        api.configure_policies("policies/strict")
    # None of them was decided or run. (Requested limits are checked after the
    # assessment, so those three requests leave an assessment record.)
    summary = api.get_audit_report()["summary"]
    assert "decision" not in summary["by_kind"]
    assert "run_start" not in summary["by_kind"]


def test_mais_default_limits_100kb_and_500_characters(open_api):
    api = open_api()
    with pytest.raises(ValueError, match=re.escape("Code too large (max 100KB)")):
        api.assess_and_execute("#" * (100 * 1024 + 1))
    too_long = "Override explanation too long (max 500 characters)"
    with pytest.raises(ValueError, match=re.escape(too_long)):
        api.assess_and_execute(BLOCKED, user_override=True, user_explanation="é" * 501)
    # 500 characters (1000 bytes of UTF-8) are accepted: characters, not bytes, count.
    result = api.assess_and_execute(BLOCKED, user_override=True, user_explanation="é" * 500)
    assert result["override_used"] is True


def test_execution_history_comes_from_the_audit_log(api):
    for _ in range(3):
        api.assess_and_execute(LOW)
    api.assess_and_execute(BLOCKED)
    history = api.get_execution_history(limit=2)
    assert history["limit"] == 2
    assert len(history["recent_executions"]) == 2
    assert len(history["security_assessments"]) == 2
    assert history["security_assessments"][0]["data"]["level"] == "BLOCKED"
    assert history["recent_executions"][0]["data"]["stdout_bytes"] == len("Hello, World!\n")
    assert len(api.get_execution_history()["recent_executions"]) == 3
    report = api.get_audit_report(24)
    assert report["report_period_hours"] == 24
    assert report["summary"]["runs"] == 3
    assert report["summary"]["blocked_attempts"] == 1
    assert report["integrity_check"]["intact"] is True


def test_security_status_reports_every_component(api):
    status = api.get_security_status()
    assert status["system_status"] == "operational"
    components = status["components"]
    assert components["assessor:heuristics"]["available"] is True
    assert components["sandbox:native"]["available"] is True
    assert components["audit_log"]["writable"] is True
    installed_default = Path(warden.data_directory()) / "policies" / "default"
    assert Path(components["policy"]["directory"]) == installed_default
    assert status["audit_integrity"]["valid"] is True
    assert status["system_resources"]
    assert status["status_checked_at"]


def test_configure_policies_changes_the_next_decision(api):
    assert api.assess_and_execute(LOW)["decision"] == "ran"
    default = Path(warden.data_directory()) / "policies" / "default"
    files = {
        p.name: p.read_text() for p in default.glob("*.lua") if not p.name.endswith("_test.lua")
    }
    assert "MEDIUM = 4, HIGH = 7, BLOCKED = 10" in files["risk.lua"]
    files["risk.lua"] = files["risk.lua"].replace(
        "MEDIUM = 4, HIGH = 7, BLOCKED = 10", "MEDIUM = 0, HIGH = 0, BLOCKED = 10"
    )
    response = api.configure_policies({"files": files})
    assert response["updated_policies"] and response["failed_updates"] == []
    assert api.assess_and_execute(LOW)["decision"] == "needs_confirmation"

    with pytest.raises(ValueError, match="risk.lua"):
        api.configure_policies({"files": {"risk.lua": "function classify(a) return {"}})
    assert api.assess_and_execute(LOW)["decision"] == "needs_confirmation"  # the old one stays

    api.configure_policies({"directory": default})
    assert api.assess_and_execute(LOW)["decision"] == "ran"
    assert api.get_audit_report()["summary"]["by_kind"]["policy_reload"] == 2


def test_explain_is_a_dry_run_that_agrees_with_the_run(api):
    before = api.get_execution_history(50)["summary"]
    blocked = api.explain(BLOCKED)
    assert blocked["outcome"] == "blocked"
    assert blocked["if_overridden"]["trust"]["trust"] == "untrusted"
    assert api.get_execution_history(50)["summary"] == before  # nothing recorded

    plan = api.explain(BLOCKED, user_override=True, user_explanation="my own cleanup")
    ran = api.assess_and_execute(BLOCKED, user_override=True, user_explanation="my own cleanup")
    assert plan["outcome"] == "ran" == ran["decision"]
    assert plan["limits"]["backend"] == ran["backend"]


def test_assess_code_only_names_the_program_by_its_file(api):
    assessed = api.assess_code_only(LOW, file_name="tool.py")
    assert assessed["assessment"]["file"] == "tool.py"
