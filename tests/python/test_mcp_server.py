"""warden's MCP server (python -m warden.mcp, docs/mcp.md) driven over stdio by
the official MCP SDK's own client, as an agent would: each test starts the
server on its own warden.yaml (conftest.write_config) and talks to it with
`mcp.client.stdio.stdio_client` + `ClientSession`. The server runs real code
with the native backend; the audit log is read back through the server's
history tool and through the module."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional

import pytest

import warden
from conftest import under_ci, write_config
from risk_samples import BLOCKED, HIGH, LOW

try:
    import mcp  # noqa: F401
except ModuleNotFoundError:
    if under_ci():  # scripts/test-python.sh installs the mcp extra
        raise
    pytest.skip(
        "skipped: the mcp extra is not installed (pip install 'warden[mcp]')",
        allow_module_level=True,
    )

import anyio  # noqa: E402
from mcp import Client, ClientSession, StdioServerParameters, types  # noqa: E402
from mcp.client.session import ClientRequestContext  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402


def _require_native(config: Path) -> None:
    with warden.SafetyAPI(config) as api:
        native = api.get_security_status()["components"].get("sandbox:native", {})
    if not native.get("available"):
        why = f"the native sandbox backend is unavailable: {native.get('reason', 'not loaded')}"
        if under_ci():
            pytest.fail(why)
        pytest.skip(f"skipped: {why}")


@pytest.fixture
def server_config(tmp_path: Path) -> Path:
    config = write_config(tmp_path)
    _require_native(config)
    return config


class Session:
    """What one test saw: the questions the server asked and the tool results."""

    def __init__(self, session: ClientSession, asked: List[types.ElicitRequestFormParams]) -> None:
        self.session = session
        self.asked = asked

    async def call(self, tool: str, **arguments: Any) -> Dict[str, Any]:
        return (await self.call_result(tool, **arguments)).structured_content  # type: ignore

    async def call_result(self, tool: str, **arguments: Any) -> types.CallToolResult:
        """The whole result: its content blocks as well as its structured content."""
        result = await self.session.call_tool(tool, arguments)
        assert not result.is_error, result.content
        assert isinstance(result.structured_content, dict)
        return result


def serve(
    config: Path,
    test: Callable[[Session], Awaitable[None]],
    answer: Optional[Callable[[types.ElicitRequestFormParams], types.ElicitResult]] = None,
    command: Optional[List[str]] = None,
    errlog: Optional[Path] = None,
) -> None:
    """Starts the server (`python -m warden.mcp --config config`, or `command`),
    connects the SDK's client (with an elicitation callback when `answer` is
    given, so the client declares the capability), and runs `test` on the session.
    The server's stderr goes to `errlog` when given (else to this process's)."""
    argv = command or [sys.executable, "-m", "warden.mcp", "--config", str(config)]
    params = StdioServerParameters(command=argv[0], args=argv[1:], env={**os.environ})
    asked: List[types.ElicitRequestFormParams] = []

    async def on_elicit(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams)  # never URL mode
        asked.append(params)
        assert answer is not None
        return answer(params)

    async def main() -> None:
        with anyio.fail_after(120), ExitStack() as files:
            err = files.enter_context(errlog.open("a")) if errlog is not None else sys.stderr
            async with stdio_client(params, errlog=err) as (read, write):
                async with ClientSession(
                    read, write, elicitation_callback=on_elicit if answer else None
                ) as session:
                    init = await session.initialize()
                    assert init.server_info.name == "warden"
                    await test(Session(session, asked))

    anyio.run(main)


def decisions(config: Path) -> List[Dict[str, Any]]:
    """The decision records of the test's audit log, oldest first, read by the module."""
    with warden.SafetyAPI(config) as api:
        records = api.get_execution_history(100)["recent_decisions"]
    return sorted(records, key=lambda r: r["index"])


def test_lists_its_tools_with_schemas(server_config: Path) -> None:
    async def test(s: Session) -> None:
        listed = {t.name: t for t in (await s.session.list_tools()).tools}
        assert set(listed) == {"run_code", "assess_code", "history"}
        run = listed["run_code"]
        assert set(run.input_schema["properties"]) == {"code", "stdin", "files", "files_base64"}
        assert run.input_schema["required"] == ["code"]
        assert run.output_schema is not None
        assert {"decision", "level", "stdout", "stderr", "exit_code", "limits"} <= set(
            run.output_schema["properties"]
        )
        assert "files_base64" in (run.description or "")
        assert {"files", "files_skipped"} <= set(run.output_schema["properties"])
        assert listed["history"].annotations is not None
        assert listed["history"].annotations.read_only_hint

    # Through the console script warden-mcp this time.
    warden_mcp = Path(sys.executable).parent / "warden-mcp"
    serve(server_config, test, command=[str(warden_mcp), "--config", str(server_config)])


def test_assess_code_classifies_without_running(server_config: Path) -> None:
    async def test(s: Session) -> None:
        low = await s.call("assess_code", code=LOW)
        assert low["level"] == "LOW" and low["can_execute"] and low["findings"] == []
        blocked = await s.call("assess_code", code=BLOCKED)
        assert blocked["level"] == "BLOCKED" and not blocked["can_execute"]
        assert blocked["score"] >= 10
        assert any("os.system" in r for r in blocked["reasons"])
        assert {f["rule_id"] for f in blocked["findings"]} >= {"heuristics.shell-command"}
        high = await s.call("assess_code", code=HIGH)
        assert high["level"] == "HIGH" and high["needs_confirmation"]
        history = await s.call("history", limit=10)
        assert len(history["security_assessments"]) == 3
        assert history["recent_executions"] == []

    serve(server_config, test)
    assert decisions(server_config) == []  # nothing was decided, let alone run


def test_runs_benign_code_and_returns_its_output(server_config: Path) -> None:
    code = "import sys\nprint('hello', sys.stdin.read().upper())\nsys.stderr.write('warned\\n')\nsys.exit(3)\n"

    async def test(s: Session) -> None:
        r = await s.call("run_code", code=code, stdin="from mcp")
        assert r["decision"] == "ran" and r["level"] == "LOW"
        assert r["stdout"] == "hello FROM MCP\n"
        assert r["stderr"] == "warned\n"
        assert r["exit_code"] == 3 and r["signal"] is None
        assert r["user_answer"] == "not_asked"
        assert r["limits"]["memory_bytes"] > 0 and r["limits"]["wall_time_ms"] > 0
        assert r["backend"] == "native" and r["network"] == "none"
        assert r["resource_usage"]["wall_time_ms"] >= 0
        assert not (r["timed_out"] or r["oom_killed"] or r["output_truncated"])
        assert r["audit_ids"]
        assert s.asked == []  # LOW asks nobody

    serve(server_config, test, answer=lambda _: types.ElicitResult(action="decline"))


# A program that writes a 1x1 PNG with plain Python (struct and zlib), a text
# file, a binary file, and prints what its input files hold.
WRITE_PNG = """\
import struct
import zlib


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


png = (
    b"\\x89PNG\\r\\n\\x1a\\n"
    + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(b"\\x00\\xff\\x80\\x00"))
    + chunk(b"IEND", b"")
)
"""
FILES_PROGRAM = WRITE_PNG + """
import os

os.mkdir("plots")
with open("plots/dot.png", "wb") as f:
    f.write(png)
with open("report.txt", "w") as f:
    f.write("mean=2\\n")
with open("raw.bin", "wb") as f:
    f.write(bytes(range(256)))
with open("in/params.txt") as f:
    params = f.read().strip()
with open("in/blob.bin", "rb") as f:
    blob = f.read()
print(params, blob.hex())
"""


def png_bytes() -> bytes:
    scope: Dict[str, Any] = {}
    exec(WRITE_PNG, scope)
    return scope["png"]


def test_input_files_go_in_and_output_files_come_back_with_images(server_config: Path) -> None:
    png = png_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png.endswith(b"IEND\xaeB`\x82")

    async def test(s: Session) -> None:
        result = await s.call_result(
            "run_code",
            code=FILES_PROGRAM,
            files={"in/params.txt": "alpha=3\n"},
            files_base64={"in/blob.bin": base64.b64encode(b"\x00\xff").decode()},
        )
        r = result.structured_content
        assert r is not None
        assert r["decision"] == "ran", r["reason"]
        assert r["stdout"] == "alpha=3 00ff\n" and r["exit_code"] == 0
        assert r["files"] == [
            {
                "path": "plots/dot.png",
                "size": len(png),
                "sha256": hashlib.sha256(png).hexdigest(),
                "mime_type": "image/png",
                "returned_as": "image",
            },
            {
                "path": "raw.bin",
                "size": 256,
                "sha256": hashlib.sha256(bytes(range(256))).hexdigest(),
                "mime_type": "application/octet-stream",
                "returned_as": "summary",
            },
            {
                "path": "report.txt",
                "size": 7,
                "sha256": hashlib.sha256(b"mean=2\n").hexdigest(),
                "mime_type": "text/plain",
                "returned_as": "resource",
            },
        ]
        assert r["files_skipped"] == []
        # The JSON text first, then the image, then the text file as a resource.
        text, image, resource = result.content
        assert isinstance(text, types.TextContent) and '"plots/dot.png"' in text.text
        assert isinstance(image, types.ImageContent)
        assert image.mime_type == "image/png" and base64.b64decode(image.data) == png
        assert isinstance(resource, types.EmbeddedResource)
        assert isinstance(resource.resource, types.TextResourceContents)
        assert resource.resource.text == "mean=2\n"
        assert resource.resource.uri == f"warden://run/{r['request_id']}/report.txt"

    serve(server_config, test)


def test_an_image_is_told_by_its_bytes_and_skipped_files_are_listed(tmp_path: Path) -> None:
    config = write_config(tmp_path, "ceilings: {output_files: 2}\n")
    _require_native(config)
    png = png_bytes()
    code = WRITE_PNG + (
        "open('not-an-image.png', 'w').write('plain text')\n"
        "open('picture.dat', 'wb').write(png)\n"
        "open('zz-over.txt', 'w').write('x')\n"
    )

    async def test(s: Session) -> None:
        result = await s.session.call_tool("run_code", {"code": code})
        assert not result.is_error, result.content
        r = result.structured_content
        assert r is not None and r["decision"] == "ran", r
        assert [(f["path"], f["mime_type"]) for f in r["files"]] == [
            ("not-an-image.png", "text/plain"),
            ("picture.dat", "image/png"),
        ]
        images = [c for c in result.content if isinstance(c, types.ImageContent)]
        assert [base64.b64decode(i.data) for i in images] == [png]
        assert [(f["path"], f["size"]) for f in r["files_skipped"]] == [("zz-over.txt", 1)]
        assert "output_files" in r["files_skipped"][0]["reason"]

    serve(config, test)


def test_output_that_is_not_utf8_comes_back_replaced(server_config: Path) -> None:
    code = "import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe end\\n')\nsys.stderr.buffer.write(b'\\x80')\n"

    async def test(s: Session) -> None:
        r = await s.call("run_code", code=code)
        assert r["decision"] == "ran" and r["exit_code"] == 0
        assert r["stdout"].startswith("ok ") and r["stdout"].endswith(" end\n")
        assert "\ufffd" in r["stdout"] and r["stdout_replaced"]
        assert r["stderr"] == "\ufffd" and r["stderr_replaced"]
        # The server still answers after it.
        assert (await s.call("run_code", code=LOW))["stdout"] == "Hello, World!\n"

    serve(server_config, test)


def test_the_server_answers_while_code_runs(server_config: Path) -> None:
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
            assert (await s.call("assess_code", code=LOW))["level"] == "LOW"
            await s.session.send_ping()
            finished["assess"] = anyio.current_time()
        assert finished["assess"] < finished["run"]
        assert finished["assess"] - started < 1.8  # not queued behind the 2 s run

    serve(server_config, test)


def test_high_runs_when_the_user_confirms(server_config: Path) -> None:
    async def test(s: Session) -> None:
        r = await s.call("run_code", code=HIGH)
        assert r["decision"] == "ran", r["reason"]
        assert r["level"] == "HIGH" and r["user_answer"] == "confirmed"
        assert r["exit_code"] == 0 and r["stdout"].endswith("1\n")
        assert r["trust"] == "untrusted"
        assert len(s.asked) == 1
        question = s.asked[0]
        assert "HIGH risk" in question.message and "ctypes" in question.message
        assert "print(pickle.loads(pickle.dumps(1)))" in question.message  # the code itself
        assert "confirm" in question.requested_schema["properties"]
        history = await s.call("history", limit=5)
        assert history["recent_decisions"][0]["data"]["outcome"] == "run"
        assert history["recent_executions"]

    serve(
        server_config,
        test,
        answer=lambda _: types.ElicitResult(action="accept", content={"confirm": True}),
    )
    records = decisions(server_config)
    assert [r["data"]["outcome"] for r in records] == ["run"]
    assert records[0]["data"]["level"] == "HIGH"
    with warden.SafetyAPI(server_config) as api:
        summary = api.get_audit_report(None)["summary"]
    assert summary["confirmations"] == 1 and summary["by_kind"]["confirmation"] == 1


def test_high_does_not_run_when_the_user_declines(server_config: Path) -> None:
    async def test(s: Session) -> None:
        r = await s.call("run_code", code=HIGH)
        assert r["decision"] == "needs_confirmation" and r["level"] == "HIGH"
        assert r["user_answer"] == "declined"
        assert r["exit_code"] is None and r["stdout"] == ""
        assert r["backend"] == "" and r["resource_usage"] is None
        assert len(s.asked) == 1
        cancelled = await s.call("run_code", code=HIGH, stdin="again")
        assert cancelled["decision"] == "needs_confirmation"
        assert (await s.call("history"))["recent_executions"] == []

    answers = iter(
        [types.ElicitResult(action="decline"), types.ElicitResult(action="cancel")]
    )
    serve(server_config, test, answer=lambda _: next(answers))
    assert [r["data"]["outcome"] for r in decisions(server_config)] == [
        "needs_confirmation",
        "needs_confirmation",
    ]


def test_blocked_runs_only_with_an_explained_override(server_config: Path) -> None:
    explanation = "the test suite checks that an override is audited"
    answers = iter(
        [
            types.ElicitResult(action="accept", content={"explanation": "   "}),
            types.ElicitResult(action="decline"),
            types.ElicitResult(action="accept", content={"explanation": explanation}),
        ]
    )

    async def test(s: Session) -> None:
        empty = await s.call("run_code", code=BLOCKED)
        assert empty["decision"] == "blocked" and empty["user_answer"] == "declined"
        declined = await s.call("run_code", code=BLOCKED)
        assert declined["decision"] == "blocked" and declined["exit_code"] is None
        r = await s.call("run_code", code=BLOCKED)
        assert r["decision"] == "ran", r["reason"]
        assert r["override_used"] and r["user_answer"] == "overridden"
        assert r["stdout"].endswith("ran anyway\n") and r["trust"] == "untrusted"
        assert len(s.asked) == 3
        assert "BLOCKED" in s.asked[0].message
        assert "explanation" in s.asked[0].requested_schema["properties"]

    serve(server_config, test, answer=lambda _: next(answers))
    records = decisions(server_config)
    assert [r["data"]["outcome"] for r in records] == ["blocked", "blocked", "run"]
    assert records[-1]["data"]["override_used"] is True
    with warden.SafetyAPI(server_config) as api:
        report = api.get_audit_report(None)
    assert explanation in str(report["summary"])


def test_without_elicitation_nothing_risky_runs(server_config: Path) -> None:
    async def test(s: Session) -> None:
        high = await s.call("run_code", code=HIGH)
        assert high["decision"] == "needs_confirmation"
        assert high["user_answer"] == "cannot_ask"
        assert "cannot ask the user" in high["reason"]
        blocked = await s.call("run_code", code=BLOCKED)
        assert blocked["decision"] == "blocked" and blocked["exit_code"] is None
        low = await s.call("run_code", code=LOW)
        assert low["decision"] == "ran" and low["stdout"] == "Hello, World!\n"
        assert low["user_answer"] == "not_asked"  # nothing to ask

    serve(server_config, test)  # no elicitation callback: the capability is not declared
    assert [r["data"]["outcome"] for r in decisions(server_config)] == [
        "needs_confirmation",
        "blocked",
        "run",
    ]


def test_bad_input_is_a_tool_error(server_config: Path) -> None:
    async def test(s: Session) -> None:
        result = await s.session.call_tool("run_code", {"code": ""})
        assert result.is_error
        assert "Code cannot be empty" in str(result.content)
        for files, message in (
            ({"files": {"../x": "x"}}, """Input file '../x': the path has a "." or ".." in it"""),
            ({"files": {"/etc/x": "x"}}, "Input file '/etc/x': the path is absolute"),
            ({"files_base64": {"a.bin": "not base64!"}}, "files_base64['a.bin'] is not base64"),
            (
                {"files": {"a": "x"}, "files_base64": {"a": "eA=="}},
                "input file 'a' is given in both files and files_base64",
            ),
        ):
            bad = await s.session.call_tool("run_code", {"code": LOW, **files})
            assert bad.is_error and isinstance(bad.content[0], types.TextContent)
            assert message in bad.content[0].text
        assert (await s.call("assess_code", code=LOW))["level"] == "LOW"

    serve(server_config, test)


# The `warden` console script of this environment: the C++ program's `warden mcp`
# behind it, which execs this interpreter (the script sets $WARDEN_PYTHON).
WARDEN = Path(sys.executable).parent / "warden"


def clean_env() -> Dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}


def test_the_warden_mcp_command_serves_the_same_tools(server_config: Path) -> None:
    async def test(s: Session) -> None:
        r = await s.call("run_code", code=LOW)
        assert r["decision"] == "ran" and r["stdout"] == "Hello, World!\n"
        assert len((await s.call("history"))["recent_executions"]) == 1

    serve(server_config, test, command=[str(WARDEN), "--config", str(server_config), "mcp"])
    # The --config given to `warden` is the one the server opened.
    assert [r["data"]["outcome"] for r in decisions(server_config)] == ["run"]


def test_warden_mcp_names_what_is_missing(tmp_path: Path) -> None:
    nowhere = subprocess.run(
        [str(WARDEN), "mcp", "--python", str(tmp_path / "no-python")],
        env=clean_env(), capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    assert nowhere.returncode == 3
    assert "cannot run the Python interpreter" in nowhere.stderr
    assert str(tmp_path / "no-python") in nowhere.stderr

    # A Python without the warden module (a bare virtualenv), by $WARDEN_PYTHON.
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    no_module = subprocess.run(
        [str(WARDEN), "mcp"],
        env={**clean_env(), "WARDEN_PYTHON": str(bare / "bin" / "python")},
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    assert no_module.returncode == 1
    assert "cannot import the warden Python module" in no_module.stderr
    assert "pip install 'warden[mcp]'" in no_module.stderr

    # The warden module without the MCP SDK: this environment's packages but
    # for mcp, which a module of the same name in front of them hides.
    hider = tmp_path / "hide"
    hider.mkdir()
    (hider / "mcp.py").write_text("raise ModuleNotFoundError('hidden for the test', name='mcp')\n")
    no_sdk = subprocess.run(
        [str(WARDEN), "mcp", "--python", sys.executable],
        env={**clean_env(), "PYTHONPATH": str(hider)},
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    assert no_sdk.returncode == 1
    assert "cannot import the MCP Python SDK (mcp)" in no_sdk.stderr


def test_the_2026_07_28_protocol_asks_through_input_required(server_config: Path) -> None:
    """The SDK's Client on the newest protocol: the question comes back as an
    InputRequiredResult and the client calls again with the answer."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "warden.mcp", "--config", str(server_config)],
        env={**os.environ},
    )
    asked: List[str] = []

    async def on_elicit(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        asked.append(params.message)
        if "HIGH risk" in params.message:
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action="decline")

    async def main() -> None:
        with anyio.fail_after(120):
            async with Client(params, elicitation_callback=on_elicit, mode="2026-07-28") as client:
                assert client.protocol_version == "2026-07-28"
                high = (await client.call_tool("run_code", {"code": HIGH})).structured_content
                assert high["decision"] == "ran" and high["user_answer"] == "confirmed"
                assert high["stdout"].endswith("1\n")
                blocked = (await client.call_tool("run_code", {"code": BLOCKED})).structured_content
                assert blocked["decision"] == "blocked" and blocked["user_answer"] == "declined"
                assert len(asked) == 2
            async with Client(params, mode="2026-07-28") as mute:  # no elicitation
                high = (await mute.call_tool("run_code", {"code": HIGH})).structured_content
                assert high["decision"] == "needs_confirmation"
                assert high["user_answer"] == "cannot_ask"

    anyio.run(main)
    assert [r["data"]["outcome"] for r in decisions(server_config)] == [
        "run",
        "blocked",
        "needs_confirmation",
    ]


def test_blocked_is_not_asked_about_when_the_policy_allows_no_override(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(Path(warden.data_directory()) / "policies" / "default", policies)
    (policies / "override.lua").write_text(
        "function may_override(decision, request)\n"
        "  return { allowed = false, reason = 'this test allows no override' }\n"
        "end\n"
    )
    config = write_config(tmp_path, f"policies: {{directory: {policies}}}\n")
    _require_native(config)

    async def test(s: Session) -> None:
        r = await s.call("run_code", code=BLOCKED)
        assert r["decision"] == "blocked" and r["user_answer"] == "not_asked"
        assert s.asked == []  # no question the policy would refuse anyway

    explained = types.ElicitResult(action="accept", content={"explanation": "x"})
    serve(config, test, answer=lambda _: explained)
    assert [r["data"]["outcome"] for r in decisions(config)] == ["blocked"]
