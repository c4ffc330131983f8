"""warden's MCP server on a running `warden serve` (docs/mcp.md, docs/service.md):
each test starts the real service (the C++ program of the installed package,
through the `warden` console script) on its own warden.yaml, whose
service.socket is in a short temporary folder, and drives the MCP server with
the SDK's stdio client. What went through the service is told by the service's
own request count (GET /v1/status) and by the audit records, which the service
marks with the client's peer credentials (metadata.service_peer)."""

from __future__ import annotations

import base64
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional

import pytest

import warden
from conftest import write_config
from risk_samples import BLOCKED, HIGH, LOW
from test_mcp_server import WARDEN, WRITE_PNG, Session, _require_native, png_bytes, serve

import anyio  # noqa: E402
import httpx2  # noqa: E402  (the MCP SDK's HTTP client)
from mcp import Client, ClientSession, types  # noqa: E402  (test_mcp_server skipped it without mcp)
from mcp.client.session import ClientRequestContext  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("warden", timeout=10)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


def service_status(sock: Path) -> Dict[str, Any]:
    """GET /v1/status of the service at `sock` (no fingerprint: any configuration)."""
    connection = _UnixConnection(str(sock))
    try:
        connection.request("GET", "/v1/status")
        response = connection.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        connection.close()


def requests_served(sock: Path) -> int:
    return int(service_status(sock)["service"]["requests"])


class Service:
    """A `warden serve` of `config`, stopped with SIGTERM by stop()."""

    def __init__(self, config: Path, sock: Path, log: Path) -> None:
        self.config, self.socket, self.log = config, sock, log
        with log.open("w") as err:
            self.process = subprocess.Popen(
                [str(WARDEN), "--config", str(config), "serve"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"warden serve exited ({self.process.returncode}): {log.read_text()}")
            try:
                service_status(sock)
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"warden serve did not answer on {sock}: {log.read_text()}")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            assert self.process.wait(timeout=60) == 0, self.log.read_text()


@pytest.fixture
def socket_folder() -> Iterator[Path]:
    """A folder with a short path for sockets (sun_path holds 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="wsvc", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def config_with_socket(directory: Path, sock: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = write_config(directory, f"service:\n  socket: {sock}\n")
    _require_native(config)
    return config


@pytest.fixture
def service(tmp_path: Path, socket_folder: Path) -> Iterator[Service]:
    sock = socket_folder / "w.sock"
    running = Service(config_with_socket(tmp_path, sock), sock, tmp_path / "serve.log")
    yield running
    running.stop()


def assessments(config: Path) -> List[Dict[str, Any]]:
    """The assessment records of the test's audit log, read by the module."""
    with warden.SafetyAPI(config) as api:
        return api.get_execution_history(100)["security_assessments"]


def through_service(record: Dict[str, Any]) -> bool:
    return "service_peer" in record["data"].get("metadata", {})


def test_runs_go_through_the_running_service(service: Service, tmp_path: Path) -> None:
    before = requests_served(service.socket)
    errlog = tmp_path / "mcp.err"

    async def test(s: Session) -> None:
        r = await s.call("run_code", code=LOW)
        assert r["decision"] == "ran" and r["stdout"] == "Hello, World!\n"
        assert r["level"] == "LOW" and r["backend"] == "native" and r["audit_ids"]
        assessed = await s.call("assess_code", code=BLOCKED)
        assert assessed["level"] == "BLOCKED" and not assessed["can_execute"]
        history = await s.call("history", limit=5)
        assert history["limit"] == 5 and len(history["recent_executions"]) == 1
        assert history["recent_decisions"][0]["data"]["outcome"] == "run"

    serve(service.config, test, errlog=errlog)
    # start's status, the dry run and the run, the assessment, the history.
    assert requests_served(service.socket) - before >= 5
    assert f"using the warden service at {service.socket}" in errlog.read_text()
    records = assessments(service.config)
    assert len(records) == 2  # the run's and assess_code's
    runs = [r for r in records if r["data"]["metadata"].get("via") == "mcp"]
    assert len(runs) == 1 and through_service(runs[0])
    assert runs[0]["data"]["metadata"]["service_peer"]["uid"] == os.geteuid()
    assert runs[0]["data"]["user_verified"]  # the peer's identity, from the kernel
    assert runs[0]["data"]["metadata"]["user_answer"] == "not_asked"


def test_files_go_through_the_service_both_ways(service: Service) -> None:
    png = png_bytes()
    code = WRITE_PNG + (
        "open('dot.png', 'wb').write(png)\n"
        "print(open('in/params.txt').read(), open('in/blob.bin', 'rb').read().hex())\n"
    )

    async def test(s: Session) -> None:
        result = await s.call_result(
            "run_code",
            code=code,
            files={"in/params.txt": "alpha=3"},
            files_base64={"in/blob.bin": base64.b64encode(b"\x01\x02").decode()},
        )
        r = result.structured_content
        assert r is not None and r["decision"] == "ran", r["reason"]
        assert r["stdout"] == "alpha=3 0102\n"
        assert [(f["path"], f["mime_type"], f["returned_as"]) for f in r["files"]] == [
            ("dot.png", "image/png", "image")
        ]
        images = [c for c in result.content if isinstance(c, types.ImageContent)]
        assert [(i.mime_type, base64.b64decode(i.data)) for i in images] == [("image/png", png)]

    serve(service.config, test)
    runs = [r for r in assessments(service.config) if r["data"]["metadata"].get("via") == "mcp"]
    assert len(runs) == 1 and through_service(runs[0])
    inputs = sorted(f["path"] for f in runs[0]["data"]["input_files"])
    assert inputs == ["in/blob.bin", "in/params.txt"]


def test_the_confirmation_flow_goes_through_the_service(service: Service) -> None:
    before = requests_served(service.socket)
    explanation = "the test suite checks an override through the service"
    answers = iter(
        [
            types.ElicitResult(action="accept", content={"confirm": True}),
            types.ElicitResult(action="decline"),
            types.ElicitResult(action="accept", content={"explanation": explanation}),
        ]
    )

    async def test(s: Session) -> None:
        confirmed = await s.call("run_code", code=HIGH)
        assert confirmed["decision"] == "ran" and confirmed["user_answer"] == "confirmed"
        assert confirmed["stdout"].endswith("1\n") and confirmed["trust"] == "untrusted"
        declined = await s.call("run_code", code=HIGH)
        assert declined["decision"] == "needs_confirmation"
        assert declined["user_answer"] == "declined" and declined["exit_code"] is None
        overridden = await s.call("run_code", code=BLOCKED)
        assert overridden["decision"] == "ran" and overridden["override_used"]
        assert overridden["stdout"].endswith("ran anyway\n")
        assert len(s.asked) == 3
        assert "HIGH risk" in s.asked[0].message and "BLOCKED" in s.asked[2].message

    serve(service.config, test, answer=lambda _: next(answers))
    assert requests_served(service.socket) - before >= 7  # status, 3 dry runs, 3 runs
    records = [r for r in assessments(service.config) if r["data"]["metadata"].get("via") == "mcp"]
    assert len(records) == 3 and all(through_service(r) for r in records)
    assert sorted(r["data"]["metadata"]["user_answer"] for r in records) == [
        "confirmed",
        "declined",
        "overridden",
    ]
    with warden.SafetyAPI(service.config) as api:
        report = api.get_audit_report(None)
    assert report["summary"]["confirmations"] == 1
    assert explanation in str(report["summary"])


def test_without_the_service_the_server_works_in_process(
    service: Service, tmp_path: Path
) -> None:
    """Started while the service runs; the service stops mid-session: the next
    calls go in process, and back to the service when it runs again. Then a
    server started with no service is in process."""
    errlog = tmp_path / "mcp.err"
    restarted: List[Service] = []

    async def test(s: Session) -> None:
        first = await s.call("run_code", code=LOW)
        assert first["decision"] == "ran"
        service.stop()
        assert not service.socket.exists()
        second = await s.call("run_code", code="print('in process')\n")
        assert second["decision"] == "ran" and second["stdout"] == "in process\n"
        assert (await s.call("assess_code", code=HIGH))["level"] == "HIGH"
        restarted.append(Service(service.config, service.socket, tmp_path / "serve2.log"))
        before = requests_served(service.socket)
        again = await s.call("run_code", code="print('served again')\n")
        assert again["decision"] == "ran" and again["stdout"] == "served again\n"
        assert requests_served(service.socket) - before >= 2  # the dry run and the run
        restarted[0].stop()

    try:
        serve(service.config, test, errlog=errlog)
    finally:
        for running in restarted:
            running.stop()
    log = errlog.read_text()
    assert log.count(f"using the warden service at {service.socket}") == 2
    assert f"no warden service at {service.socket}" in log and "working in process" in log

    async def alone(s: Session) -> None:
        r = await s.call("run_code", code=LOW)
        assert r["decision"] == "ran" and r["stdout"] == "Hello, World!\n"

    errlog.write_text("")
    serve(service.config, alone, errlog=errlog)
    assert "working in process" in errlog.read_text()
    assert "using the warden service" not in errlog.read_text()

    records = assessments(service.config)
    served = [through_service(r) for r in sorted(records, key=lambda r: r["index"])]
    assert served == [True, False, False, True, False]


def test_a_service_of_another_configuration_is_not_used(
    tmp_path: Path, socket_folder: Path
) -> None:
    """A service listens on the socket the MCP server's configuration names,
    but runs from another file: it answers 409 and the server works in process."""
    sock = socket_folder / "w.sock"
    theirs = config_with_socket(tmp_path / "theirs", sock)
    ours = config_with_socket(tmp_path / "ours", sock)
    other = Service(theirs, sock, tmp_path / "serve.log")
    errlog = tmp_path / "mcp.err"
    try:

        async def test(s: Session) -> None:
            r = await s.call("run_code", code=LOW)
            assert r["decision"] == "ran" and r["stdout"] == "Hello, World!\n"
            assert (await s.call("history"))["recent_executions"]

        serve(ours, test, errlog=errlog)
    finally:
        other.stop()
    log = errlog.read_text()
    assert f"the warden service at {sock}: " in log and str(theirs) in log
    assert "another configuration" in log and "working in process" in log
    assert "using the warden service" not in log
    ran = assessments(ours)
    assert len(ran) == 1 and not through_service(ran[0])
    assert assessments(theirs) == []  # the other service ran nothing of ours


def test_calls_share_the_service_at_once(service: Service) -> None:
    """Calls in flight together each get a connection of their own: a call is
    answered while a 2-second run goes on in the service."""
    slow = "import time\ntime.sleep(2)\nprint('slept')\n"

    async def test(s: Session) -> None:
        finished: Dict[str, float] = {}

        async def run_slow() -> None:
            r = await s.call("run_code", code=slow)
            assert r["decision"] == "ran" and r["stdout"] == "slept\n"
            finished["run"] = anyio.current_time()

        async with anyio.create_task_group() as tasks:
            started = anyio.current_time()
            tasks.start_soon(run_slow)
            await anyio.sleep(0.3)
            r = await s.call("run_code", code=LOW)
            assert r["decision"] == "ran" and r["stdout"] == "Hello, World!\n"
            finished["quick"] = anyio.current_time()
        assert finished["quick"] < finished["run"]
        assert finished["quick"] - started < 1.8  # not queued behind the 2 s run

    serve(service.config, test)
    runs = [r for r in assessments(service.config) if r["data"]["metadata"].get("via") == "mcp"]
    assert len(runs) == 2 and all(through_service(r) for r in runs)


def test_service_cli_never_keeps_the_server_in_process(
    tmp_path: Path, socket_folder: Path
) -> None:
    sock = socket_folder / "w.sock"
    config = config_with_socket(tmp_path, sock)
    config.write_text(config.read_text() + "  cli: never\n")
    running = Service(config, sock, tmp_path / "serve.log")
    errlog = tmp_path / "mcp.err"
    try:
        before = requests_served(sock)

        async def test(s: Session) -> None:
            assert (await s.call("run_code", code=LOW))["decision"] == "ran"

        serve(config, test, errlog=errlog)
        assert requests_served(sock) == before + 1  # this test's own status request
    finally:
        running.stop()
    assert "(service.cli: never): working in process" in errlog.read_text()
    ran = assessments(config)
    assert len(ran) == 1 and not through_service(ran[0])


# Listens on a unix socket and accepts connections without answering.
_LISTENER = """
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(8)
print("listening", flush=True)
while True:
    s.accept()
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to listen as another user")
def test_a_socket_of_another_user_gets_no_code(tmp_path: Path, socket_folder: Path) -> None:
    """A socket served by neither this user nor root: the server refuses to
    send code there and says why, rather than working in process."""
    socket_folder.chmod(0o777)
    sock = socket_folder / "w.sock"
    config = write_config(tmp_path, f"service:\n  socket: {sock}\n")
    nobody = 65534
    listener = subprocess.Popen(
        [sys.executable, "-c", _LISTENER, str(sock)], user=nobody, stdout=subprocess.PIPE, text=True
    )
    try:
        assert listener.stdout is not None and listener.stdout.readline() == "listening\n"
        server = subprocess.run(
            [sys.executable, "-m", "warden.mcp", "--config", str(config)],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )
    finally:
        listener.kill()
        listener.wait()
    assert server.returncode == 1
    assert f"the warden service at {sock} is run by" in server.stderr
    assert f"(uid {nobody}), neither you nor root: not sending it code" in server.stderr
    assert server.stdout == ""
    with warden.SafetyAPI(config) as api:
        assert api.get_execution_history(10)["security_assessments"] == []


# MCP on the service's own socket (service.mcp: auto): the SDK's Streamable
# HTTP client, on an httpx2 transport over the unix socket, at /mcp.


def over_the_socket(
    sock: Path,
    test: Callable[[Session], Awaitable[None]],
    answer: Optional[Callable[[types.ElicitRequestFormParams], types.ElicitResult]] = None,
    headers: Optional[Dict[str, str]] = None,
) -> None:
    """Connects the SDK's ClientSession to http://localhost/mcp on `sock` (with an
    elicitation callback when `answer` is given) and runs `test` on it."""
    asked: List[types.ElicitRequestFormParams] = []

    async def on_elicit(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams)
        asked.append(params)
        assert answer is not None
        return answer(params)

    async def main() -> None:
        transport = httpx2.AsyncHTTPTransport(uds=str(sock))
        with anyio.fail_after(120):
            async with httpx2.AsyncClient(
                transport=transport, headers=headers, timeout=httpx2.Timeout(30, read=300)
            ) as http:
                async with streamable_http_client("http://localhost/mcp", http_client=http) as (
                    read,
                    write,
                ):
                    async with ClientSession(
                        read, write, elicitation_callback=on_elicit if answer else None
                    ) as session:
                        init = await session.initialize()
                        assert init.server_info.name == "warden"
                        await test(Session(session, asked))

    anyio.run(main)


def mcp_runs(config: Path) -> List[Dict[str, Any]]:
    return [r for r in assessments(config) if r["data"]["metadata"].get("via") == "mcp"]


def test_mcp_is_served_on_the_service_socket(service: Service) -> None:
    status = service_status(service.socket)["service"]["mcp"]
    assert status["path"] == "/mcp" and status["served"], status

    async def test(s: Session) -> None:
        tools = await s.session.list_tools()
        assert {t.name for t in tools.tools} == {"run_code", "assess_code", "history"}
        r = await s.call("run_code", code=LOW)
        assert r["decision"] == "ran" and r["stdout"] == "Hello, World!\n", r["reason"]
        assessed = await s.call("assess_code", code=BLOCKED)
        assert assessed["level"] == "BLOCKED" and not assessed["can_execute"]
        history = await s.call("history", limit=5)
        assert len(history["recent_executions"]) == 1
        assert history["recent_decisions"][0]["data"]["outcome"] == "run"

    # A client that claims another identity is not believed: the service
    # relays the kernel's word (SO_PEERCRED) instead.
    over_the_socket(
        service.socket, test, headers={"X-Warden-Peer-Uid": "4242", "X-Warden-Peer-Pid": "1"}
    )
    runs = mcp_runs(service.config)
    assert len(runs) == 1
    data = runs[0]["data"]
    assert data["user"] == pwd.getpwuid(os.geteuid()).pw_name and data["user_verified"]
    # The client is this test's process; the MCP server only relayed it.
    assert data["metadata"]["service_peer"] == {"uid": os.geteuid(), "pid": os.getpid()}
    relay = data["metadata"]["service_relay"]
    assert relay["via"] == "mcp" and relay["pid"] not in (os.getpid(), service.process.pid)


def test_high_over_the_service_socket_runs_only_when_confirmed(service: Service) -> None:
    async def confirmed(s: Session) -> None:
        r = await s.call("run_code", code=HIGH)
        assert r["decision"] == "ran" and r["user_answer"] == "confirmed", r["reason"]
        assert r["trust"] == "untrusted" and len(s.asked) == 1
        assert "HIGH risk" in s.asked[0].message

    over_the_socket(
        service.socket,
        confirmed,
        answer=lambda _: types.ElicitResult(action="accept", content={"confirm": True}),
    )

    async def declined(s: Session) -> None:
        r = await s.call("run_code", code=HIGH)
        assert r["decision"] == "needs_confirmation" and r["user_answer"] == "declined"
        assert r["exit_code"] is None and r["backend"] == "" and len(s.asked) == 1
        history = await s.call("history", limit=10)
        assert len(history["recent_executions"]) == 1  # only the confirmed one ran

    over_the_socket(
        service.socket, declined, answer=lambda _: types.ElicitResult(action="decline")
    )
    with warden.SafetyAPI(service.config) as api:
        decided = api.get_execution_history(10)["recent_decisions"]
        summary = api.get_audit_report(None)["summary"]
    assert sorted(r["data"]["outcome"] for r in decided) == ["needs_confirmation", "run"]
    assert summary["confirmations"] == 1
    assert all(r["data"]["user_verified"] for r in mcp_runs(service.config))


def test_the_mcp_server_answers_only_what_the_service_relays(service: Service) -> None:
    """Its own socket, in the service's 0700 folder, refuses a request without
    the identity headers the service sets."""
    folders = list(service.socket.parent.glob(service.socket.name + ".mcp.*"))
    assert len(folders) == 1 and (folders[0].stat().st_mode & 0o777) == 0o700
    deadline = time.monotonic() + 30
    while service_status(service.socket)["service"]["mcp"]["state"] == "starting":
        assert time.monotonic() < deadline, "the MCP server did not start"
        time.sleep(0.1)
    connection = _UnixConnection(str(folders[0] / "mcp.sock"))
    try:
        connection.request(
            "POST", "/mcp", body=b"{}", headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        assert response.status == 403
        assert json.loads(response.read())["error"]["kind"] == "refused"
    finally:
        connection.close()
    service.stop()
    assert not folders[0].exists()  # the service removed it, and its server is gone


def test_service_mcp_never_is_a_404(tmp_path: Path, socket_folder: Path) -> None:
    sock = socket_folder / "w.sock"
    config = config_with_socket(tmp_path, sock)
    config.write_text(config.read_text() + "  mcp: never\n")
    running = Service(config, sock, tmp_path / "serve.log")
    try:
        assert service_status(sock)["service"]["mcp"]["state"] == "never"
        connection = _UnixConnection(str(sock))
        connection.request("POST", "/mcp", body=b"{}", headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 404
        assert "service.mcp: never" in json.loads(response.read())["error"]["message"]
        connection.close()
    finally:
        running.stop()


def test_the_2026_07_28_protocol_over_the_service_socket(service: Service) -> None:
    """The SDK's Client on the newest protocol over /mcp: each round of a call
    is its own HTTP request, each relayed with the client's identity; HIGH is
    asked through an InputRequiredResult and runs once confirmed."""
    asked: List[str] = []

    async def on_elicit(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"confirm": True})

    async def main() -> None:
        transport = httpx2.AsyncHTTPTransport(uds=str(service.socket))
        with anyio.fail_after(120):
            async with httpx2.AsyncClient(
                transport=transport, timeout=httpx2.Timeout(30, read=300)
            ) as http:
                connection = streamable_http_client("http://localhost/mcp", http_client=http)
                async with Client(
                    connection, elicitation_callback=on_elicit, mode="2026-07-28"
                ) as client:
                    assert client.protocol_version == "2026-07-28"
                    high = (await client.call_tool("run_code", {"code": HIGH})).structured_content
                    assert high["decision"] == "ran" and high["user_answer"] == "confirmed"
                    assert len(asked) == 1 and "HIGH risk" in asked[0]

    anyio.run(main)
    runs = mcp_runs(service.config)
    assert len(runs) == 1 and runs[0]["data"]["user_verified"]
    assert runs[0]["data"]["metadata"]["service_peer"] == {"uid": os.geteuid(), "pid": os.getpid()}


def test_an_mcp_session_is_its_openers(service: Service) -> None:
    """Straight to the MCP server's own socket (as the service's user, which the
    folder lets in), with the identity headers the service would set: a session
    opened for one uid does not take another uid's requests."""
    folder = next(service.socket.parent.glob(service.socket.name + ".mcp.*"))
    deadline = time.monotonic() + 30
    while service_status(service.socket)["service"]["mcp"]["state"] == "starting":
        assert time.monotonic() < deadline, "the MCP server did not start"
        time.sleep(0.1)

    def post(uid: int, message: Dict[str, Any], session: str = "") -> http.client.HTTPResponse:
        connection = _UnixConnection(str(folder / "mcp.sock"))
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "X-Warden-Peer-Uid": str(uid),
            "X-Warden-Peer-Pid": "1",
        }
        if session:
            headers["Mcp-Session-Id"] = session
        connection.request("POST", "/mcp", body=json.dumps(message).encode(), headers=headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response

    opened = post(
        1000,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        },
    )
    assert opened.status == 200
    session = opened.getheader("mcp-session-id")
    assert session
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    assert post(1001, ping, session).status == 403  # another uid
    assert post(1000, ping, session).status == 200  # its opener


def test_mcp_clients_filling_max_clients_still_get_their_calls_served(
    tmp_path: Path, socket_folder: Path
) -> None:
    """An MCP client holds two of the service's connections (its event stream
    and its call); with service.max_clients 2 the MCP server's own calls to the
    API go through the socket the service opened for it alone."""
    sock = socket_folder / "w.sock"
    config = config_with_socket(tmp_path, sock)
    config.write_text(config.read_text() + "  max_clients: 2\n")
    running = Service(config, sock, tmp_path / "serve.log")
    try:

        async def test(s: Session) -> None:
            r = await s.call("run_code", code=LOW)
            assert r["decision"] == "ran" and r["stdout"] == "Hello, World!\n"
            assert len((await s.call("history", limit=5))["recent_executions"]) == 1

        over_the_socket(sock, test)
    finally:
        running.stop()
