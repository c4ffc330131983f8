"""asyncio faces of the SafetyAPIs: every method is a coroutine that runs the
blocking call in a worker thread, so the event loop keeps running while code
is assessed and runs in the sandbox (the C++ core releases the GIL for the
whole call).

    api = await warden.AsyncSafetyAPI.open()          # or warden.mai.AsyncSafetyAPI
    result = await api.assess_and_execute(code)
    await api.close()                                 # or: async with ... as api

Calls on one object may run concurrently, like the threads of the blocking
API. ``executor`` (a concurrent.futures.Executor) chooses the threads; None is
the loop's default executor.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import Executor
from typing import Any, Callable, Optional, Type

__all__ = ["make_async_class"]

_METHODS = (
    "assess_and_execute",
    "assess_code_only",
    "get_execution_history",
    "get_security_status",
    "configure_policies",
    "get_audit_report",
    "close",
)


def _coroutine(name: str, blocking: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(blocking)
    async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        call = functools.partial(getattr(self.blocking, name), *args, **kwargs)
        return await loop.run_in_executor(self._executor, call)

    return method


def make_async_class(blocking_class: Type[Any], name: str, module: str) -> Type[Any]:
    """An asyncio class with a coroutine for each method of ``blocking_class``."""

    def __init__(self: Any, blocking: Any, executor: Optional[Executor] = None) -> None:
        self.blocking = blocking  # the blocking API it calls (thread-safe)
        self._executor = executor

    async def open(
        cls: Any, *args: Any, executor: Optional[Executor] = None, **kwargs: Any
    ) -> Any:
        # Opening loads plugins and policies and opens the audit log: it blocks too.
        loop = asyncio.get_running_loop()
        blocking = await loop.run_in_executor(
            executor, functools.partial(blocking_class, *args, **kwargs)
        )
        return cls(blocking, executor)

    async def __aenter__(self: Any) -> Any:
        return self

    async def __aexit__(self: Any, *exc_info: object) -> None:
        await self.close()

    namespace = {
        "__init__": __init__,
        "open": classmethod(open),
        "__aenter__": __aenter__,
        "__aexit__": __aexit__,
        "__module__": module,
        "__doc__": f"asyncio face of {blocking_class.__module__}.{blocking_class.__name__}:"
        " ``await cls.open(config_path)``, then ``await`` each method (warden.aio).",
    }
    for method in _METHODS:
        namespace[method] = _coroutine(method, getattr(blocking_class, method))
    return type(name, (), namespace)
