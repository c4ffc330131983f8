"""Mai's ``SafetyAPI``, on warden: the drop-in for ``src.safety.api.SafetyAPI``
of MystiaTech/Mai.

Every method takes Mai's arguments, raises Mai's ``ValueError`` texts and
returns Mai's shapes key by key (``src/safety/api.py`` wrapping
``src/safety/coordinator.py``), filled from what warden really did: the
assessors' findings, the policy's level and limits, the sandbox's run and the
audit log. Keys Mai's code fills with values warden does not have are left
out rather than made up; a few keys are added where Mai's callers need them
(listed in docs/embedding.md, "Mai's shapes").

Where Mai's documents and Mai's code disagree, this follows the documents:

- HIGH runs only when the user confirms (Mai's 02-CONTEXT, the 02-01 table
  and ``security.yaml``'s ``overrides.require_confirmation: [BLOCKED, HIGH]``;
  Mai's coordinator ran it with a warning). A Mai caller confirms the way it
  overrides BLOCKED: ``user_override=True`` with a ``user_explanation``.
  Without it the answer is ``blocked: True`` with a ``reason`` saying so, and
  ``security.level == "HIGH"`` tells it apart from BLOCKED.
- ``resource_limits`` are the limits the sandbox enforced (Mai computed
  them and never applied them).
- ``configure_policies`` applies what it validates (Mai only validated).

warden's own face, with warden's result shapes, is :class:`warden.SafetyAPI`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

from warden import mai_policy
from warden._locations import default_config_path
from warden.api import SafetyAPI as WardenSafetyAPI
from warden.api import assessor_hints
from warden.results import SecurityLevel

__all__ = ["AsyncSafetyAPI", "SafetyAPI", "SecurityLevel"]

logger = logging.getLogger("warden.mai")

PathLike = Union[str, "os.PathLike[str]"]

_MAX_CODE_CHARS = 100000  # Mai's limit, in characters
_MAX_EXPLANATION_CHARS = 500
_GIB = 1024**3
_MIB = 1024**2


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _validate_code(code: Any, user_override: bool, user_explanation: Optional[str]) -> None:
    """Mai's input checks, with Mai's texts (api.py _validate_code_input)."""
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, not {type(code).__name__}")
    if not code or not code.strip():
        raise ValueError("Code cannot be empty")
    if len(code) > _MAX_CODE_CHARS:
        raise ValueError("Code too large (max 100KB)")
    if user_explanation is not None and not isinstance(user_explanation, str):
        raise TypeError(f"user_explanation must be a str, not {type(user_explanation).__name__}")
    if user_override and not user_explanation:
        raise ValueError("User override requires explanation")
    if user_explanation and len(user_explanation) > _MAX_EXPLANATION_CHARS:
        raise ValueError("Override explanation too long (max 500 characters)")


def mai_findings(result: Mapping[str, Any], hints: List[str]) -> Dict[str, Any]:
    """Mai's findings dict (src/security/assessor.py) from a warden result:
    Bandit's and Semgrep's findings under Mai's keys, every other assessor's
    (warden's heuristics, which do what Mai's custom analysis did) by name
    under ``custom_analysis``, the policy's score, and as recommendations the
    policy's reasons plus how to install a missing assessor. ``assessors``
    (added) says which assessors answered."""
    by_assessor: Dict[str, List[Dict[str, Any]]] = {}
    for finding in result.get("findings", []):
        by_assessor.setdefault(finding["assessor"], []).append(finding)
    assessors = result.get("assessment", {}).get("assessors", result.get("assessors", []))
    return {
        "bandit_results": by_assessor.pop("bandit", []),
        "semgrep_results": by_assessor.pop("semgrep", []),
        "custom_analysis": by_assessor,
        "security_score": result.get("score", 0),
        "recommendations": list(result.get("reasons", [])) + hints,
        "assessors": [
            {"name": a["name"], "status": a["status"], "reason": a.get("reason", "")}
            for a in assessors
        ],
    }


def _system_memory_available_gb() -> Optional[float]:
    """MemAvailable from /proc/meminfo, in GiB (what Mai read with psutil)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return round(int(line.split()[1]) * 1024 / _GIB, 2)
    except OSError:
        pass
    return None


def mai_resource_limits(result: Mapping[str, Any]) -> Dict[str, Any]:
    """Mai's ``resource_limits`` from the limits the sandbox enforced and the
    code's metrics (Mai's complexity score is warden's ``metrics.complexity``,
    0..1, the one the policy grew the limits by)."""
    limits = result["limits"]
    metrics = result.get("assessment", {}).get("metrics", {})
    return {
        "cpu_count": limits["cpus"],
        "memory_limit_gb": round(limits["memory_bytes"] / _GIB, 2),
        "timeout_seconds": limits["wall_time_ms"] / 1000,
        "code_lines": metrics.get("lines", 0),
        "complexity_score": metrics.get("complexity", 0.0),
        "system_cpu_count": os.cpu_count(),
        "system_memory_gb": _system_memory_available_gb(),
        "limits": limits,  # added: every limit, in warden's units (bytes, ms)
    }


def mai_execution(result: Mapping[str, Any]) -> Dict[str, Any]:
    """Mai's ``execution`` (SandboxExecutor.execute_code) from the run."""
    usage = result["resource_usage"] or {}
    exit_code = result["exit_code"]
    if exit_code is None and result["signal"] is not None:
        exit_code = -result["signal"]  # as subprocess reports a signal
    wall_ms = usage.get("wall_time_ms", 0)
    peak = usage.get("peak_memory_bytes", 0)
    memory_limit = result["limits"]["memory_bytes"]
    violations = list(result["limits_hit"])
    for flag, name in (
        ("timed_out", "wall_time"),
        ("cpu_time_exceeded", "cpu_time"),
        ("oom_killed", "memory"),
        ("output_truncated", "output"),
    ):
        if result[flag] and name not in violations:
            violations.append(name)
    execution = {
        "success": exit_code == 0,
        "exit_code": exit_code,
        "stdout": result["stdout"],
        "stderr": result["stderr"],
        "execution_time": round(wall_ms / 1000, 3),
        "resource_usage": {
            "cpu_percent": round(100 * usage.get("cpu_time_ms", 0) / wall_ms, 1) if wall_ms else 0.0,
            "memory_usage_mb": round(peak / _MIB, 2),
            "memory_limit_mb": round(memory_limit / _MIB, 2),
            "memory_percent": round(100 * peak / memory_limit, 2) if memory_limit else 0.0,
            **usage,  # added: warden's own peak_memory_bytes, cpu_time_ms, wall_time_ms
        },
        "trust_level": result["trust"],
        "container_id": result["backend_run_id"][:12] or None,
        "backend": result["backend"],  # added
        "violations": violations,  # added: the limits that stopped it
    }
    for flag in ("stdout_replaced", "stderr_replaced"):  # non-UTF-8 output, where the core says
        if flag in result:
            execution[flag] = result[flag]
    return execution


def mai_integrity(report: Mapping[str, Any]) -> Dict[str, Any]:
    """Mai's verify_chain() shape from warden's verification of the log
    (``valid`` too, the key Mai's tests read), with warden's report kept."""
    intact = bool(report.get("valid", report.get("intact", False)))
    tampered = []
    if not intact:
        bad = report.get("bad_record") or {}
        tampered.append(
            {
                "entry_index": bad.get("index"),
                "segment": bad.get("segment"),
                "offset": bad.get("offset"),
                "issue": report.get("reason", ""),
            }
        )
    out = dict(report)
    out.update(
        {
            "valid": intact,
            "is_valid": intact,
            "total_entries": report.get("records", 0),
            "tampered_entries": tampered,
            "broken_links": [],  # warden's chain reports the first bad record as tampered
        }
    )
    return out


def mai_summary(summary: Mapping[str, Any]) -> Dict[str, Any]:
    """Mai's get_security_summary() shape from warden's audit summary."""
    by_kind = summary.get("by_kind", {})
    return {
        "time_range_hours": summary.get("time_range_hours"),
        "total_events": summary.get("total_records", 0),
        "event_types": by_kind,
        "security_levels": summary.get("by_level", {}),
        "resource_violations": len(summary.get("resource_violations", [])),
        "code_executions": summary.get("runs", 0),
        "security_assessments": by_kind.get("assessment", 0),
        "details": summary,  # added: warden's summary (overrides with explanations, ...)
    }


def _read_yaml(path: Path) -> Dict[str, Any]:
    """A YAML file of Mai's config folder as a dict; a missing file is {}."""
    import yaml  # PyYAML, a dependency of the package

    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top")
    return data


class MaiConfigFolder:
    """Mai's ``config/safety`` folder (security.yaml, sandbox.yaml, audit.yaml)
    read for what maps onto warden; ``not_applied`` lists the rest."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.security = _read_yaml(folder / "security.yaml")
        self.sandbox = _read_yaml(folder / "sandbox.yaml")
        self.audit = _read_yaml(folder / "audit.yaml")
        self.applied: List[str] = []
        self.not_applied: List[str] = []

    def policies(self) -> Dict[str, Any]:
        """The parts of security.yaml and sandbox.yaml that are policies."""
        policies: Dict[str, Any] = {}
        security = dict(self.security.get("policies") or {})
        if security:
            # Mai's assessor put the YAML over its built-in lists; here a list
            # left out stays warden's (no extra patterns), not Mai's defaults.
            security.setdefault("blocked_patterns", [])
            security.setdefault("high_triggers", [])
            security.setdefault("thresholds", {})
            overrides = self.security.get("overrides")
            if isinstance(overrides, dict) and "allow_user_override" in overrides:
                security["overrides"] = {"allow_user_override": overrides["allow_user_override"]}
            policies["security"] = security
        sandbox = {k: self.sandbox[k] for k in ("resources", "trust_levels") if k in self.sandbox}
        if sandbox:
            policies["sandbox"] = sandbox
        for key in self.security:
            if key not in ("policies", "overrides", "tools", "assessment"):
                self.not_applied.append(f"security.yaml {key}: no warden equivalent")
        for key in self.sandbox:
            if key not in ("resources", "trust_levels"):
                self.not_applied.append(
                    f"sandbox.yaml {key}: no warden equivalent (warden's sandbox sets its own"
                    " hardening: no network, read-only root, no capabilities)"
                )
        return policies

    def config_changes(self) -> Dict[str, Any]:
        """warden.yaml keys from the folder: the audit log's folder (audit.yaml
        storage.base_directory; Mai's default <folder>/audit), its retention,
        the enabled assessors (security.yaml tools.*.enabled) and the largest
        program (assessment.max_code_length)."""
        changes: Dict[str, Any] = {}
        audit = self.audit.get("audit") or {}
        storage = audit.get("storage") or {}
        base = Path(storage.get("base_directory", "audit"))
        audit_dir = base if base.is_absolute() else self.folder / base
        changes["audit.directory"] = str(audit_dir)
        changes["audit.signing_key"] = str(audit_dir.parent / "keys" / "audit.key")
        self.applied.append(f"audit log in {audit_dir}")
        retention = audit.get("retention") or {}
        if "period_days" in retention:
            changes["audit.retention.max_age"] = f"{int(retention['period_days']) * 24 * 60}m"
            self.applied.append(f"audit retention {retention['period_days']} days")
        for key in audit:
            if key not in ("storage", "retention"):
                self.not_applied.append(f"audit.yaml audit.{key}: no warden equivalent")
        for key in self.audit:
            if key != "audit":
                self.not_applied.append(f"audit.yaml {key}: no warden equivalent")
        tools = self.security.get("tools") or {}
        disabled = [name for name in ("bandit", "semgrep") if (tools.get(name) or {}).get("enabled") is False]
        if disabled:
            changes["assessors.disabled"] = disabled
            self.applied.append(f"assessors disabled: {disabled}")
        for name, settings in tools.items():
            for key in settings or {}:
                if key != "enabled":
                    self.not_applied.append(
                        f"security.yaml tools.{name}.{key}: warden runs {name} with its own settings"
                    )
        assessment = self.security.get("assessment") or {}
        if "max_code_length" in assessment:
            changes["requests.max_code_size"] = int(assessment["max_code_length"])
            self.applied.append(f"max code size {assessment['max_code_length']}")
        for key in assessment:
            if key != "max_code_length":
                self.not_applied.append(f"security.yaml assessment.{key}: no warden equivalent")
        return changes


def _absolute_paths(config: Dict[str, Any], base: Path) -> None:
    """Makes the relative paths of a loaded warden.yaml absolute (relative to
    the file's folder, as warden reads them), so it can be written elsewhere."""

    def fix(value: Any) -> Any:
        if isinstance(value, str) and value and not value.startswith(("/", "~", "$")):
            return str(base / value)
        return value

    policies = config.get("policies") or {}
    if "directory" in policies:
        policies["directory"] = fix(policies["directory"])
    plugins = config.get("plugins") or {}
    if "directories" in plugins:
        plugins["directories"] = [fix(d) for d in plugins["directories"]]
    audit = config.get("audit") or {}
    for key in ("directory", "signing_key", "public_key"):
        if audit.get(key):
            audit[key] = fix(audit[key])


def _write_config(base_path: Path, changes: Mapping[str, Any], into: Path) -> Path:
    """warden.yaml at ``base_path`` with ``changes`` applied, written into
    the folder ``into``."""
    import yaml

    config = yaml.safe_load(base_path.read_text(encoding="utf-8")) or {}
    _absolute_paths(config, base_path.parent)
    for dotted, value in changes.items():
        if dotted == "assessors.disabled":
            assessors = config.setdefault("assessors", {})
            enabled = assessors.get("enabled", ["heuristics", "bandit", "semgrep"])
            assessors["enabled"] = [a for a in enabled if a not in value]
            continue
        node = config
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path = into / "warden.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


class SafetyAPI:
    """Mai's SafetyAPI on warden.

    ``config_path`` is what Mai passed: a folder like Mai's ``config/safety``
    (its security.yaml, sandbox.yaml and audit.yaml are read for what maps,
    see :attr:`config_report`; a ``warden.yaml`` in it is used as the base,
    else the default one), or a warden.yaml, or None: ``$WARDEN_CONFIG``, then
    the user's warden.yaml, then the installed one (docs/embedding.md).
    """

    def __init__(self, config_path: Optional[PathLike] = None) -> None:
        self.config_report: Dict[str, List[str]] = {"applied": [], "not_applied": []}
        folder = Path(os.fspath(config_path)) if config_path is not None else None
        if folder is not None and folder.is_dir():
            self._api = self._open_folder(folder)
        else:
            self._api = WardenSafetyAPI(config_path)

    def _open_folder(self, folder: Path) -> WardenSafetyAPI:
        mai = MaiConfigFolder(folder)
        policies = mai.policies()
        base = folder / "warden.yaml"
        if not base.is_file():
            base = Path(default_config_path())
        with tempfile.TemporaryDirectory(prefix="warden-mai-") as scratch:
            # warden reads its configuration once, when it opens.
            api = WardenSafetyAPI(_write_config(base, mai.config_changes(), Path(scratch)))
        self.config_report["applied"] += mai.applied
        self.config_report["not_applied"] += mai.not_applied
        if policies:
            self._api = api
            answer = self.configure_policies(policies)["response"]
            if answer["validation_errors"]:
                api.close()
                raise ValueError(f"{folder}: " + "; ".join(answer["validation_errors"]))
            self.config_report["applied"] += [f"{p} policies" for p in answer["updated_policies"]]
            self.config_report["not_applied"] += answer["not_applied"]
        for note in self.config_report["not_applied"]:
            logger.info("Mai config %s: %s", folder, note)
        return api

    @property
    def warden(self) -> WardenSafetyAPI:
        """warden's own face of the same host, with warden's result shapes."""
        return self._api

    def assess_and_execute(
        self,
        code: str,
        user_override: bool = False,
        user_explanation: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
    ) -> Dict[str, Any]:
        """Mai's assess_and_execute. LOW and MEDIUM run; HIGH and BLOCKED run
        only with ``user_override=True`` and a ``user_explanation`` (HIGH: the
        user's confirmation; BLOCKED: an override the policy accepts), always
        untrusted. The answer has Mai's keys: request_id, success, timestamp,
        security{level, override_used, findings}, then blocked and reason, or
        execution, resource_limits and trust_level, and error when it could
        not run safely."""
        _validate_code(code, user_override, user_explanation)
        if metadata is not None and not isinstance(metadata, dict):
            raise ValueError("Metadata must be a dictionary")
        sent = dict(metadata or {})
        if user_override:
            sent["user_explanation"] = user_explanation
        result = self._api.assess_and_execute(
            code,
            user_override=bool(user_override),
            user_explanation=user_explanation,
            metadata=sent,
            confirm=bool(user_override),
        )
        hints = assessor_hints(result)
        level = result["level"]
        ran = result["decision"] == "ran"
        response: Dict[str, Any] = {
            "request_id": result["request_id"],
            "success": ran and result["exit_code"] == 0,
            "timestamp": result["timestamp"],
            "security": {
                "level": level,
                # The user's override is what let HIGH or BLOCKED code run.
                "override_used": ran and bool(user_override) and level in ("HIGH", "BLOCKED"),
                "findings": mai_findings(result, hints),
            },
        }
        if result["decision"] in ("blocked", "needs_confirmation"):
            response["blocked"] = True
            response["reason"] = self._blocked_reason(result, hints)
            return response
        response["blocked"] = False
        response["trust_level"] = result["trust"]
        if ran:
            response["execution"] = mai_execution(result)
            response["resource_limits"] = mai_resource_limits(result)
        else:  # refused: it could not be run safely (a backend refused a limit, ...)
            response["execution"] = {}
            response["resource_limits"] = {}
            response["error"] = result["reason"]
        return response

    @staticmethod
    def _blocked_reason(result: Mapping[str, Any], hints: List[str]) -> str:
        why = "; ".join(list(result["reasons"]) + hints)
        if result["decision"] == "needs_confirmation":
            reason = (
                "Code judged HIGH risk needs the user's confirmation: call again with"
                " user_override=True and a user_explanation"
            )
        else:
            reason = result["reason"]  # "Code blocked by security assessment: ..." or the policy's refusal
        return f"{reason} ({why})" if why and why not in reason else reason

    def assess_code_only(self, code: str) -> Dict[str, Any]:
        """Mai's assess_code_only: security_level, security_score, findings,
        recommendations, assessed_at, can_execute (False only for BLOCKED;
        ``requires_confirmation``, added, is True for HIGH)."""
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, not {type(code).__name__}")
        if not code or not code.strip():
            raise ValueError("Code cannot be empty")
        result = self._api.assess_code_only(code)
        findings = mai_findings(result, assessor_hints(result))
        return {
            "security_level": result["level"],
            "security_score": result["score"],
            "findings": findings,
            "recommendations": findings["recommendations"],
            "assessed_at": result["assessed_at"],
            "can_execute": result["can_execute"],
            "requires_confirmation": result["needs_confirmation"],
        }

    def get_execution_history(self, limit: int = 10) -> Dict[str, Any]:
        """Mai's history: counts over the last 24 hours from the audit log
        (``recent`` adds the ``limit`` newest records of each kind)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise ValueError("Limit must be a positive integer")
        summary = mai_summary(self._api.get_audit_report(24)["summary"])
        records = self._api.get_execution_history(limit)
        return {
            "request": {"limit": limit},
            "response": {
                "summary": summary,
                "recent_executions": summary["code_executions"],
                "security_assessments": summary["security_assessments"],
                "resource_violations": summary["resource_violations"],
                "recent": {
                    "executions": records["recent_executions"],
                    "decisions": records["recent_decisions"],
                    "assessments": records["security_assessments"],
                    "violations": records["resource_violations"],
                },
            },
            "retrieved_at": _now(),
        }

    def get_security_status(self) -> Dict[str, Any]:
        """Mai's status: each component "active" when it works ("degraded" when
        not), system resources, and a real verification of the audit log."""
        status = self._api.get_security_status()
        components = status["components"]
        assessors = {k: v for k, v in components.items() if k.startswith("assessor:")}
        default_backend = next(
            (v for k, v in components.items() if k.startswith("sandbox:") and v.get("default")),
            None,
        )
        sandboxes = [v for k, v in components.items() if k.startswith("sandbox:")]
        sandbox_ok = (
            default_backend["available"]
            if default_backend is not None
            else any(v.get("available") for v in sandboxes)
        )
        resources = status["system_resources"]
        return {
            "system_status": status["system_status"],
            "components": {
                "security_assessor": "active"
                if assessors and all(v["available"] for v in assessors.values())
                else "degraded",
                "sandbox_executor": "active" if sandbox_ok else "degraded",
                "audit_logger": "active" if components["audit_log"]["writable"] else "degraded",
                "details": components,  # added: warden's components, with reasons
            },
            "system_resources": {
                "cpu_count": resources.get("cpus"),
                "memory_total_gb": round(resources.get("total_memory_bytes", 0) / _GIB, 2),
                "memory_available_gb": round(resources.get("free_memory_bytes", 0) / _GIB, 2),
            },
            "audit_integrity": mai_integrity(status["audit_integrity"]),
            "status_checked_at": status["status_checked_at"],
        }

    def configure_policies(self, policies: Dict[str, Any]) -> Dict[str, Any]:
        """Mai's policy dicts, validated and applied: ``security``
        (blocked_patterns, high_triggers, thresholds; overrides) and
        ``sandbox`` (resources, trust_levels). A section that fails
        validation or does not load is listed in ``failed_updates`` with its
        error in ``validation_errors``, and the policy in force stays as it
        was for it. ``not_applied`` (added) lists keys with no warden
        meaning."""
        if not isinstance(policies, dict):
            raise ValueError("Policies must be a dictionary")
        response: Dict[str, Any] = {
            "updated_policies": [],
            "failed_updates": [],
            "validation_errors": [],
            "not_applied": mai_policy.not_applied(policies),
        }
        for section, label, build in (
            ("security", "Security policies", self._security_files),
            ("sandbox", "Sandbox policies", self._sandbox_files),
        ):
            if section not in policies:
                continue
            try:
                self._apply(build(policies[section]))
                response["updated_policies"].append(section)
            except ValueError as e:
                response["failed_updates"].append(section)
                response["validation_errors"].append(f"{label}: {e}")
        return {
            "request": {"policies": list(policies.keys())},
            "response": response,
            "updated_at": _now(),
        }

    @staticmethod
    def _security_files(security: Any) -> Dict[str, str]:
        mai_policy.validate_security(security)
        allow = (security.get("overrides") or {}).get("allow_user_override", True)
        return {
            mai_policy.SECURITY_FILE: mai_policy.security_lua(security),
            mai_policy.OVERRIDES_FILE: mai_policy.overrides_lua(allow),
        }

    @staticmethod
    def _sandbox_files(sandbox: Any) -> Dict[str, str]:
        return {mai_policy.SANDBOX_FILE: mai_policy.sandbox_lua(mai_policy.validate_sandbox(sandbox))}

    def _apply(self, generated: Mapping[str, str]) -> None:
        """The policy in force with ``generated`` files put in or replaced
        (an empty text removes the file), applied atomically."""
        directory = Path(self._api.get_security_status()["components"]["policy"]["directory"])
        files = {
            p.name: p.read_text(encoding="utf-8")
            for p in sorted(directory.glob("*.lua"))
            if not p.name.endswith("_test.lua")
        }
        for name, source in generated.items():
            files.pop(name, None)
            if source:
                files[name] = source
        self._api.configure_policies({"files": files})

    def get_audit_report(self, time_range_hours: Optional[int] = None) -> Dict[str, Any]:
        """Mai's audit report over the last ``time_range_hours`` (default 24)."""
        if time_range_hours is not None:
            if (
                isinstance(time_range_hours, bool)
                or not isinstance(time_range_hours, int)
                or time_range_hours <= 0
            ):
                raise ValueError("time_range_hours must be a positive integer")
        hours = time_range_hours or 24
        report = self._api.get_audit_report(hours)
        return {
            "report_period_hours": hours,
            "summary": mai_summary(report["summary"]),
            "integrity_check": mai_integrity(report["integrity_check"]),
            "report_generated_at": report["report_generated_at"],
        }

    def close(self) -> None:
        """Closes the audit log (a system_stop record)."""
        self._api.close()

    def __enter__(self) -> "SafetyAPI":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


from warden.aio import make_async_class  # noqa: E402  (needs SafetyAPI defined)

AsyncSafetyAPI = make_async_class(SafetyAPI, "AsyncSafetyAPI", __name__)
