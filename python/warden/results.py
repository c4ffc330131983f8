"""What results hold, in forms Python code can use directly.

- :class:`SecurityLevel` is the risk level as an enum. It subclasses ``str``,
  so ``result["level"] == "LOW"`` and ``json.dumps(result)`` keep working.
- :func:`output_files` gives the files a run handed back (``result["files"]``,
  base64 in the JSON) as ``{path: bytes}``, each checked against its sha256.
- Timestamps are RFC 3339 in UTC. The C++ core writes them with a trailing
  ``Z``, which ``datetime.fromisoformat`` accepts only from Python 3.11 on;
  results carry them as ``+00:00`` instead, which every Python parses.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
from typing import Any, Dict, Mapping, TypedDict

__all__ = ["OutputFile", "SecurityLevel", "SkippedFile", "output_files", "python_result"]


class OutputFile(TypedDict):
    """A file the program left in its working folder (a result's ``files``)."""

    path: str  # relative to the working folder, '/'-separated: "plots/a.png"
    size: int  # bytes
    sha256: str  # lower-case hex, computed by the host
    content_base64: str


class SkippedFile(TypedDict):
    """A file the program left that did not come back (``files_skipped``)."""

    path: str  # "" on the entry that counts the ones not listed
    size: int
    reason: str  # "over the output_files limit", "not a regular file", ...


class SecurityLevel(str, enum.Enum):
    """The level a policy gives code: what may run, and how."""

    LOW = "LOW"  # runs, trusted limits
    MEDIUM = "MEDIUM"  # runs with warnings, standard limits
    HIGH = "HIGH"  # runs only when the user confirms, untrusted limits
    BLOCKED = "BLOCKED"  # runs only with an explained override, untrusted limits

    def __str__(self) -> str:  # "LOW", not "SecurityLevel.LOW", in f-strings
        return self.value


# The keys whose values are timestamps, wherever they appear in a result.
_TIMESTAMP_KEYS = frozenset(
    {
        "timestamp",
        "time",
        "since",
        "assessed_at",
        "status_checked_at",
        "report_generated_at",
        "updated_at",
        "retrieved_at",
    }
)
_LEVEL_KEYS = frozenset({"level", "security_level"})
# The caller's own data, handed back as given.
_OPAQUE_KEYS = frozenset({"metadata"})
_LEVELS = {level.value: level for level in SecurityLevel}


def _timestamp(value: str) -> str:
    return value[:-1] + "+00:00" if value.endswith("Z") else value


def output_files(result: Mapping[str, Any]) -> Dict[str, bytes]:
    """The files of ``result`` (of assess_and_execute) as ``{path: bytes}``, in
    path order; ``{}`` when nothing ran. Raises ValueError when a file's bytes
    do not match its ``sha256``."""
    files: Dict[str, bytes] = {}
    for f in result.get("files", ()):
        try:
            content = base64.b64decode(f["content_base64"], validate=True)
        except binascii.Error as e:
            raise ValueError(f"output file '{f['path']}': content_base64 is not base64") from e
        if hashlib.sha256(content).hexdigest() != f["sha256"]:
            raise ValueError(f"output file '{f['path']}': its bytes do not match its sha256")
        files[f["path"]] = content
    return files


def python_result(value: Any) -> Any:
    """``value`` (a result of the C++ core) with every timestamp in the
    ``+00:00`` form and every level a :class:`SecurityLevel`. Recurses
    through dicts and lists, leaving everything else as it is."""
    if isinstance(value, dict):
        out: Dict[str, Any] = {}
        for key, item in value.items():
            if key in _OPAQUE_KEYS:
                out[key] = item
            elif key in _TIMESTAMP_KEYS and isinstance(item, str):
                out[key] = _timestamp(item)
            elif key in _LEVEL_KEYS and isinstance(item, str) and item in _LEVELS:
                out[key] = _LEVELS[item]
            else:
                out[key] = python_result(item)
        return out
    if isinstance(value, list):
        return [python_result(item) for item in value]
    return value
