"""warden for Python: assess untrusted code, run it in a sandbox that fits it,
and keep a tamper-evident audit log of all of it.

Mai uses :class:`SafetyAPI` (the method and argument names of Mai's old
``src.safety.api.SafetyAPI``); :class:`Host` is the lower-level binding of the
C++ ``warden::Host`` it is built on. See docs/embedding.md.
"""

from warden._warden import Host, WardenError, data_directory, version
from warden.api import ExecutionResult, ResourceUsage, SafetyAPI

__version__ = version()

__all__ = [
    "ExecutionResult",
    "Host",
    "ResourceUsage",
    "SafetyAPI",
    "WardenError",
    "data_directory",
    "version",
]
