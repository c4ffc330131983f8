"""warden as an MCP server (docs/mcp.md): ``warden mcp``, ``warden-mcp`` or
``python -m warden.mcp`` serve the Model Context Protocol over stdio with the
official Python SDK (``pip install 'warden[mcp]'``, Python 3.10 or newer).
With ``--http-socket PATH`` the same server speaks Streamable HTTP at /mcp on
that unix socket instead: ``warden serve`` (service.mcp: auto) runs it so as
its child and relays its own clients' /mcp requests to it, with their identity
(serve_http below).

Tools: ``run_code`` (assess, decide, run in the sandbox, audit), ``assess_code``
(assess and classify only) and ``history`` (the audit log's newest records).
Each call goes to the ``warden serve`` of the same configuration when one runs
(its socket ``service.socket``; the warm assessors, sandbox pools, result
cache and audit writer are then shared with every other client), else to one
:class:`warden.SafetyAPI` (one ``warden::Host``) of the server's own, as the
C++ CLI does (warden._service.ServiceOrHost); stderr says which. Each call
runs in a worker thread, so the server keeps answering while code runs.

Nothing HIGH or BLOCKED runs without the user's answer. Before ``run_code``
runs anything, a dry run (``SafetyAPI.explain``: nothing runs, nothing is
recorded) says what warden would decide; for HIGH the server asks the user
through MCP elicitation to confirm, for BLOCKED (when the policy allows an
override) it asks for an explanation. Only an accepted answer changes the
request (``confirm=True``, or ``user_override=True`` with the explanation);
a declined or cancelled question, or a client that cannot elicit, leaves the
request as it was, so warden answers ``needs_confirmation`` or ``blocked`` and
nothing runs. warden itself decides again on the real request and audits it,
the user's answer (in the request's metadata) included.

The questions go through the SDK's resolvers, which ask the way the
negotiated protocol does it: an ``elicitation/create`` request during the
call up to 2025-11-25, an ``InputRequiredResult`` the client answers by
calling again from 2026-07-28 on.
"""

import argparse
import base64
import logging
import sys
from typing import (
    Annotated,
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Protocol,
    Tuple,
    TypeVar,
    Union,
)
from urllib.parse import quote

import anyio.to_thread
from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.types import (
    CallToolResult,
    ContentBlock,
    EmbeddedResource,
    ImageContent,
    TextContent,
    TextResourceContents,
    ToolAnnotations,
)
from pydantic import BaseModel, Field
from pydantic_core import to_json
from typing_extensions import TypedDict  # pydantic needs it for output schemas before 3.12

import warden
from warden._service import ServiceOrHost

__all__ = ["build_server", "main"]

# How much of the code a question shows the user.
_SHOWN_LINES = 40
# An output file that is UTF-8 text up to this size comes back as an embedded
# text resource as well as summarised.
_TEXT_FILE_BYTES = 64 * 1024
# Images, told by their first bytes (never by name): (prefix, MIME type).
_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
# The longest override explanation the default warden.yaml accepts
# (requests.max_explanation_chars); warden checks the configured one.
_EXPLANATION_CHARS = 500


class Confirmation(BaseModel):
    """What the user is asked before HIGH-risk code runs."""

    confirm: bool = Field(
        default=True,
        title="Run it",
        description="Run this HIGH-risk code in warden's sandbox with untrusted limits",
    )


class OverrideRequest(BaseModel):
    """What the user is asked before BLOCKED code runs anyway."""

    explanation: str = Field(
        title="Why run it anyway",
        description="Why this blocked code should run; kept in warden's audit log",
        max_length=_EXPLANATION_CHARS,
    )


class Finding(TypedDict):
    assessor: str
    rule_id: str
    severity: str
    line: int
    message: str


class AssessOutput(TypedDict):
    """What assess_code returns."""

    level: str  # LOW | MEDIUM | HIGH | BLOCKED
    score: float
    reasons: List[str]
    findings: List[Finding]
    can_execute: bool  # runs without asking (LOW, MEDIUM)
    needs_confirmation: bool  # HIGH: runs only when the user confirms
    audit_id: str


class FileOutput(TypedDict):
    """A file the program left in its working folder."""

    path: str  # relative to the working folder: "plots/a.png"
    size: int
    sha256: str
    # image/png, image/jpeg, image/gif, image/webp (by their first bytes);
    # text/plain (UTF-8 text); application/octet-stream (anything else)
    mime_type: str
    # image: an ImageContent block; resource: an embedded text resource (UTF-8
    # text up to 64 KiB); summary: only this entry (larger text, other bytes)
    returned_as: str


class SkippedOutput(TypedDict):
    """A file the program left that did not come back, and why."""

    path: str
    size: int
    reason: str


class RunOutput(TypedDict):
    """What run_code returns: warden's decision and, when it ran, the run."""

    decision: str  # ran | needs_confirmation | blocked | refused
    reason: str
    level: str
    score: float
    reasons: List[str]
    warnings: List[str]
    findings: List[Finding]
    user_answer: str  # not_asked | confirmed | declined | cancelled | overridden | cannot_ask
    override_used: bool
    trust: str  # trusted | standard | untrusted: the limits the policy chose
    backend: str  # empty when nothing ran
    network: str
    exit_code: Optional[int]  # None when nothing ran or a signal ended it
    signal: Optional[int]
    stdout: str  # bytes that were not UTF-8 are U+FFFD (stdout_replaced)
    stderr: str
    stdout_replaced: bool
    stderr_replaced: bool
    timed_out: bool
    cpu_time_exceeded: bool
    oom_killed: bool
    output_truncated: bool
    limits_hit: List[str]
    limits: Dict[str, Any]  # what the sandbox enforced, in bytes and ms
    # peak_memory_bytes, cpu_time_ms, wall_time_ms; None when nothing ran
    resource_usage: Optional[Dict[str, int]]
    files: List[FileOutput]  # in path order; empty when nothing ran
    files_skipped: List[SkippedOutput]  # over the output_files or output_files_size limit, ...
    # What a program that declares packages (PEP 723) got: key, set, cached, packages (name,
    # version, sha256, url), hooks, install_ms, egress; or refused. None when it declares none.
    dependencies: Optional[Dict[str, Any]]
    request_id: str
    audit_ids: List[str]


class HistoryOutput(TypedDict):
    """What history returns: the audit log's newest records of each kind."""

    limit: int
    summary: Dict[str, Any]
    recent_executions: List[Dict[str, Any]]
    recent_decisions: List[Dict[str, Any]]
    security_assessments: List[Dict[str, Any]]
    resource_violations: List[Dict[str, Any]]


T = TypeVar("T")


class Warden(Protocol):
    """What the tools call: a :class:`warden.SafetyAPI`, or a
    :class:`warden._service.ServiceOrHost` (the service when one runs)."""

    def explain(self, code: str) -> Dict[str, Any]: ...

    def assess_and_execute(
        self,
        code: str,
        user_override: bool = False,
        user_explanation: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
        confirm: bool = False,
        stdin: Optional[str] = None,
        files: Optional[Mapping[str, Union[str, bytes]]] = None,
    ) -> Any: ...

    def assess_code_only(self, code: str) -> Dict[str, Any]: ...

    def get_execution_history(self, limit: int = 10) -> Dict[str, Any]: ...


async def _in_thread(call: Callable[[], T]) -> T:
    """``call()`` (a blocking Host call) in a worker thread; warden's errors as
    tool errors, whose message the client (and its model) reads."""
    try:
        return await anyio.to_thread.run_sync(call)
    except (ValueError, TypeError) as e:  # bad input: warden's own message
        raise ToolError(str(e)) from e
    except warden.WardenError as e:  # something warden needs is down: nothing ran
        raise ToolError(f"warden could not serve this request, nothing ran: {e}") from e


def _findings(result: Dict[str, Any]) -> List[Finding]:
    return [
        Finding(
            assessor=f.get("assessor", ""),
            rule_id=f.get("rule_id", ""),
            severity=f.get("severity", ""),
            line=f.get("line", 0),
            message=f.get("message", ""),
        )
        for f in result.get("findings", [])
    ]


def _input_files(
    files: Optional[Dict[str, str]], files_base64: Optional[Dict[str, str]]
) -> Dict[str, bytes]:
    """run_code's ``files`` (text) and ``files_base64`` (bytes) as one mapping."""
    given: Dict[str, bytes] = {p: t.encode("utf-8") for p, t in (files or {}).items()}
    for path, encoded in (files_base64 or {}).items():
        if path in given:
            raise ToolError(f"input file '{path}' is given in both files and files_base64")
        try:
            given[path] = base64.b64decode(encoded, validate=True)
        except ValueError as e:  # binascii.Error, or text that is not ASCII
            raise ToolError(f"files_base64['{path}'] is not base64: {e}") from e
    return given


def _image_type(content: bytes) -> Optional[str]:
    """The MIME type of a PNG, JPEG, GIF or WEBP image, told by its first bytes."""
    for magic, mime_type in _IMAGE_MAGIC:
        if content.startswith(magic):
            return mime_type
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":  # RIFF, the size, WEBP
        return "image/webp"
    return None


def _text(content: bytes) -> Optional[str]:
    """``content`` as text when it is UTF-8 without NUL bytes, else None."""
    if b"\0" in content:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _output_files(result: Dict[str, Any]) -> Tuple[List[FileOutput], List[ContentBlock]]:
    """The run's files as entries of the structured result, and the content
    blocks that carry them: images as ImageContent, small UTF-8 text as an
    embedded text resource (``warden://run/<request_id>/<path>``)."""
    entries: List[FileOutput] = []
    blocks: List[ContentBlock] = []
    contents = warden.output_files(result)  # checked against their sha256
    for f in result["files"]:
        path, content = f["path"], contents[f["path"]]
        image = _image_type(content)
        text = None if image else _text(content)
        if image is not None:
            mime_type, returned_as = image, "image"
            blocks.append(
                ImageContent(data=base64.b64encode(content).decode("ascii"), mime_type=image)
            )
        elif text is not None:
            mime_type = "text/plain"
            returned_as = "resource" if len(content) <= _TEXT_FILE_BYTES else "summary"
            if returned_as == "resource":
                uri = f"warden://run/{result['request_id']}/{quote(path)}"
                blocks.append(
                    EmbeddedResource(
                        resource=TextResourceContents(uri=uri, mime_type=mime_type, text=text)
                    )
                )
        else:
            mime_type, returned_as = "application/octet-stream", "summary"
        entries.append(
            FileOutput(
                path=path,
                size=f["size"],
                sha256=f["sha256"],
                mime_type=mime_type,
                returned_as=returned_as,
            )
        )
    return entries, blocks


def _can_elicit(ctx: Context) -> bool:
    """The client declared form elicitation (a bare ``elicitation: {}`` counts)."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _question(headline: str, plan: Dict[str, Any], code: str, ending: str) -> str:
    """What the user reads: warden's verdict, the policy's reasons, the code
    itself (its first _SHOWN_LINES lines), and what answering does."""
    reasons = plan.get("classify", {}).get("reasons", [])
    lines = code.splitlines()
    shown = "\n".join(lines[:_SHOWN_LINES])
    if len(lines) > _SHOWN_LINES:
        shown += f"\n... ({len(lines) - _SHOWN_LINES} more lines)"
    return (
        f"{headline}\nWhy:\n"
        + ("\n".join(f"- {r}" for r in reasons) or "- (no reasons given)")
        + f"\nThe code:\n{shown}\n{ending}"
    )


def build_server(
    api: Optional[Warden] = None, *, per_request: Optional[Callable[[Context], Warden]] = None
) -> MCPServer:
    """The MCP server whose tools use ``api`` (which stays open while it serves),
    or, with ``per_request``, what it gives for each call's context (the
    service's own MCP server: the client of the call's HTTP request)."""

    def pick(ctx: Context) -> Warden:
        if per_request is not None:
            return per_request(ctx)
        assert api is not None
        return api

    # Resolvers: the SDK runs them before run_code's body and asks the user what
    # they return as Elicit. They may run again on each round of a 2026-07-28 call.

    async def plan(code: str, ctx: Context) -> Dict[str, Any]:
        """What warden would decide for the unconfirmed request (a dry run)."""
        warden_api = pick(ctx)
        return await _in_thread(lambda: dict(warden_api.explain(code)))

    def ask_confirmation(
        code: str, plan: Annotated[Dict[str, Any], Resolve(plan)], ctx: Context
    ) -> Optional[Elicit[Confirmation]]:
        if plan.get("outcome") != "needs_confirmation" or not _can_elicit(ctx):
            return None
        return Elicit(
            _question(
                "warden judged this code HIGH risk; it runs only if you confirm.",
                plan,
                code,
                "Run it in the sandbox with untrusted limits?",
            ),
            Confirmation,
        )

    def ask_override(
        code: str, plan: Annotated[Dict[str, Any], Resolve(plan)], ctx: Context
    ) -> Optional[Elicit[OverrideRequest]]:
        if plan.get("outcome") != "blocked" or not _can_elicit(ctx):
            return None
        if not plan.get("if_overridden", {}).get("may_override", {}).get("allowed", True):
            return None  # the policy refuses every override: nothing to ask
        return Elicit(
            _question(
                "warden BLOCKED this code.",
                plan,
                code,
                "It runs only if you override the block with an explanation (audited).",
            ),
            OverrideRequest,
        )

    server = MCPServer(
        name="warden",
        title="warden",
        version=warden.version(),
        instructions=(
            "warden assesses untrusted Python code, runs it in a sandbox with limits fitted to "
            "its risk, and audits everything. Use run_code to run Python, assess_code to only "
            "assess it, history to read the audit log. HIGH-risk code runs only after the user "
            "confirms, BLOCKED code only with the user's explained override: the server asks "
            "the user itself (elicitation); never try to bypass a decision."
        ),
    )

    @server.tool(
        title="Run Python code in warden's sandbox",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
        ),
    )
    async def run_code(
        code: Annotated[str, Field(description="The Python program (main.py)")],
        confirmation: Annotated[
            ElicitationResult[Confirmation], Resolve(ask_confirmation)
        ],
        override: Annotated[ElicitationResult[OverrideRequest], Resolve(ask_override)],
        plan: Annotated[Dict[str, Any], Resolve(plan)],
        ctx: Context,
        stdin: Annotated[str, Field(description="Text given to the program on stdin")] = "",
        files: Annotated[
            Optional[Dict[str, str]],
            Field(
                description="Input text files: relative path ('data/in.csv') -> text (UTF-8), "
                "placed read-only in the program's working folder (its cwd) before it starts"
            ),
        ] = None,
        files_base64: Annotated[
            Optional[Dict[str, str]],
            Field(
                description="Input binary files: relative path -> content in base64, placed "
                "like files"
            ),
        ] = None,
    ) -> Annotated[CallToolResult, RunOutput]:
        """Assess Python code, decide by warden's policy, and run it in the sandbox when
        allowed; the result has the decision, level, score, reasons, findings, stdout,
        stderr, exit code and the limits enforced. LOW and MEDIUM run. HIGH runs only after
        the user confirms, BLOCKED only with the user's explained override: the server asks
        the user (MCP elicitation); without an answer (or a client that cannot ask) nothing
        runs and the decision says why. The program runs as main.py in its working folder
        (network as the policy says: none by default), with stdin and the input files of
        files (text) and files_base64 (binary), read-only there. The files it leaves there
        come back: each in the result's files (path, size, sha256, mime_type), images (PNG,
        JPEG, GIF, WEBP) also as image content, UTF-8 text up to 64 KiB also as an embedded
        text resource; files over the output limits are listed in files_skipped. A program
        that needs packages declares them in PEP 723 inline metadata at its top
        ("# /// script", "# dependencies = ['requests>=2']", "# ///"): warden's policy
        decides what may be installed, and the result's dependencies says what was."""
        confirm = False
        user_override = False
        explanation: Optional[str] = None
        needs_answer = plan.get("outcome") in ("needs_confirmation", "blocked")
        user_answer = "cannot_ask" if needs_answer and not _can_elicit(ctx) else "not_asked"
        for asked in (confirmation, override):
            if not isinstance(asked, AcceptedElicitation):
                user_answer = "declined" if asked.action == "decline" else "cancelled"
            elif isinstance(asked.data, Confirmation):
                confirm = asked.data.confirm
                user_answer = "confirmed" if confirm else "declined"
            elif isinstance(asked.data, OverrideRequest):
                explanation = asked.data.explanation.strip()
                user_override = bool(explanation)
                user_answer = "overridden" if user_override else "declined"
        client = ctx.session.client_params
        metadata = {
            "via": "mcp",
            "mcp_client": client.client_info.name if client is not None else "",
            "user_answer": user_answer,
        }

        inputs = _input_files(files, files_base64)
        warden_api = pick(ctx)

        def call() -> Dict[str, Any]:
            return dict(
                warden_api.assess_and_execute(
                    code,
                    confirm=confirm,
                    user_override=user_override,
                    user_explanation=explanation,
                    stdin=stdin,
                    metadata=metadata,
                    files=inputs or None,
                )
            )

        r = await _in_thread(call)
        reason = r["reason"]
        if user_answer == "cannot_ask" and r["decision"] in ("needs_confirmation", "blocked"):
            reason += (
                "; this MCP client cannot ask the user (no elicitation capability), so it"
                " did not run"
            )
        file_entries, file_blocks = _output_files(r)
        output = RunOutput(
            decision=r["decision"],
            reason=reason,
            level=str(r["level"]),
            score=r["score"],
            reasons=r["reasons"],
            warnings=r["warnings"],
            findings=_findings(r),
            user_answer=user_answer,
            override_used=r["override_used"],
            trust=r["trust"],
            backend=r["backend"],
            network=r["network"],
            exit_code=r["exit_code"],
            signal=r["signal"],
            stdout=r["stdout"],
            stderr=r["stderr"],
            stdout_replaced=r["stdout_replaced"],
            stderr_replaced=r["stderr_replaced"],
            timed_out=r["timed_out"],
            cpu_time_exceeded=r["cpu_time_exceeded"],
            oom_killed=r["oom_killed"],
            output_truncated=r["output_truncated"],
            limits_hit=r["limits_hit"],
            limits=r["limits"],
            resource_usage=dict(r["resource_usage"]) if r["resource_usage"] else None,
            files=file_entries,
            files_skipped=[
                SkippedOutput(path=f["path"], size=f["size"], reason=f["reason"])
                for f in r["files_skipped"]
            ],
            dependencies=r.get("dependencies"),
            request_id=r["request_id"],
            audit_ids=r["audit_ids"],
        )
        # The structured result, also as JSON text (as the SDK writes it for the
        # other tools), then the files' own blocks.
        text = TextContent(text=to_json(output, indent=2).decode())
        return CallToolResult(content=[text, *file_blocks], structured_content=dict(output))

    @server.tool(
        title="Assess Python code without running it",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True),
    )
    async def assess_code(
        code: Annotated[str, Field(description="The Python program (main.py)")],
        ctx: Context,
    ) -> AssessOutput:
        """Assess and classify Python code without running it: level (LOW, MEDIUM, HIGH,
        BLOCKED), score, the policy's reasons and the findings. The assessment is audited."""
        warden_api = pick(ctx)
        r = await _in_thread(lambda: dict(warden_api.assess_code_only(code)))
        return AssessOutput(
            level=str(r["level"]),
            score=r["score"],
            reasons=r["reasons"],
            findings=_findings(r),
            can_execute=r["can_execute"],
            needs_confirmation=r["needs_confirmation"],
            audit_id=r["audit_id"],
        )

    @server.tool(
        title="warden's audit history",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True),
    )
    async def history(
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=1000, description="Records of each kind")] = 10,
    ) -> HistoryOutput:
        """The newest records of each kind from warden's audit log: executions, decisions
        (with confirmations and overrides), assessments, resource violations, and a summary
        of the last 24 hours."""
        warden_api = pick(ctx)
        r = await _in_thread(lambda: warden_api.get_execution_history(limit))
        return HistoryOutput(
            limit=r["limit"],
            summary=r["summary"],
            recent_executions=r["recent_executions"],
            recent_decisions=r["recent_decisions"],
            security_assessments=r["security_assessments"],
            resource_violations=r["resource_violations"],
        )

    return server


# The headers `warden serve` relays each /mcp request with (core/service/api.h).
_PEER_UID = "x-warden-peer-uid"
_PEER_PID = "x-warden-peer-pid"


def _peer(ctx: Context) -> Tuple[int, int]:
    """The uid and pid of the client of this call's HTTP request, as the
    service relayed them (the guard below refused requests without them)."""
    headers = ctx.headers or {}
    try:
        return int(headers[_PEER_UID]), int(headers[_PEER_PID])
    except (KeyError, ValueError) as e:
        raise ToolError("this request did not come through the warden service") from e


def _refusal(message: str) -> bytes:
    return to_json({"error": {"kind": "refused", "message": message}})


def _peer_guard(app: Any) -> Any:
    """``app`` (ASGI) answering 403 to an HTTP request without the identity
    headers only the service sets: this server trusts no one else's word for
    who its client is. (Its socket is in a 0700 folder of the service's user,
    so nobody else reaches it anyway.) A session (``Mcp-Session-Id``) is its
    opener's: a request of another uid in it is refused too, so that nobody
    answers another user's questions (elicitation) or reads their stream."""
    owners: Dict[bytes, bytes] = {}  # session id -> the uid that opened it

    async def refuse(send: Any, message: str) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": _refusal(message)})

    async def guarded(scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        uid = headers.get(_PEER_UID.encode())
        if uid is None or _PEER_PID.encode() not in headers:
            await refuse(
                send,
                "warden's MCP server answers only what the warden service relays (connect to"
                " the service's socket, path /mcp)",
            )
            return
        session = headers.get(b"mcp-session-id")
        if session is not None and owners.get(session, uid) != uid:
            await refuse(send, "this MCP session is another user's")
            return

        async def noting_sessions(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                for name, value in message.get("headers", []):
                    if name.lower() == b"mcp-session-id":
                        owners.setdefault(bytes(value), uid)
                if scope.get("method") == "DELETE" and session is not None:
                    if message.get("status", 500) < 300:
                        owners.pop(session, None)
            await send(message)

        await app(scope, receive, noting_sessions)

    return guarded


def serve_http(
    config_path: Optional[str], socket_path: str, service_socket: Optional[str] = None
) -> None:
    """Serve MCP's Streamable HTTP at /mcp on the unix socket ``socket_path``
    for the ``warden serve`` of ``config_path``, which runs this as its child
    and relays its clients' /mcp requests here. Every call goes to that
    service (on ``service_socket``, the one it opened for this server, else
    its service.socket), as the client of the request it came in
    (PeerService)."""
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    from warden._locations import default_config_path
    from warden._service import PeerService, ServiceClient
    from warden._warden import service_settings

    settings = service_settings(config_path or default_config_path())
    client = ServiceClient(service_socket or settings["socket"], settings["fingerprint"])
    server = build_server(per_request=lambda ctx: PeerService(client, *_peer(ctx)))
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        # The SDK's DNS-rebinding checks (Host, Origin) guard a TCP port on
        # localhost from web pages; no browser reaches a unix socket, and who
        # may connect is the service socket's mode. Clients name any host
        # (http://localhost/mcp, http://warden/mcp), so the checks are off.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    config = uvicorn.Config(
        _peer_guard(app),
        uds=socket_path,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,  # GET streams stay open: do not wait for them long
    )
    try:
        uvicorn.Server(config).run()
    finally:
        client.close()


def main(argv: Optional[List[str]] = None) -> None:
    """``warden-mcp [--config warden.yaml]``: serve MCP on stdin/stdout until the client
    closes them. Logs go to stderr; stdout carries only the protocol."""
    parser = argparse.ArgumentParser(
        prog="warden mcp", description="warden's MCP server (stdio): run_code, assess_code, history"
    )
    parser.add_argument(
        "--config",
        help="warden.yaml (default: $WARDEN_CONFIG, then the user's, then the installed one)",
    )
    parser.add_argument(
        "--http-socket",
        metavar="PATH",
        help="serve Streamable HTTP at /mcp on this unix socket for `warden serve`, which runs"
        " the server so (service.mcp: auto) and relays its clients to it; not for other use",
    )
    parser.add_argument(
        "--service-socket",
        metavar="PATH",
        help="with --http-socket: the socket to call the service's API on (default:"
        " service.socket)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="warden mcp: %(message)s")
    if args.http_socket:
        serve_http(args.config, args.http_socket, args.service_socket)
        return
    logging.getLogger("warden.service").setLevel(logging.INFO)  # which path serves, on stderr
    try:
        # None: $WARDEN_CONFIG, the user's, the installed one. The service of that
        # configuration when one runs, else a host of our own, opened now.
        api = ServiceOrHost(args.config)
        api.start()
    except (ValueError, RuntimeError) as e:
        sys.exit(f"warden mcp: cannot open warden: {e}")
    try:
        build_server(api).run("stdio")
    finally:
        api.close()


if __name__ == "__main__":
    main()
