"""warden.mai beyond Mai's own 13 scenarios: Mai's policy dicts and config
folder really change decisions, the asyncio face leaves the loop free,
results parse as Python values, logs go through logging, and a missing
assessor is explained. Real components throughout (heuristics assessor,
default policy, native sandbox, a per-test audit log)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path

import pytest

import warden
import warden.mai
from conftest import under_ci, write_config
from risk_samples import BLOCKED, LOW, MEDIUM

SLEEP = "import time\ntime.sleep(0.5)\nprint('slept')\n"
SECURITY = {
    "blocked_patterns": ["os.system"],
    "high_triggers": ["admin"],
    "thresholds": {"blocked_score": 10, "high_score": 7, "medium_score": 4},
}


@pytest.fixture
def mai(tmp_path: Path):
    """A warden.mai.SafetyAPI on a fresh heuristics-only config whose native
    backend runs code (skipped, failed under CI=true, when it cannot)."""
    api = warden.mai.SafetyAPI(write_config(tmp_path))
    details = api.get_security_status()["components"]["details"]
    if not details.get("sandbox:native", {}).get("available"):
        why = f"the native sandbox backend is unavailable: {details.get('sandbox:native')}"
        api.close()
        if under_ci():
            pytest.fail(why)
        pytest.skip(f"skipped: {why}")
    yield api
    api.close()


def test_thresholds_from_a_mai_policy_dict_change_the_level(mai):
    assert mai.assess_and_execute(LOW)["security"]["level"] == "LOW"
    answer = mai.configure_policies(
        {"security": dict(SECURITY, thresholds={"blocked_score": 10, "high_score": 7, "medium_score": 0})}
    )
    assert answer["response"]["updated_policies"] == ["security"]
    result = mai.assess_and_execute(LOW)
    assert result["security"]["level"] == "MEDIUM"  # score 0 >= medium_score 0
    assert result["trust_level"] == "standard"
    # The change is audited as a policy reload.
    assert mai.warden.get_audit_report()["summary"]["by_kind"]["policy_reload"] == 1


def test_mai_patterns_add_mais_points_on_reported_lines(mai):
    before = mai.assess_code_only(MEDIUM)
    assert before["security_level"] == "MEDIUM"
    mai.configure_policies({"security": dict(SECURITY, blocked_patterns=["subprocess.run"])})
    after = mai.assess_code_only(MEDIUM)
    # Two lines with subprocess.run: +5 each.
    assert after["security_score"] == before["security_score"] + 10
    assert after["security_level"] == "BLOCKED"
    assert any("Mai blocked pattern" in r for r in after["recommendations"])


def test_sandbox_limits_from_a_mai_policy_dict_are_enforced(mai):
    answer = mai.configure_policies(
        {"sandbox": {"resources": {"timeout": 2, "mem_limit": "128m", "pids_limit": 16}}}
    )
    assert answer["response"]["updated_policies"] == ["sandbox"]
    result = mai.assess_and_execute("import time\ntime.sleep(10)\nprint('woke')\n")
    limits = result["resource_limits"]["limits"]
    assert limits["pids"] == 16
    assert 2000 <= limits["wall_time_ms"] <= 3000  # grown a little by complexity
    assert result["execution"]["stdout"] == ""
    assert "wall_time" in result["execution"]["violations"]
    assert result["success"] is False


def test_bad_mai_policies_are_reported_not_raised_and_change_nothing(mai):
    answer = mai.configure_policies(
        {
            "security": {"blocked_patterns": [], "high_triggers": []},
            "sandbox": {"resources": {"timeout": -1}},
            "logging": {"level": "debug"},
        }
    )["response"]
    assert answer["updated_policies"] == []
    assert answer["failed_updates"] == ["security", "sandbox"]
    assert answer["validation_errors"] == [
        "Security policies: Missing required security policy: thresholds",
        "Sandbox policies: Timeout must be a positive number",
    ]
    assert answer["not_applied"] == ["logging: not a Mai policy section (security, sandbox)"]
    answer = mai.configure_policies({"sandbox": {"resources": {"mem_limit": "lots"}}})["response"]
    assert answer["validation_errors"] == [
        "Sandbox policies: Memory limit must end with g/m/k or be a number"
    ]
    answer = mai.configure_policies(
        {"security": dict(SECURITY, thresholds={"blocked_score": float("nan")})}
    )["response"]
    assert answer["validation_errors"] == [
        "Security policies: Security thresholds must be non-negative numbers"
    ]
    # Nothing changed: LOW code is still LOW, and no policy was reloaded.
    assert mai.assess_code_only(LOW)["security_level"] == "LOW"
    assert "policy_reload" not in mai.warden.get_audit_report()["summary"]["by_kind"]


def test_patterns_cannot_break_out_of_the_generated_lua(mai):
    hostile = '"} os.exit(1) --\n]]\\'
    answer = mai.configure_policies({"security": dict(SECURITY, blocked_patterns=[hostile, "é"])})
    assert answer["response"]["updated_policies"] == ["security"]
    assert mai.assess_code_only(LOW)["security_level"] == "LOW"


def test_mai_config_folder_is_read_for_what_maps(tmp_path: Path, monkeypatch):
    base = tmp_path / "base"
    base.mkdir()
    monkeypatch.setenv("WARDEN_CONFIG", str(write_config(base)))
    folder = tmp_path / "config" / "safety"
    folder.mkdir(parents=True)
    (folder / "security.yaml").write_text(
        "policies:\n"
        "  thresholds: {blocked_score: 10, high_score: 7, medium_score: 0}\n"
        "trusted_patterns: ['print(']\n"
        "overrides: {allow_user_override: false}\n"
    )
    (folder / "sandbox.yaml").write_text(
        "image: python:3.11-slim\nresources: {timeout: 3, mem_limit: 256m}\n"
    )
    (folder / "audit.yaml").write_text(
        "audit:\n  storage: {base_directory: logs/audit}\n  log_level: comprehensive\n"
    )
    with warden.mai.SafetyAPI(folder) as api:
        assert api.assess_code_only(LOW)["security_level"] == "MEDIUM"
        blocked = api.assess_and_execute(BLOCKED, user_override=True, user_explanation="please")
        assert blocked["blocked"] is True
        assert "allow_user_override: false" in blocked["reason"]
        report = api.config_report
    assert list((folder / "logs" / "audit").glob("seg-*.wal"))
    assert not list((base / "audit").glob("seg-*.wal"))
    assert "security.yaml trusted_patterns: no warden equivalent" in report["not_applied"]
    assert any(n.startswith("sandbox.yaml image:") for n in report["not_applied"])
    assert "audit.yaml audit.log_level: no warden equivalent" in report["not_applied"]
    assert "security policies" in report["applied"]
    assert "sandbox policies" in report["applied"]


def test_async_api_keeps_the_event_loop_running(tmp_path: Path):
    config = write_config(tmp_path)

    async def main():
        ticks = 0
        done = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        async with await warden.mai.AsyncSafetyAPI.open(config) as api:
            task = asyncio.ensure_future(ticker())
            result = await api.assess_and_execute(SLEEP)
            done.set()
            await task
            status = await api.get_security_status()
        return ticks, result, status

    ticks, result, status = asyncio.run(main())
    if not status["components"]["details"]["sandbox:native"]["available"]:
        pytest.skip("skipped: the native sandbox backend is unavailable")
    assert result["execution"]["stdout"] == "slept\n"
    # A blocked loop would not tick at all during the 0.5 s run.
    assert ticks >= 10, ticks


def test_warden_async_face_returns_warden_shapes(tmp_path: Path):
    async def main():
        api = await warden.AsyncSafetyAPI.open(write_config(tmp_path))
        try:
            return await api.assess_code_only(LOW)
        finally:
            await api.close()

    assert asyncio.run(main())["level"] == "LOW"


def _timestamps(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("timestamp", "time", "since", "assessed_at", "status_checked_at",
                       "report_generated_at", "updated_at", "retrieved_at") and item:
                yield f"{path}.{key}", item
            else:
                yield from _timestamps(item, f"{path}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _timestamps(item, f"{path}[{n}]")


def test_every_timestamp_parses_and_levels_are_an_enum(mai):
    results = [
        mai.assess_and_execute(LOW),
        mai.assess_code_only(LOW),
        mai.get_execution_history(),
        mai.get_security_status(),
        mai.get_audit_report(),
        mai.configure_policies({"security": SECURITY}),
        mai.warden.assess_and_execute(LOW),
        mai.warden.get_execution_history(),
        mai.warden.get_audit_report(),
    ]
    found = [(p, t) for r in results for p, t in _timestamps(r)]
    assert len(found) > 10
    for path, text in found:
        assert not text.endswith("Z"), path  # Python < 3.11 cannot parse a Z
        parsed = datetime.fromisoformat(text)
        assert parsed.utcoffset().total_seconds() == 0, path
    assert results[0]["security"]["level"] is warden.SecurityLevel.LOW
    assert results[1]["security_level"] is warden.SecurityLevel.LOW
    assert results[6]["level"] == "LOW" and f"{results[6]['level']}" == "LOW"


def test_core_logs_go_through_python_logging(tmp_path: Path, caplog):
    caplog.set_level(logging.INFO, logger="warden")
    with warden.SafetyAPI(write_config(tmp_path)):
        pass  # a fresh audit folder: the core makes a signing key and says so
    messages = [r.getMessage() for r in caplog.records if r.name == "warden"]
    assert any(m.startswith("created the audit signing key") for m in messages), messages


def test_a_missing_assessor_is_named_with_how_to_install_it(tmp_path: Path, caplog):
    caplog.set_level(logging.WARNING, logger="warden")
    config = write_config(
        tmp_path,
        "assessors:\n  enabled: [heuristics, bandit]\n"
        "  settings: {bandit: {python: /nonexistent/tools/bin/python}}\n",
    )
    # write_config's own assessors line comes first; this one must replace it.
    text = config.read_text().replace("assessors: {enabled: [heuristics]}\n", "")
    config.write_text(text)
    with warden.SafetyAPI(config) as api:
        first = api.assess_and_execute("print(1)\n")
        second = api.assess_and_execute("print(2)\n")
    hint = [w for w in first["warnings"] if "assessor bandit is not available" in w]
    assert hint and "pip install 'warden[assessors]'" in hint[0]
    assert first["level"] != "LOW"  # failing closed, but now with the reason
    warnings = [r.getMessage() for r in caplog.records if "is not available" in r.getMessage()]
    assert len(warnings) == 1, warnings  # said once, on the first call
    assert any("assessor bandit is not available" in w for w in second["warnings"])

    with warden.mai.SafetyAPI(config) as api:
        answer = api.assess_and_execute("print(1)\n")
    recommendations = answer["security"]["findings"]["recommendations"]
    assert any("pip install 'warden[assessors]'" in r for r in recommendations)
    assert [a["status"] for a in answer["security"]["findings"]["assessors"]] == ["ok", "unavailable"]
