"""SafetyAPI: what Mai calls, with the method and argument names of Mai's old
``src.safety.api.SafetyAPI``, backed by the C++ ``warden::Host``.

Every result is a plain dict with the keys of warden's JSON (``warden run
--json`` for :meth:`SafetyAPI.assess_and_execute`, docs/cli.md; the other
methods return what ``warden::Host`` returns, sdk/include/warden/host.h).

Errors: ``ValueError`` for bad input or a bad configuration or policy (the
messages come from the C++ core, which keeps Mai's texts, e.g. "Code cannot be
empty"), ``TypeError`` for an argument of the wrong type, and
``warden.WardenError`` (a ``RuntimeError``) when something outside warden is
down, e.g. the audit log cannot be written: then no code runs.

Threads: one SafetyAPI may be used from many threads at once. The GIL is
released while warden works, so other Python threads run meanwhile.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, TypedDict, Union

from warden._locations import default_config_path
from warden._logging import core_log_level
from warden._warden import Host, set_log_level
from warden.results import OutputFile, SecurityLevel, SkippedFile, python_result

__all__ = ["ExecutionResult", "ResourceUsage", "SafetyAPI", "assessor_hints"]

logger = logging.getLogger("warden")


class Timings(TypedDict):
    total_ms: float
    sandbox_ms: float
    host_ms: float  # total_ms - sandbox_ms: assessment, policy, audit


class ResourceUsage(TypedDict):
    peak_memory_bytes: int
    cpu_time_ms: int
    wall_time_ms: int


class ExecutionResult(TypedDict):
    """The result of :meth:`SafetyAPI.assess_and_execute` (docs/cli.md)."""

    request_id: str
    timestamp: str  # UTC, RFC 3339 with +00:00 (datetime.fromisoformat parses it)
    decision: str  # "ran" | "needs_confirmation" | "blocked" | "refused"
    reason: str
    level: SecurityLevel  # a str enum: == "LOW" holds
    score: float
    reasons: List[str]
    warnings: List[str]
    trust: str  # "trusted" | "standard" | "untrusted"
    override_used: bool
    findings: List[Dict[str, Any]]
    assessment: Dict[str, Any]
    backend: str  # empty when nothing ran
    limits: Dict[str, Any]  # the limits enforced in the sandbox
    network: str
    exit_code: Optional[int]  # None when nothing ran or a signal ended it
    signal: Optional[int]
    stdout: str
    stderr: str
    stdout_replaced: bool  # bytes that were not UTF-8 came back as U+FFFD
    stderr_replaced: bool
    timed_out: bool
    cpu_time_exceeded: bool
    oom_killed: bool
    output_truncated: bool
    limits_hit: List[str]
    resource_usage: Optional[ResourceUsage]  # None when nothing ran
    backend_run_id: str
    # The files the program left in its working folder, in path order (their
    # bytes by path: warden.output_files(result)); empty when nothing ran.
    files: List[OutputFile]
    files_skipped: List[SkippedFile]  # files it left that did not come back, and why
    # For a program that declares packages: {"declared", "key", "set", "cached",
    # "packages": [{name, version, sha256, url}], "hooks", "install_ms",
    # "egress"}, or {"declared", "refused"}; None when it declares none.
    dependencies: Optional[Dict[str, Any]]
    audit_ids: List[str]  # the audit records this request wrote
    timings: Timings  # how long warden took, and of that the sandbox


PathLike = Union[str, "os.PathLike[str]"]

_POLICY_KEYS = ("directory", "files")
_C_INT_MAX = 2**31 - 1


def _text(value: Any, name: str) -> str:
    """None as "", a str as itself; anything else is a caller's bug."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    return value


def _count(value: Any, message: str) -> int:
    """A whole number (not a bool) that fits the C++ int; else ValueError(message)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(message)
    return min(value, _C_INT_MAX)


def input_files(files: Optional[Mapping[str, Union[str, bytes]]]) -> List[Tuple[str, bytes]]:
    """``{"data/in.csv": b"...", "notes.txt": "text"}`` as (path, bytes) pairs,
    a str encoded as UTF-8. The paths are checked by the core (ValueError)."""
    if files is None:
        return []
    if not isinstance(files, Mapping):
        raise TypeError(
            "files must be a mapping of relative path (str) to content (bytes or str),"
            f" not {type(files).__name__}"
        )
    pairs = []
    for path, content in files.items():
        if not isinstance(path, str):
            raise TypeError(f"files: a path must be a str, not {type(path).__name__}")
        if isinstance(content, str):
            content = content.encode("utf-8")
        elif isinstance(content, (bytearray, memoryview)):
            content = bytes(content)
        elif not isinstance(content, bytes):
            raise TypeError(
                f"files['{path}']: the content must be bytes or str, not {type(content).__name__}"
            )
        pairs.append((path, content))
    return pairs


def _limit_texts(limits: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """{"memory": "256MiB", "wall_time": "5s", "pids": 32} as the texts warden.yaml uses."""
    if limits is None:
        return {}
    if not isinstance(limits, Mapping):
        raise ValueError("Limits must be a dictionary")
    texts = {}
    for name, value in limits.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(
                f"limit '{name}': give a text such as '256MiB' or '5s', or a number"
            )
        texts[str(name)] = str(value)
    return texts


# How to get each assessor plugin's tool, for a user who has not.
_INSTALL_HINTS = {
    "bandit": "pip install 'warden[assessors]' (or scripts/install-python-tools.sh)",
    "semgrep": "pip install 'warden[assessors]' (or scripts/install-python-tools.sh)",
}


def assessor_hints(result: Mapping[str, Any]) -> List[str]:
    """For each assessor that could not answer because it is not installed:
    which one, why, what that did to the level, and how to install it or
    turn it off."""
    assessors = result.get("assessment", {}).get("assessors", result.get("assessors", []))
    hints = []
    for a in assessors:
        if a.get("status") != "unavailable":
            continue
        name = a["name"]
        install = _INSTALL_HINTS.get(name, f"install the {name} plugin's tool")
        hints.append(
            f"assessor {name} is not available ({a.get('reason', '')}), so the policy raised"
            f" the level (failing closed); install it with {install}, or remove {name}"
            " from assessors.enabled in warden.yaml"
        )
    return hints


def add_warnings(result: Dict[str, Any], warnings: List[str]) -> Dict[str, Any]:
    """Appends to ``result["warnings"]`` those of ``warnings`` it does not
    have yet; returns ``result``."""
    result["warnings"] += [w for w in warnings if w not in result["warnings"]]
    return result


class SafetyAPI:
    """Mai's safety API on warden.

    ``config_path`` names a warden.yaml; None means ``$WARDEN_CONFIG``, then
    the user's ``$XDG_CONFIG_HOME/warden/warden.yaml`` if there is one, then
    the warden.yaml installed with this package. Opening loads the plugins and
    policies and opens the audit log; :meth:`close` (or ``with``) closes it.

    An assessor that is enabled but not installed is logged (logger
    ``warden``, WARNING) on the first result it affects, and every result it
    affects says so in ``warnings``.
    """

    def __init__(self, config_path: Optional[PathLike] = None) -> None:
        path = os.fspath(config_path) if config_path is not None else default_config_path()
        set_log_level(core_log_level())  # logging's configuration as it is now
        self._host = Host(path)
        self._hinted: set = set()
        self._hinted_lock = threading.Lock()

    def _explain_missing_assessors(self, result: Dict[str, Any]) -> List[str]:
        hints = assessor_hints(result)
        with self._hinted_lock:
            new = [h for h in hints if h not in self._hinted]
            self._hinted.update(new)
        for hint in new:
            logger.warning("%s", hint)
        return hints

    def assess_and_execute(
        self,
        code: str,
        user_override: bool = False,
        user_explanation: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
        confirm: bool = False,
        stdin: Optional[Union[str, bytes]] = None,
        backend: Optional[str] = None,
        user: Optional[str] = None,
        limits: Optional[Mapping[str, Any]] = None,
        args: Optional[Sequence[str]] = None,
        files: Optional[Mapping[str, Union[str, bytes]]] = None,
        dependencies: Optional[Sequence[str]] = None,
    ) -> ExecutionResult:
        """Assesses ``code``, decides, runs it in the sandbox when allowed, audits.

        LOW runs; MEDIUM runs with ``warnings``; HIGH runs only with
        ``confirm=True`` (else ``decision == "needs_confirmation"``); BLOCKED
        runs only with ``user_override=True`` and a ``user_explanation`` the
        policy accepts, always with untrusted limits (else ``"blocked"``).
        ``limits`` asks for limits instead of the policy's, by the names of
        warden.yaml's ``ceilings`` ({"memory": "256MiB", "wall_time": "5s"});
        a value above its ceiling is a ValueError. ``args`` are the program's
        ``sys.argv[1:]``, never seen by a shell (at most 256, 64 KiB, text).
        ``files`` are input files, relative path to content (bytes, or str
        encoded as UTF-8), placed read-only in the program's working folder
        (its cwd) before it starts (at most 64, ``requests.max_input_size`` in
        all; a path that is absolute or has ``..`` is a ValueError). The files
        the program leaves there come back in ``files`` (path, size, sha256,
        content_base64; :func:`warden.output_files` gives their bytes by path),
        those over the ``output_files`` and ``output_files_size`` limits in
        ``files_skipped``. ``dependencies`` are packages the program needs
        (PEP 508 by name, "requests>=2"), beside those of its PEP 723
        ``# /// script`` block: the policy decides what may be installed, a
        sandboxed install phase fetches them through warden's egress proxy (or
        the cache has them), and the program runs with them read-only and no
        network; ``dependencies`` in the result says what was installed.
        Blocks until the run ends.
        """
        if stdin is not None and not isinstance(stdin, (str, bytes)):
            raise TypeError(f"stdin must be a str or bytes, not {type(stdin).__name__}")
        if isinstance(args, (str, bytes)) or not all(isinstance(a, str) for a in args or ()):
            raise TypeError("args must be a sequence of str (the program's sys.argv[1:])")
        if isinstance(dependencies, (str, bytes)) or not all(
            isinstance(d, str) for d in dependencies or ()
        ):
            raise TypeError('dependencies must be a sequence of str (["requests>=2"])')
        result = self._host.assess_and_execute(
            _text(code, "code"),  # empty: the core raises "Code cannot be empty"
            stdin=stdin if stdin is not None else "",
            args=list(args or ()),
            files=input_files(files),
            dependencies=list(dependencies or ()),
            user=_text(user, "user"),
            confirmed=bool(confirm),
            override_blocked=bool(user_override),
            override_explanation=_text(user_explanation, "user_explanation"),
            backend=_text(backend, "backend") if backend is not None else None,
            limits=_limit_texts(limits),
            metadata=metadata,
        )
        return python_result(add_warnings(result, self._explain_missing_assessors(result)))

    def assess_code_only(self, code: str, file_name: str = "main.py") -> Dict[str, Any]:
        """Assesses and classifies without running: {"level", "score", "reasons",
        "findings", "metrics", "assessors", "assessment", "can_execute",
        "needs_confirmation", "policy_failed", "assessed_at", "audit_id"}.
        ``file_name`` is what findings and the audit record name the program by."""
        result = self._host.assess_code_only(
            _text(code, "code"), file_name=_text(file_name, "file_name")
        )
        self._explain_missing_assessors(result)
        return python_result(result)

    def explain(
        self,
        code: str,
        user_override: bool = False,
        user_explanation: Optional[str] = None,
        *,
        confirm: bool = False,
        user: str = "",
    ) -> Dict[str, Any]:
        """What :meth:`assess_and_execute` would decide for this request, as a
        dry run of the same steps (nothing runs, nothing is recorded):
        {"classify", "outcome", "reason", "trust", "limits", "may_override",
        "if_confirmed" | "if_overridden", "inputs", "policy", "assessment"}, each
        policy answer with the notes it recorded (docs/policies.md)."""
        return python_result(
            self._host.explain(
                _text(code, "code"),
                user=_text(user, "user"),
                confirmed=bool(confirm),
                override_blocked=bool(user_override),
                override_explanation=_text(user_explanation, "user_explanation"),
            )
        )

    def get_execution_history(self, limit: int = 10) -> Dict[str, Any]:
        """The ``limit`` newest records of each kind from the audit log:
        {"summary", "recent_executions", "recent_decisions",
        "security_assessments", "resource_violations", "limit"}."""
        return python_result(
            self._host.get_execution_history(_count(limit, "Limit must be a positive integer"))
        )

    def get_security_status(self) -> Dict[str, Any]:
        """{"system_status": "operational" | "degraded", "components",
        "system_resources", "audit_integrity": {"valid", ...},
        "status_checked_at"}; the audit log is verified on every call."""
        return python_result(self._host.get_security_status())

    def configure_policies(self, policies: Dict[str, Any]) -> Dict[str, Any]:
        """Replaces the Lua policies for every later request, atomically.

        ``policies`` is ``{"directory": path}`` (a folder of policy files) or
        ``{"files": {"risk.lua": source, ...}}``. A policy that does not load
        raises ValueError naming file and line, and the old one stays in force.
        Returns {"updated_policies", "failed_updates", "validation_errors",
        "updated_at"}.
        """
        if not isinstance(policies, dict):
            raise ValueError("Policies must be a dictionary")
        unknown = sorted(str(k) for k in policies if k not in _POLICY_KEYS)
        if unknown:
            raise ValueError(
                f"Unknown policy key(s) {unknown}: give {{'directory': path}} "
                "or {'files': {name: lua_source}}"
            )
        if ("directory" in policies) == ("files" in policies):
            raise ValueError("Policies must give either 'directory' or 'files'")
        if "directory" in policies:
            return python_result(
                self._host.configure_policies(directory=os.fspath(policies["directory"]))
            )
        files = policies["files"]
        if not isinstance(files, dict) or not all(
            isinstance(name, str) and isinstance(source, str) for name, source in files.items()
        ):
            raise ValueError("Policy files must map file names (str) to Lua source (str)")
        return python_result(self._host.configure_policies(files=list(files.items())))

    def get_audit_report(self, time_range_hours: Optional[int] = 24) -> Dict[str, Any]:
        """Counts by kind and level, blocked attempts, overrides (with their
        explanations) and resource violations over the last ``time_range_hours``
        hours (all time when None or 0), with an integrity check of the log:
        {"report_period_hours", "summary", "integrity_check", "report_generated_at"}."""
        hours = 0 if time_range_hours is None else time_range_hours
        return python_result(
            self._host.get_audit_report(_count(hours, "time_range_hours must be a positive integer"))
        )

    def close(self) -> None:
        """Closes the audit log (a system_stop record). Later calls raise ValueError."""
        self._host.close()

    def __enter__(self) -> "SafetyAPI":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
