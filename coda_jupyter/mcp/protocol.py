"""MCP over Streamable HTTP (protocol 2025-11-25), JSON responses only, transport-neutral.

``McpEndpoint.post`` turns one POST body plus its MCP headers into an
``HttpReply``; the tornado handler only copies it onto the wire. Messages are
validated with ``mcp-types`` (JSON-RPC envelopes, request params, results).

Sessions live in memory: after a server restart clients get 404 and, as the
spec says, initialize again. Background tasks themselves survive on disk.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from mcp_types import (
    CallToolRequest,
    Implementation,
    InitializeRequest,
    InitializeResult,
    ListToolsRequest,
    ListToolsResult,
    PingRequest,
    ServerCapabilities,
    ToolsCapability,
)
from mcp_types.jsonrpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCRequest,
    JSONRPCResponse,
    jsonrpc_message_adapter,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION
from pydantic import ValidationError

from .headers import SESSION_HEADER, VERSION_HEADER
from .tools import ToolContext, ToolSet, UnknownTool

log = logging.getLogger(__name__)

# What a client that sends no version header speaks, per the transport spec.
ASSUMED_VERSION = "2025-03-26"

INSTRUCTIONS = (
    "This server runs coding agents (Claude Code, Codex, Gemini CLI, OpenCode, Hermes, ...) on "
    "background tasks inside the user's JupyterLab. coda_run starts a task and returns a task_id "
    "immediately; the work takes minutes. Do not poll: tell the user the task is running (share "
    "lab_url to watch it) and call coda_inbox or coda_get_result when the user asks. For a "
    "follow-up, pass the earlier task's id as previous_task_id. A result with status info_needed or "
    "needs_approval carries 'feedback': answer it with a follow-up task. The coda_notebook_* and "
    "coda_kernel_* tools read, edit and run the user's notebooks live, in each notebook's own kernel."
)


@dataclass
class Session:
    id: str
    protocol_version: str
    client: dict[str, Any]
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)


class Sessions:
    """Bounded in-memory sessions: the least recently used go first, idle ones expire."""

    def __init__(self, max_sessions: int = 1000, idle_timeout_s: float = 24 * 3600):
        self.max_sessions = max_sessions
        self.idle_timeout_s = idle_timeout_s
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def create(self, protocol_version: str, client: dict[str, Any]) -> Session:
        session = Session(secrets.token_urlsafe(24), protocol_version, client)
        self._sessions[session.id] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str) -> Session | None:
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if time.monotonic() - session.last_used > self.idle_timeout_s:
            del self._sessions[session_id]
            return None
        session.last_used = time.monotonic()
        self._sessions.move_to_end(session_id)
        return session

    def end(self, session_id: str) -> bool:
        return self._sessions.pop(session_id, None) is not None

    def __len__(self) -> int:
        return len(self._sessions)


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode("utf-8")


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """The spec's DNS-rebinding guard: no Origin (non-browser clients) is fine;
    a browser Origin must be this server's own host or explicitly allowed."""
    if origin is None:
        return True
    origin = origin.strip().lower()
    if origin in {entry.lower().rstrip("/") for entry in allowed}:
        return True
    parsed = urlparse(origin)
    return bool(parsed.netloc) and host is not None and parsed.netloc == host.lower()


def _error(message_id: Any, code: int, message: str) -> dict[str, Any]:
    return JSONRPCError(jsonrpc="2.0", id=message_id, error=ErrorData(code=code, message=message)).model_dump(
        exclude_none=False
    )


def _result(message_id: Any, result: Any) -> dict[str, Any]:
    payload = result.model_dump(by_alias=True, exclude_none=True, mode="json")
    return JSONRPCResponse(jsonrpc="2.0", id=message_id, result=payload).model_dump()


def _guess_id(raw: Any) -> Any:
    """The id of an invalid message, when it has a usable one (else null)."""
    if isinstance(raw, dict):
        candidate = raw.get("id")
        if isinstance(candidate, str) or (isinstance(candidate, int) and not isinstance(candidate, bool)):
            return candidate
    return None


class McpEndpoint:
    def __init__(self, tools: ToolSet, server_version: str, sessions: Sessions | None = None):
        self.tools = tools
        self.server_version = server_version
        self.sessions = sessions or Sessions()
        # The tool list never changes while the server runs (listChanged: false).
        self._tools_list: dict[str, Any] | None = None

    async def post(
        self,
        body: bytes,
        session_id: str | None,
        protocol_version: str | None,
        ctx: ToolContext,
    ) -> HttpReply:
        try:
            raw = json.loads(body)
        except (ValueError, UnicodeDecodeError) as err:
            return HttpReply(400, _error(None, PARSE_ERROR, f"Parse error: {err}"))
        if isinstance(raw, list):
            # Batching was removed from MCP in 2025-06-18.
            return HttpReply(400, _error(None, INVALID_REQUEST, "JSON-RPC batches are not supported"))
        try:
            message = jsonrpc_message_adapter.validate_python(raw)
        except ValidationError:
            return HttpReply(
                400, _error(_guess_id(raw), INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message")
            )

        if isinstance(message, JSONRPCRequest) and message.method == "initialize":
            return self._initialize(message)

        if not session_id:
            return HttpReply(
                400, _error(_guess_id(raw), INVALID_REQUEST, f"Missing {SESSION_HEADER} header: initialize first")
            )
        version = protocol_version or ASSUMED_VERSION
        if version not in HANDSHAKE_PROTOCOL_VERSIONS:
            return HttpReply(
                400,
                _error(
                    _guess_id(raw),
                    INVALID_REQUEST,
                    f"Unsupported {VERSION_HEADER} {version!r}; supported: {list(HANDSHAKE_PROTOCOL_VERSIONS)}",
                ),
            )
        if self.sessions.get(session_id) is None:
            return HttpReply(
                404, _error(_guess_id(raw), INVALID_REQUEST, "Unknown or expired session: initialize again")
            )

        if not isinstance(message, JSONRPCRequest):
            # Notifications (initialized, cancelled) and client responses need no reply.
            return HttpReply(202)
        try:
            return HttpReply(200, await self._dispatch(message, ctx))
        except Exception:
            # A bug must still answer in JSON-RPC, never as an HTTP 500.
            log.exception("coda-jupyter: MCP %s failed", message.method)
            return HttpReply(200, _error(message.id, INTERNAL_ERROR, f"Internal error in {message.method}"))

    def delete(self, session_id: str | None) -> HttpReply:
        if not session_id:
            return HttpReply(400, _error(None, INVALID_REQUEST, f"Missing {SESSION_HEADER} header"))
        if not self.sessions.end(session_id):
            return HttpReply(404, _error(None, INVALID_REQUEST, "Unknown or expired session"))
        return HttpReply(204)

    def _initialize(self, message: JSONRPCRequest) -> HttpReply:
        try:
            request = InitializeRequest.model_validate(message.model_dump(exclude={"jsonrpc", "id"}))
        except ValidationError as err:
            return HttpReply(200, _error(message.id, INVALID_PARAMS, f"Invalid initialize params: {_brief(err)}"))
        offered = request.params.protocol_version
        version = offered if offered in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
        session = self.sessions.create(version, request.params.client_info.model_dump(exclude_none=True))
        result = InitializeResult(
            protocol_version=version,
            capabilities=ServerCapabilities(tools=ToolsCapability(list_changed=False)),
            server_info=Implementation(name="coda-jupyter", version=self.server_version),
            instructions=INSTRUCTIONS,
        )
        return HttpReply(200, _result(message.id, result), {SESSION_HEADER: session.id})

    async def _dispatch(self, message: JSONRPCRequest, ctx: ToolContext) -> dict[str, Any]:
        model = _REQUESTS.get(message.method)
        if model is None:
            return _error(message.id, METHOD_NOT_FOUND, f"Method not found: {message.method}")
        try:
            request = model.model_validate(message.model_dump(exclude={"jsonrpc", "id"}))
        except ValidationError as err:
            return _error(message.id, INVALID_PARAMS, f"Invalid params for {message.method}: {_brief(err)}")
        if isinstance(request, PingRequest):
            return {"jsonrpc": "2.0", "id": message.id, "result": {}}
        if isinstance(request, ListToolsRequest):
            if self._tools_list is None:
                listing = ListToolsResult(tools=self.tools.list())
                self._tools_list = listing.model_dump(by_alias=True, exclude_none=True, mode="json")
            return {"jsonrpc": "2.0", "id": message.id, "result": self._tools_list}
        assert isinstance(request, CallToolRequest)
        try:
            result = await self.tools.call(request.params.name, request.params.arguments or {}, ctx)
        except UnknownTool as err:
            return _error(message.id, METHOD_NOT_FOUND, f"Unknown tool: {err.args[0]}")
        return _result(message.id, result)


_REQUESTS: dict[str, type[PingRequest | ListToolsRequest | CallToolRequest]] = {
    "ping": PingRequest,
    "tools/list": ListToolsRequest,
    "tools/call": CallToolRequest,
}


def _brief(err: ValidationError) -> str:
    problems = err.errors(include_url=False, include_input=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"


__all__ = [
    "ASSUMED_VERSION",
    "HttpReply",
    "McpEndpoint",
    "SESSION_HEADER",
    "Sessions",
    "VERSION_HEADER",
    "origin_allowed",
]
