"""warden for Python: assess untrusted code, run it in a sandbox that fits it,
and keep a tamper-evident audit log of all of it.

:class:`SafetyAPI` is warden's own face (Mai's method and argument names,
warden's result shapes); :mod:`warden.mai` has :class:`warden.mai.SafetyAPI`,
the drop-in for Mai's ``src.safety.api.SafetyAPI`` with Mai's result shapes.
:class:`AsyncSafetyAPI` (and ``warden.mai.AsyncSafetyAPI``) are their asyncio
faces. :class:`Host` is the lower-level binding of the C++ ``warden::Host``.
Logs, the C++ core's included, go to the :mod:`logging` logger ``warden``.
See docs/embedding.md.
"""

from warden._locations import use_installed_assessors

# Before the first Host opens: the plugins read $WARDEN_TOOLS_VENV when they load.
use_installed_assessors()

from warden._logging import route_core_logs  # noqa: E402
from warden._warden import Host, WardenError, data_directory, version  # noqa: E402
from warden.aio import make_async_class  # noqa: E402
from warden.api import ExecutionResult, ResourceUsage, SafetyAPI  # noqa: E402
from warden.results import OutputFile, SecurityLevel, SkippedFile, output_files  # noqa: E402

route_core_logs()

AsyncSafetyAPI = make_async_class(SafetyAPI, "AsyncSafetyAPI", __name__)

__version__ = version()

__all__ = [
    "AsyncSafetyAPI",
    "ExecutionResult",
    "Host",
    "OutputFile",
    "ResourceUsage",
    "SafetyAPI",
    "SecurityLevel",
    "SkippedFile",
    "WardenError",
    "data_directory",
    "output_files",
    "version",
]
