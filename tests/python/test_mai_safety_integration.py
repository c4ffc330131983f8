"""Mai's integration tests, against warden.mai.SafetyAPI with real components.

Ported from MystiaTech/Mai, tests/test_safety_integration.py (the 13
scenarios of its TestSafetyIntegration, same names, same order). What changed:

- Mai patched SecurityAssessor, SandboxExecutor, AuditLogger and psutil with
  mocks and set the level each test wanted. Here nothing is mocked: the code
  goes through warden's real assessors (heuristics, and Bandit and Semgrep
  from the tools venv), the default Lua policy, the native sandbox (bwrap) and
  the audit log, which each test has in its own folder. Each test's code is
  chosen so that the real assessment gives the level the scenario is about
  (samples below); the assertions on mock calls became assertions on the
  records the audit log really holds.
- test_high_risk_requires_user_confirmation follows Mai's documents (HIGH
  needs confirmation) rather than Mai's coordinator (ran HIGH with a log
  warning): without ``user_override`` HIGH code is not run; with it and an
  explanation it runs untrusted.
- test_hash_chain_tampering_detected flips a real byte of the log instead of
  a mock's verify_chain answer, and reads Mai's real key ``tampered_entries``
  (the mock's ``tampered_entry`` was not what Mai's logger returns).
- The ``test_api_*`` tests call the API with real code instead of replacing
  coordinator methods with mocks; the expected values follow from the code.

Under CI=true a missing Bandit, Semgrep or bwrap fails these tests; locally
they are skipped with the reason.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Iterator

import pytest

from conftest import under_ci
from warden.mai import SafetyAPI

# Code the real assessors and the default policy put at each level. Mai's own
# samples score differently here (its eval('__import__("os")...') is MEDIUM:
# one critical finding, 5 points), so each scenario uses code that really is
# at the level it is about.
LOW_CODE = "print('Hello, World!')"
MEDIUM_CODE = "import os\nos.system('echo File processed')\n"
HIGH_CODE = (
    "import ctypes\nimport pickle\ntry:\n    print(open('/etc/shadow').read())\n"
    "except OSError:\n    print('System info retrieved')\n"
)
BLOCKED_CODE = "import os\nos.system('rm -rf /tmp/mai-test-nothing')\n"
BLOCKED_OVERRIDE_CODE = "import os\nos.system('rm -rf /tmp/mai-test-nothing')\nprint('test')\n"

def mai_config(directory: Path) -> Path:
    """A warden.yaml with every assessor of the default configuration and the
    native sandbox, its audit log in ``directory``."""
    config = directory / "warden.yaml"
    config.write_text(
        "log_level: warn\n"
        # A deadline for a loaded test machine: a late assessor raises the level.
        "assessors: {enabled: [heuristics, bandit, semgrep], deadline: 2m}\n"
        "backends: {enabled: [native]}\n"
        "audit:\n"
        f"  directory: {directory / 'audit'}\n"
        f"  signing_key: {directory / 'keys' / 'audit.key'}\n"
    )
    return config


def require_components(api: SafetyAPI) -> None:
    """Skips (fails under CI=true) unless every real component is there."""
    details = api.get_security_status()["components"]["details"]
    missing = [
        f"{name}: {info.get('reason') or 'not loaded'}"
        for name in ("assessor:heuristics", "assessor:bandit", "assessor:semgrep", "sandbox:native")
        for info in [details.get(name, {})]
        if not info.get("available")
    ]
    if missing:
        why = "Mai's scenarios need real components: " + "; ".join(missing)
        if under_ci():
            pytest.fail(why)
        pytest.skip(f"skipped: {why}")


def audit_records(api: SafetyAPI, kind: str) -> list:
    """The audit log's records of one kind, newest first (warden's face)."""
    history = api.warden.get_execution_history(100)
    return history[kind]


class TestSafetyIntegration:
    """Integration tests for complete safety system."""

    @pytest.fixture
    def temp_config_dir(self, tmp_path: Path) -> Path:
        return tmp_path

    @pytest.fixture
    def safety_api(self, temp_config_dir: Path) -> Iterator[SafetyAPI]:
        api = SafetyAPI(mai_config(temp_config_dir))
        try:
            require_components(api)
            yield api
        finally:
            api.close()

    def test_low_risk_code_executes_successfully(self, safety_api):
        result = safety_api.assess_and_execute(LOW_CODE)

        assert result["success"] is True
        assert result["security"]["level"] == "LOW"
        assert result["blocked"] is False
        assert result["security"]["override_used"] is False
        assert result["execution"]["stdout"] == "Hello, World!\n"
        assert result["trust_level"] == "trusted"

        # Assessed once, with this code; run once.
        assessments = audit_records(safety_api, "security_assessments")
        assert [a["data"]["code"] for a in assessments] == [LOW_CODE]
        runs = audit_records(safety_api, "recent_executions")
        assert [r["data"]["request_id"] for r in runs] == [result["request_id"]]

    def test_medium_risk_executes_with_warnings(self, safety_api):
        result = safety_api.assess_and_execute(MEDIUM_CODE)

        assert result["success"] is True
        assert result["security"]["level"] == "MEDIUM"
        assert result["trust_level"] == "standard"
        assert result["blocked"] is False
        assert result["security"]["findings"]["recommendations"]  # the warnings

        # The sandbox ran it with the standard trust level's limits.
        assert result["execution"]["trust_level"] == "standard"
        decisions = audit_records(safety_api, "recent_decisions")
        assert decisions[0]["data"]["outcome"] == "run"
        assert decisions[0]["data"]["trust"] == "standard"

    def test_high_risk_requires_user_confirmation(self, safety_api):
        unconfirmed = safety_api.assess_and_execute(HIGH_CODE)

        assert unconfirmed["success"] is False
        assert unconfirmed["security"]["level"] == "HIGH"
        assert unconfirmed["blocked"] is True
        assert "user_override=True" in unconfirmed["reason"]
        assert "execution" not in unconfirmed
        assert audit_records(safety_api, "recent_executions") == []

        result = safety_api.assess_and_execute(
            HIGH_CODE, user_override=True, user_explanation="I want to see the system info"
        )

        assert result["success"] is True
        assert result["security"]["level"] == "HIGH"
        assert result["trust_level"] == "untrusted"
        assert result["blocked"] is False
        assert result["execution"]["stdout"] == "System info retrieved\n"
        assert result["execution"]["trust_level"] == "untrusted"
        assert safety_api.warden.get_audit_report()["summary"]["confirmations"] == 1

    def test_blocked_code_blocked_without_override(self, safety_api):
        result = safety_api.assess_and_execute(BLOCKED_CODE)

        assert result["success"] is False
        assert result["blocked"] is True
        assert result["security"]["level"] == "BLOCKED"
        assert result["security"]["override_used"] is False
        assert "blocked by security assessment" in result["reason"]

        # Nothing ran, and the refusal is in the audit log.
        assert audit_records(safety_api, "recent_executions") == []
        decision = audit_records(safety_api, "recent_decisions")[0]["data"]
        assert decision["outcome"] == "blocked"
        assert decision["request_id"] == result["request_id"]

    def test_blocked_code_executes_with_user_override(self, safety_api):
        explanation = "Testing eval functionality for educational purposes"
        result = safety_api.assess_and_execute(
            BLOCKED_OVERRIDE_CODE, user_override=True, user_explanation=explanation
        )

        assert result["success"] is True
        assert result["security"]["level"] == "BLOCKED"
        assert result["blocked"] is False
        assert result["security"]["override_used"] is True
        assert result["trust_level"] == "untrusted"
        assert result["execution"]["stdout"].endswith("test\n")
        assert result["execution"]["trust_level"] == "untrusted"

        # The override, with its explanation, is in the audit log.
        overrides = safety_api.warden.get_audit_report()["summary"]["overrides"]
        assert [(o["explanation"], o["allowed"]) for o in overrides] == [(explanation, True)]
        assert overrides[0]["request_id"] == result["request_id"]

    def test_resource_limits_adapt_to_code_complexity(self, safety_api):
        simple_code = "print('hello')"
        result = safety_api.assess_and_execute(simple_code)
        simple_limits = result["resource_limits"]

        complex_code = """
def complex_function(data):
    result = []
    for item in data:
        if item % 2 == 0:
            result.append(item * 2)
        else:
            result.append(item + 1)
    return result

# Test the function
test_data = list(range(100))
output = complex_function(test_data)
print(f"Processed {len(output)} items")
"""
        result = safety_api.assess_and_execute(complex_code)
        complex_limits = result["resource_limits"]

        assert result["execution"]["stdout"] == "Processed 100 items\n"
        assert complex_limits["complexity_score"] > simple_limits["complexity_score"]
        assert complex_limits["code_lines"] > simple_limits["code_lines"]
        # warden applies them: the sandbox got more time for the complex code.
        assert complex_limits["timeout_seconds"] > simple_limits["timeout_seconds"]

    def test_audit_logs_created_for_all_operations(self, safety_api):
        code = "print('test')"
        result = safety_api.assess_and_execute(code)

        assessments = audit_records(safety_api, "security_assessments")
        executions = audit_records(safety_api, "recent_executions")
        assert len(assessments) == 1
        assert len(executions) == 1

        # The assessment record holds the assessment and the code; the
        # execution record the code's result; both carry the request.
        assessment = assessments[0]["data"]
        assert assessment["level"] == "LOW"
        assert assessment["code"] == code
        assert "summary" in assessment
        execution = executions[0]["data"]
        assert execution["exit_code"] == 0
        assert execution["stdout_bytes"] == len("test\n")
        assert assessment["request_id"] == execution["request_id"] == result["request_id"]

    def test_hash_chain_tampering_detected(self, temp_config_dir):
        with SafetyAPI(mai_config(temp_config_dir)) as api:
            api.assess_code_only("print('before the damage')")
            assert api.get_security_status()["audit_integrity"]["valid"] is True

            segment = sorted((temp_config_dir / "audit").glob("seg-*.wal"))[0]
            data = bytearray(segment.read_bytes())
            data[len(data) // 2] ^= 0x01  # one flipped bit in the middle of a record
            segment.write_bytes(bytes(data))

            status = api.get_security_status()

        assert status["audit_integrity"]["valid"] is False
        assert status["audit_integrity"]["tampered_entries"]
        assert status["system_status"] == "degraded"

    def test_api_assess_and_execute_interface(self, safety_api):
        result = safety_api.assess_and_execute("print('success')")

        assert "request_id" in result
        assert result["success"] is True
        assert result["security"]["level"] == "LOW"
        assert result["execution"]["stdout"] == "success\n"
        assert "timestamp" in result
        assert datetime.fromisoformat(result["timestamp"]).utcoffset().total_seconds() == 0

    def test_api_input_validation(self, safety_api):
        with pytest.raises(ValueError, match="Code cannot be empty"):
            safety_api.assess_and_execute("")

        with pytest.raises(ValueError, match="User override requires explanation"):
            safety_api.assess_and_execute("print('test')", user_override=True)

        large_code = "x" * 100001  # Over 100KB
        with pytest.raises(ValueError, match="Code too large"):
            safety_api.assess_and_execute(large_code)

        # None of them reached the assessors or the audit log.
        assert audit_records(safety_api, "security_assessments") == []

    def test_api_get_execution_history(self, safety_api):
        for n in range(5):
            safety_api.assess_and_execute(f"print({n})")

        result = safety_api.get_execution_history(limit=10)

        assert result["request"]["limit"] == 10
        assert result["response"]["recent_executions"] == 5
        assert result["response"]["security_assessments"] == 5
        assert result["response"]["resource_violations"] == 0
        assert "retrieved_at" in result

    def test_api_get_security_status(self, safety_api):
        result = safety_api.get_security_status()

        assert result["system_status"] == "operational"
        assert result["components"]["security_assessor"] == "active"
        assert result["components"]["sandbox_executor"] == "active"
        assert result["components"]["audit_logger"] == "active"
        assert result["audit_integrity"]["valid"] is True
        assert "status_checked_at" in result

    def test_api_configure_policies_validation(self, safety_api):
        with pytest.raises(ValueError, match="Policies must be a dictionary"):
            safety_api.configure_policies("invalid")

        invalid_security = {
            "security": {
                "blocked_patterns": [],
                "thresholds": {"blocked_score": "invalid"},  # Should be number
            }
        }
        result = safety_api.configure_policies(invalid_security)
        assert "validation_errors" in result["response"]
        assert "security" in result["response"]["failed_updates"]

        valid_policies = {
            "security": {
                "blocked_patterns": ["os.system"],
                "high_triggers": ["admin"],
                "thresholds": {"blocked_score": 10, "high_score": 7, "medium_score": 4},
            }
        }
        result = safety_api.configure_policies(valid_policies)
        assert "security" in result["response"]["updated_policies"]
        assert result["response"]["failed_updates"] == []
