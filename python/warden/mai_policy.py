"""Mai's policy dicts as Lua: what :meth:`warden.mai.SafetyAPI.configure_policies`
and Mai's ``config/safety`` folder apply.

Mai describes its policies as data (``security.yaml``'s ``policies``:
``blocked_patterns``, ``high_triggers``, ``thresholds``; ``sandbox.yaml``'s
``resources`` and ``trust_levels``). warden decides with Lua policies, so each
Mai section becomes one generated Lua file, loaded after the files of the
policy in force (policies load in name order into one environment; the
generated files are named ``zz_mai_*.lua`` to come last). They set the tables
the default policy reads (``THRESHOLDS`` in risk.lua, ``BASE`` in limits.lua)
and wrap its ``classify`` for Mai's patterns, so they adjust the default
policy (or one with the same tables) and fail to load, with the reason, on a
policy without them.

Validation keeps Mai's messages (``src/safety/api.py``) and adds the checks
Mai lacked (types, unknown names), so a bad dict is reported, never half
applied. Keys that have no warden meaning are listed by :func:`not_applied`.
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, List, Mapping

__all__ = [
    "SECURITY_FILE",
    "SANDBOX_FILE",
    "OVERRIDES_FILE",
    "security_lua",
    "sandbox_lua",
    "overrides_lua",
    "validate_security",
    "validate_sandbox",
]

SECURITY_FILE = "zz_mai_security.lua"
SANDBOX_FILE = "zz_mai_sandbox.lua"
OVERRIDES_FILE = "zz_mai_overrides.lua"

# Mai's threshold names -> the default policy's THRESHOLDS keys.
_THRESHOLDS = {"medium_score": "MEDIUM", "high_score": "HIGH", "blocked_score": "BLOCKED"}
# Mai's trust level names (sandbox.yaml trust_levels) -> warden's. Mai's
# coordinator asks for "standard" but its executor only knows "unknown".
_TRUST = {"trusted": "trusted", "standard": "standard", "unknown": "standard", "untrusted": "untrusted"}
# Mai's per-trust resource keys -> how each becomes limits.lua's BASE fields.
_RESOURCES = ("timeout", "mem_limit", "cpu_count", "pids_limit")
# Mai's points for a pattern hit (src/security/assessor.py).
BLOCKED_PATTERN_POINTS = 5
HIGH_TRIGGER_POINTS = 3


def lua_string(text: str) -> str:
    """``text`` as a Lua string literal: printable ASCII as is, every other
    byte of its UTF-8 as a three-digit decimal escape."""
    out = ['"']
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if 32 <= byte < 127 and char not in '"\\':
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    out.append('"')
    return "".join(out)


def _lua_number(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _strings(policies: Mapping[str, Any], key: str) -> List[str]:
    value = policies[key]
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise ValueError(f"Security policy {key} must be a list of non-empty strings")
    return value


def validate_security(policies: Any) -> None:
    """Mai's checks of a security policy dict, then warden's: raises
    ValueError with Mai's text first ("Missing required security policy: ...",
    "Security thresholds must be non-negative numbers")."""
    if not isinstance(policies, Mapping):
        raise ValueError("Security policies must be a dictionary")
    for key in ("blocked_patterns", "high_triggers", "thresholds"):
        if key not in policies:
            raise ValueError(f"Missing required security policy: {key}")
    thresholds = policies["thresholds"]
    if not isinstance(thresholds, Mapping):
        raise ValueError("Security thresholds must be a dictionary")
    if not all(_is_number(v) and v >= 0 for v in thresholds.values()):
        raise ValueError("Security thresholds must be non-negative numbers")
    unknown = sorted(str(k) for k in thresholds if k not in _THRESHOLDS)
    if unknown:
        raise ValueError(
            f"Unknown security threshold(s) {unknown}: Mai's are {sorted(_THRESHOLDS)}"
        )
    _strings(policies, "blocked_patterns")
    _strings(policies, "high_triggers")
    overrides = policies.get("overrides")
    if overrides is not None:
        if not isinstance(overrides, Mapping) or not isinstance(
            overrides.get("allow_user_override", True), bool
        ):
            raise ValueError("overrides.allow_user_override must be true or false")


def _memory_bytes(value: Any) -> int:
    """Docker's memory texts, as Mai's sandbox.yaml uses them: "512m", "1g",
    "64k" (binary units), or a number of bytes."""
    text = str(value).strip().lower()
    match = re.fullmatch(r"(\d+)([kmg]?)", text)
    if isinstance(value, bool) or match is None:
        raise ValueError("Memory limit must end with g/m/k or be a number")
    number, unit = int(match.group(1)), match.group(2)
    return number * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]


def _check_resources(resources: Any, where: str) -> Dict[str, int]:
    """Mai's resource keys checked (Mai's messages for timeout and mem_limit)
    and turned into limits.lua's BASE fields."""
    if not isinstance(resources, Mapping):
        raise ValueError(f"{where} must be a dictionary")
    fields: Dict[str, int] = {}
    if "timeout" in resources:
        timeout = resources["timeout"]
        if not (_is_number(timeout) and timeout > 0):
            raise ValueError("Timeout must be a positive number")
        fields["wall_time"] = fields["cpu_time"] = int(timeout * 1000)
    if "mem_limit" in resources:
        fields["memory"] = _memory_bytes(resources["mem_limit"])
    for key, field in (("cpu_count", "cpus"), ("pids_limit", "pids")):
        if key in resources:
            value = resources[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{where}.{key} must be a positive whole number")
            fields[field] = value
    return fields


def validate_sandbox(policies: Any) -> Dict[str, Dict[str, int]]:
    """Mai's checks of a sandbox policy dict (``resources``: trusted code's
    limits; ``trust_levels``: limits by trust level), then warden's. Returns
    the BASE fields to set, by warden trust level."""
    if not isinstance(policies, Mapping):
        raise ValueError("Sandbox policies must be a dictionary")
    base: Dict[str, Dict[str, int]] = {}
    if "resources" in policies:
        base["trusted"] = _check_resources(policies["resources"], "resources")
    levels = policies.get("trust_levels", {})
    if not isinstance(levels, Mapping):
        raise ValueError("trust_levels must be a dictionary")
    for name, resources in levels.items():
        if name not in _TRUST:
            raise ValueError(f"Unknown trust level '{name}': Mai's are {sorted(_TRUST)}")
        base.setdefault(_TRUST[name], {}).update(
            _check_resources(resources, f"trust_levels.{name}")
        )
    return base


_HEADER = (
    "-- Generated by warden.mai from Mai's {what}; loaded after the policy it adjusts.\n"
    "-- Regenerated on every configure_policies call: do not edit.\n"
)


def security_lua(policies: Mapping[str, Any]) -> str:
    """The Lua for a validated security policy dict: THRESHOLDS, and a
    classify() that adds Mai's points for its patterns.

    Mai matched its patterns against every line of the code; a policy sees the
    assessment, not the code, so here they are matched against the source lines
    assessors reported findings on (each line once; blocked patterns
    case-sensitively, high triggers not, as Mai did)."""
    lines = [_HEADER.format(what="security policy")]
    lines.append(
        'assert(type(THRESHOLDS) == "table" and type(classify) == "function" and LEVELS,\n'
        '       "Mai\'s security policy adjusts the default risk policy (THRESHOLDS, LEVELS,'
        ' classify), which the policy in force lacks")\n'
    )
    for mai_name, lua_name in _THRESHOLDS.items():
        if mai_name in policies["thresholds"]:
            number = _lua_number(policies["thresholds"][mai_name])
            lines.append(f"THRESHOLDS.{lua_name} = {number}\n")
    patterns = ", ".join(lua_string(p) for p in policies["blocked_patterns"])
    triggers = ", ".join(lua_string(t) for t in policies["high_triggers"])
    lines.append(f"MAI_BLOCKED_PATTERNS = {{ {patterns} }}\n")
    lines.append(f"MAI_HIGH_TRIGGERS = {{ {triggers} }}\n")
    lines.append(
        f"""
local base_classify = classify
local ORDER = {{ LOW = 1, MEDIUM = 2, HIGH = 3, BLOCKED = 4 }}

local function score_index(score)
  if score >= THRESHOLDS.BLOCKED then return 4 end
  if score >= THRESHOLDS.HIGH then return 3 end
  if score >= THRESHOLDS.MEDIUM then return 2 end
  return 1
end

function classify(assessment)
  local decision = base_classify(assessment)
  local extra, seen = 0, {{}}
  for _, f in ipairs(assessment.findings) do
    local text = f.source_line or ""
    if text ~= "" and not seen[f.line] then
      seen[f.line] = true
      for _, p in ipairs(MAI_BLOCKED_PATTERNS) do
        if string.find(text, p, 1, true) then
          extra = extra + {BLOCKED_PATTERN_POINTS}
          decision.reasons[#decision.reasons + 1] =
            string.format("line %d: Mai blocked pattern %q (+{BLOCKED_PATTERN_POINTS})", f.line, p)
        end
      end
      local lower = string.lower(text)
      for _, t in ipairs(MAI_HIGH_TRIGGERS) do
        if string.find(lower, string.lower(t), 1, true) then
          extra = extra + {HIGH_TRIGGER_POINTS}
          decision.reasons[#decision.reasons + 1] =
            string.format("line %d: Mai high-risk trigger %q (+{HIGH_TRIGGER_POINTS})", f.line, t)
        end
      end
    end
  end
  if extra > 0 then
    -- Keep what the base policy added on top of the score (failed assessors).
    local raised = math.max(0, ORDER[decision.level] - score_index(decision.score))
    decision.score = decision.score + extra
    local index = math.min(4, math.max(ORDER[decision.level], score_index(decision.score) + raised))
    note("level", string.format("Mai's patterns added %d points -> %s", extra, LEVELS[index]))
    decision.level = LEVELS[index]
  end
  return decision
end
"""
    )
    return "".join(lines)


def overrides_lua(allow_user_override: bool) -> str:
    """may_override() for Mai's ``overrides.allow_user_override``."""
    if allow_user_override:
        return ""
    return _HEADER.format(what="overrides policy") + (
        "function may_override(decision, request)\n"
        '  return { allowed = false, reason = "Mai\'s security policy sets'
        ' overrides.allow_user_override: false" }\n'
        "end\n"
    )


def sandbox_lua(base: Mapping[str, Mapping[str, int]]) -> str:
    """The Lua for validated sandbox limits: fields of limits.lua's BASE."""
    lines = [_HEADER.format(what="sandbox policy")]
    lines.append(
        'assert(type(BASE) == "table", "Mai\'s sandbox policy adjusts the default limits'
        ' policy (BASE), which the policy in force lacks")\n'
    )
    for trust in sorted(base):
        for field in sorted(base[trust]):
            lines.append(f"BASE.{trust}.{field} = {base[trust][field]}\n")
    return "".join(lines)


# The keys of Mai's security and sandbox dicts that mean something here; the
# rest are reported as not applied.
_SECURITY_KEYS = {"blocked_patterns", "high_triggers", "thresholds", "overrides"}
_SANDBOX_KEYS = {"resources", "trust_levels"}
_SECTIONS = {"security": _SECURITY_KEYS, "sandbox": _SANDBOX_KEYS}


def not_applied(policies: Mapping[str, Any]) -> List[str]:
    """The parts of a Mai policy dict that warden does not apply, with why."""
    notes = []
    for section in policies:
        if section not in _SECTIONS:
            notes.append(f"{section}: not a Mai policy section (security, sandbox)")
            continue
        value = policies[section]
        if isinstance(value, Mapping):
            for key in value:
                if key not in _SECTIONS[section]:
                    notes.append(f"{section}.{key}: no warden equivalent, not applied")
        if section == "sandbox" and isinstance(value, Mapping):
            for where, resources in [("resources", value.get("resources"))] + [
                (f"trust_levels.{k}", v)
                for k, v in (value.get("trust_levels") or {}).items()
                if isinstance(value.get("trust_levels"), Mapping)
            ]:
                if isinstance(resources, Mapping):
                    for key in resources:
                        if key not in _RESOURCES:
                            notes.append(f"sandbox.{where}.{key}: no warden equivalent, not applied")
    return notes
