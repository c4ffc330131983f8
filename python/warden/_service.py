"""The Python side of ``warden serve`` (docs/service.md): a client of its
socket, and :class:`ServiceOrHost`, which sends each call to the service of
the same configuration when one runs and works in process otherwise, the way
the C++ CLI does (core/service/client.cc).

The client speaks HTTP/1.1 + JSON over the unix socket ``service.socket`` of
the configuration, with keep-alive connections (a small pool, so calls from
several threads run at once), and sends the configuration's fingerprint in
``X-Warden-Config``: a service of another configuration file answers 409,
and the call is then served in process. Code goes only to a socket served by
this user or root (its peer credentials, ``SO_PEERCRED``); a socket served by
anyone else is an error (``refused``), not a reason to work in process.

Only a call that never reached a service (nothing listens on the socket, or
the service is of another configuration) goes in process: a service that
breaks off while answering is an error (``environment``), so code is never
run twice.

Errors of the service, ``{"error": {"kind", "message"}}``, are raised as the
module raises them: ``ValueError`` for ``invalid_input`` and ``config``,
``warden.WardenError`` (with ``kind``) for the rest.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import select
import socket
import struct
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, TypeVar, Union
from urllib.parse import urlencode

from warden._locations import default_config_path
from warden._warden import WardenError, service_settings, version
from warden.api import PathLike, SafetyAPI, add_warnings, assessor_hints, input_files
from warden.results import python_result

__all__ = ["NotServed", "PeerService", "ServiceClient", "ServiceOrHost"]

logger = logging.getLogger("warden.service")

# sockaddr_un's sun_path holds 108 bytes with the closing NUL.
_MAX_SOCKET_PATH = 107
# An idle connection older than this is closed rather than reused; the
# service closes its own after service.idle_timeout (60 s by default).
_MAX_IDLE_SECONDS = 30.0
_IDLE_CONNECTIONS = 8

T = TypeVar("T")


class NotServed(Exception):
    """The service did not take the call, so nothing of it ran: no service
    listens on the socket, or it runs another configuration (409)."""


def _error(kind: str, message: str) -> Exception:
    """The exception the module raises for a warden error of ``kind``."""
    if kind in ("invalid_input", "config"):
        return ValueError(message)
    error = WardenError(message)
    error.kind = kind  # type: ignore[attr-defined]
    return error


def _peer_uid(sock: socket.socket) -> int:
    """The uid of the process that serves the socket (SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


def _user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


class _Connection(http.client.HTTPConnection):
    """An HTTP connection over a connected unix socket."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__("warden")
        self.sock = sock
        self.idle_since = time.monotonic()

    def connect(self) -> None:  # http.client reconnects by itself; never let it
        raise http.client.NotConnected("the connection to the warden service closed")

    def usable(self) -> bool:
        """Still open, not idle for long, and nothing (an EOF) waiting to be read."""
        if self.sock is None or time.monotonic() - self.idle_since > _MAX_IDLE_SECONDS:
            return False
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable


class ServiceClient:
    """A client of the ``warden serve`` at ``socket_path`` for the configuration
    whose fingerprint is ``fingerprint``. Thread-safe: each call takes a
    connection of its own (an idle one, or a new one)."""

    def __init__(self, socket_path: str, fingerprint: str) -> None:
        self.socket_path = socket_path
        self._fingerprint = fingerprint
        self._idle: List[_Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def _connect(self) -> _Connection:
        """A new connection; NotServed when nothing listens there."""
        if len(os.fsencode(self.socket_path)) > _MAX_SOCKET_PATH:
            raise NotServed(f"no warden service can listen at {self.socket_path} (path too long)")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.socket_path)
            uid = _peer_uid(sock)
        except OSError as e:
            sock.close()
            raise NotServed(f"no warden service at {self.socket_path} ({e.strerror or e})") from e
        if uid != os.geteuid() and uid != 0:
            sock.close()
            raise _error(
                "refused",
                f"the warden service at {self.socket_path} is run by {_user_name(uid)} (uid {uid}),"
                " neither you nor root: not sending it code (set service.cli: never, or"
                " service.socket to your own)",
            )
        return _Connection(sock)

    def _take(self) -> _Connection:
        with self._lock:
            while self._idle:
                connection = self._idle.pop()
                if connection.usable():
                    return connection
                connection.close()
        return self._connect()

    def _give_back(self, connection: _Connection) -> None:
        connection.idle_since = time.monotonic()
        with self._lock:
            if not self._closed and len(self._idle) < _IDLE_CONNECTIONS:
                self._idle.append(connection)
                return
        connection.close()

    def call(
        self,
        method: str,
        path: str,
        body: Optional[Mapping[str, Any]] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
    ) -> Any:
        """The service's answer to ``method path`` with ``body`` (JSON), as the
        module returns results (python_result). NotServed when no service of this
        configuration took it; ValueError or WardenError for an error answer or a
        connection that broke."""
        connection = self._take()
        headers = {
            "X-Warden-Config": self._fingerprint,
            "User-Agent": f"warden-python/{version()}",
            **(extra_headers or {}),
        }
        payload = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            payload = json.dumps(body).encode()
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as e:
            connection.close()
            raise _error(
                "environment", f"the warden service at {self.socket_path}: {e or type(e).__name__}"
            ) from e
        if response.will_close:
            connection.close()
        else:
            self._give_back(connection)
        try:
            answer = json.loads(data)
        except ValueError as e:
            raise _error(
                "environment",
                f"the warden service at {self.socket_path} answered with something not JSON",
            ) from e
        if response.status == 409:
            raise NotServed(  # "this warden service runs with another configuration (file)"
                f"the warden service at {self.socket_path}: "
                + (_message(answer) or "another configuration")
            )
        if response.status >= 300:
            error = answer.get("error", {}) if isinstance(answer, dict) else {}
            raise _error(
                str(error.get("kind", "internal")),
                str(error.get("message", f"HTTP {response.status}")),
            )
        return python_result(answer)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _message(answer: Any) -> str:
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        return str(answer["error"].get("message", ""))
    return ""


def _run_body(
    code: str,
    user_override: bool,
    user_explanation: Optional[str],
    metadata: Optional[Dict[str, Any]],
    confirm: bool,
    stdin: Optional[str],
    pairs: List[Any],
    dependencies: Optional[Sequence[str]] = None,
) -> Dict[str, Any]:
    """The body of POST /v1/run for SafetyAPI.assess_and_execute's arguments
    (the input files as ``{"path", "content_base64"}``)."""
    body: Dict[str, Any] = {
        "code": code,
        "stdin": stdin or "",
        "confirmed": bool(confirm),
        "override_blocked": bool(user_override),
        "override_explanation": user_explanation or "",
        "metadata": metadata or {},
    }
    if dependencies:
        body["dependencies"] = list(dependencies)
    if pairs:
        body["files"] = [
            {"path": path, "content_base64": base64.b64encode(content).decode("ascii")}
            for path, content in pairs
        ]
    return body


class ServiceOrHost:
    """The calls the MCP server makes, each served by the ``warden serve`` of
    this configuration when one takes it, else by a :class:`SafetyAPI` of its
    own (opened when first needed, kept until :meth:`close`).

    ``config_path`` as for SafetyAPI; a configuration that does not load is a
    ValueError here. ``service.cli: never`` keeps every call in process.
    Which of the two served the last call is logged (logger
    ``warden.service``, INFO) whenever it changes, and is :attr:`serving`.
    """

    def __init__(self, config_path: Optional[PathLike] = None) -> None:
        self._config_path = (
            os.fspath(config_path) if config_path is not None else default_config_path()
        )
        settings = service_settings(self._config_path)
        self.socket_path: str = settings["socket"]
        self._service = (
            ServiceClient(settings["socket"], settings["fingerprint"]) if settings["cli"] else None
        )
        self._never = "" if settings["cli"] else " (service.cli: never)"
        self._api: Optional[SafetyAPI] = None
        self._lock = threading.Lock()
        self.serving = ""  # "service" | "in_process": what served the last call

    def start(self) -> str:
        """Asks the service for its status (GET /v1/status, once), or opens the
        in-process host, so that what cannot work says so now; returns what
        serves ("service" or "in_process")."""
        self._serve(lambda s: s.call("GET", "/v1/status"), lambda api: None)
        return self.serving

    def _note(self, serving: str, why: str = "") -> None:
        with self._lock:
            changed, self.serving = self.serving != serving, serving
        if changed:
            if serving == "service":
                logger.info("using the warden service at %s", self.socket_path)
            else:
                logger.info("%s: working in process", why)

    def _in_process(self) -> SafetyAPI:
        with self._lock:
            if self._api is None:
                self._api = SafetyAPI(self._config_path)
            return self._api

    def _serve(
        self, by_service: Callable[[ServiceClient], T], in_process: Callable[[SafetyAPI], T]
    ) -> T:
        why = f"no warden service used at {self.socket_path}{self._never}"
        if self._service is not None:
            try:
                answer = by_service(self._service)
            except NotServed as e:
                why = str(e)
            else:
                self._note("service")
                return answer
        api = self._in_process()
        self._note("in_process", why)
        return in_process(api)

    def explain(self, code: str) -> Dict[str, Any]:
        """SafetyAPI.explain(code): the dry run of the unconfirmed request."""
        return self._serve(
            lambda s: s.call("POST", "/v1/explain", {"code": code}), lambda api: api.explain(code)
        )

    def assess_and_execute(
        self,
        code: str,
        user_override: bool = False,
        user_explanation: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
        confirm: bool = False,
        stdin: Optional[str] = None,
        files: Optional[Mapping[str, Union[str, bytes]]] = None,
        dependencies: Optional[Sequence[str]] = None,
    ) -> Dict[str, Any]:
        """SafetyAPI.assess_and_execute with these arguments: POST /v1/run, the
        input files as ``{"path", "content_base64"}``."""
        pairs = input_files(files)  # a TypeError here, before either path is taken
        body = _run_body(
            code, user_override, user_explanation, metadata, confirm, stdin, pairs, dependencies
        )

        def by_service(service: ServiceClient) -> Dict[str, Any]:
            result: Dict[str, Any] = service.call("POST", "/v1/run", body)
            return add_warnings(result, assessor_hints(result))

        return self._serve(
            by_service,
            lambda api: dict(
                api.assess_and_execute(
                    code,
                    user_override=user_override,
                    user_explanation=user_explanation,
                    metadata=metadata,
                    confirm=confirm,
                    stdin=stdin,
                    files=dict(pairs),
                    dependencies=dependencies,
                )
            ),
        )

    def assess_code_only(self, code: str) -> Dict[str, Any]:
        """SafetyAPI.assess_code_only(code): POST /v1/assess."""
        return self._serve(
            lambda s: s.call("POST", "/v1/assess", {"code": code}),
            lambda api: api.assess_code_only(code),
        )

    def get_execution_history(self, limit: int = 10) -> Dict[str, Any]:
        """SafetyAPI.get_execution_history(limit): GET /v1/history."""
        return self._serve(
            lambda s: s.call("GET", "/v1/history?" + urlencode({"limit": limit})),
            lambda api: api.get_execution_history(limit),
        )

    def close(self) -> None:
        if self._service is not None:
            self._service.close()
        with self._lock:
            api, self._api = self._api, None
        if api is not None:
            api.close()



class PeerService:
    """The calls of the MCP server that ``warden serve`` runs as its child
    (``warden.mcp_server --http-socket``, docs/mcp.md), for the client of one
    relayed /mcp request: every call goes to the service (never in process),
    with the client's uid and pid as the service relayed them
    (``X-Warden-Peer-Uid``, ``X-Warden-Peer-Pid``), which the service believes
    only from its own child, and runs and dry runs name the client's user
    (``user``). The service then audits the client, not this server."""

    def __init__(self, service: ServiceClient, uid: int, pid: int) -> None:
        self._service = service
        self._headers = {"X-Warden-Peer-Uid": str(uid), "X-Warden-Peer-Pid": str(pid)}
        self._user: Dict[str, Any] = {}
        try:
            import pwd

            self._user = {"user": pwd.getpwuid(uid).pw_name}
        except (ImportError, KeyError):
            pass  # no name: the service names the client by its uid itself

    def _call(self, method: str, path: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        try:
            return self._service.call(method, path, body, self._headers)
        except NotServed as e:  # the service that started us is gone or changed
            raise _error("environment", str(e)) from e

    def explain(self, code: str) -> Dict[str, Any]:
        return self._call("POST", "/v1/explain", {"code": code, **self._user})

    def assess_and_execute(
        self,
        code: str,
        user_override: bool = False,
        user_explanation: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
        confirm: bool = False,
        stdin: Optional[str] = None,
        files: Optional[Mapping[str, Union[str, bytes]]] = None,
        dependencies: Optional[Sequence[str]] = None,
    ) -> Dict[str, Any]:
        body = _run_body(
            code,
            user_override,
            user_explanation,
            metadata,
            confirm,
            stdin,
            input_files(files),
            dependencies,
        )
        result: Dict[str, Any] = self._call("POST", "/v1/run", {**body, **self._user})
        return add_warnings(result, assessor_hints(result))

    def assess_code_only(self, code: str) -> Dict[str, Any]:
        return self._call("POST", "/v1/assess", {"code": code})

    def get_execution_history(self, limit: int = 10) -> Dict[str, Any]:
        return self._call("GET", "/v1/history?" + urlencode({"limit": limit}))
