"""The C++ core's log messages go to the :mod:`logging` logger ``warden``.

The level they are filtered at in C++ follows that logger's effective level
when a SafetyAPI opens (so configure logging before opening one);
warden.yaml's ``log_level`` applies to the ``warden`` program only.
"""

from __future__ import annotations

import logging

from warden import _warden

__all__ = ["core_log_level", "route_core_logs"]

logger = logging.getLogger("warden")

TRACE = 5  # spdlog's trace, below logging.DEBUG

_FROM_CORE = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def _handle(level: str, message: str) -> None:
    logger.log(_FROM_CORE.get(level, logging.WARNING), "%s", message)


def core_log_level() -> str:
    """The spdlog level matching the ``warden`` logger's effective level."""
    effective = logger.getEffectiveLevel()
    for name, number in _FROM_CORE.items():
        if effective <= number:
            return name
    return "off"


def route_core_logs() -> None:
    _warden.set_log_handler(_handle, core_log_level())
