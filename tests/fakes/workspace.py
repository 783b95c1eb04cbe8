"""A fake Databricks workspace that the real databricks-sdk talks to.

It serves only the endpoints coda-jupyter uses, keeps its state in memory so
tests can inspect it, records every request (by token *id*, never by value)
and injects faults on demand. Shapes follow the installed SDK's service
modules (``databricks/sdk/service/{iam,settings,apps,workspace}.py``).
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

DEFAULT_USER = "Ada.Lovelace@Example.COM"
DEFAULT_APP = "coda"
DEFAULT_APP_CREATOR = "Ada.Lovelace@Example.COM"

_ERROR_CODES = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}


@dataclass
class FakeToken:
    token_id: str
    value: str = field(repr=False)
    user_name: str
    comment: str | None
    creation_ms: int
    expiry_ms: int | None
    minted: bool
    revoked: bool = False

    def valid(self) -> bool:
        return not self.revoked and (self.expiry_ms is None or self.expiry_ms > _now_ms())

    def info(self) -> dict[str, Any]:
        return {
            "token_id": self.token_id,
            "comment": self.comment or "",
            "creation_time": self.creation_ms,
            "expiry_time": -1 if self.expiry_ms is None else self.expiry_ms,
        }


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    # Which token authenticated the call: a token id, "invalid", or None when
    # no Authorization header was sent. Token values are never recorded.
    token_id: str | None
    status: int


@dataclass
class _Fault:
    path: str
    status: int | None
    delay: float
    remaining: int


@dataclass
class Hold:
    """A request kept waiting: ``arrived`` is set once it is held; ``release()`` lets it finish."""

    path: str
    applied: bool
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


@dataclass
class FakeObject:
    object_type: str  # "DIRECTORY" or "FILE"
    object_id: int
    content: bytes = b""
    format: str | None = None
    language: str | None = None
    modified_ms: int = 0


class _ApiError(Exception):
    def __init__(self, status: int, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code or _ERROR_CODES.get(status, "UNKNOWN")


class FakeWorkspace:
    """In-memory workspace served over HTTP on 127.0.0.1 at a free port."""

    def __init__(
        self,
        user_name: str = DEFAULT_USER,
        apps: dict[str, str] | None = None,
    ) -> None:
        self.user_name = user_name
        self.apps: dict[str, str] = dict(apps if apps is not None else {DEFAULT_APP: DEFAULT_APP_CREATOR})
        self.requests: list[RecordedRequest] = []
        self._tokens: dict[str, FakeToken] = {}
        self._objects: dict[str, FakeObject] = {}
        self._faults: list[_Fault] = []
        self._holds: list[Hold] = []
        # OAuth machine-to-machine clients (a Databricks App's service
        # principal): client id -> (secret, user name).
        self._oauth_clients: dict[str, tuple[str, str]] = {}
        self._ids = itertools.count(1)
        self._token_ids = itertools.count(1)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for path in ("/", "/Users", f"/Users/{user_name}"):
            self._objects[path] = FakeObject("DIRECTORY", next(self._ids))
        self.bootstrap_token = self.seed_token(comment="bootstrap PAT pasted by the user")

    # -- lifecycle -------------------------------------------------------

    def start(self) -> FakeWorkspace:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-workspace", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeWorkspace:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        assert self._server is not None, "start() the fake workspace first"
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    # -- tokens ----------------------------------------------------------

    def seed_token(
        self,
        user_name: str | None = None,
        comment: str | None = None,
        lifetime_seconds: float | None = None,
    ) -> str:
        """Create a token as if made in the workspace UI; returns its value."""
        return self._new_token(user_name or self.user_name, comment, lifetime_seconds, minted=False).value

    def _new_token(
        self, user_name: str, comment: str | None, lifetime_seconds: float | None, minted: bool
    ) -> FakeToken:
        with self._lock:
            now = _now_ms()
            token = FakeToken(
                token_id=f"tok-{next(self._token_ids):04d}",
                value="dapi" + secrets.token_hex(16),
                user_name=user_name,
                comment=comment,
                creation_ms=now,
                expiry_ms=None if lifetime_seconds is None else now + int(lifetime_seconds * 1000),
                minted=minted,
            )
            self._tokens[token.value] = token
            return token

    def seed_service_principal(self, client_id: str, client_secret: str, user_name: str) -> None:
        """Let ``client_id``/``client_secret`` get OAuth tokens (the SDK's ``oauth-m2m``), as
        the platform's credentials for a Databricks App's service principal do."""
        with self._lock:
            self._oauth_clients[client_id] = (client_secret, user_name)

    def token_id_of(self, value: str | None) -> str | None:
        with self._lock:
            token = self._tokens.get(value or "")
            return token.token_id if token else None

    def token(self, token_id: str) -> FakeToken:
        with self._lock:
            for token in self._tokens.values():
                if token.token_id == token_id:
                    return token
        raise KeyError(token_id)

    def is_valid(self, value: str | None) -> bool:
        with self._lock:
            token = self._tokens.get(value or "")
            return bool(token and token.valid())

    def minted_tokens(self) -> list[FakeToken]:
        """Tokens created through ``token/create``, oldest first."""
        with self._lock:
            return [t for t in self._tokens.values() if t.minted]

    def revoke_all(self) -> None:
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True

    # -- faults ----------------------------------------------------------

    def fail_next(self, path: str, status: int, times: int = 1) -> None:
        """The next ``times`` calls to ``path`` answer ``status`` (500, 503, 401...).

        A ``path`` ending in ``/`` matches every path below it.
        """
        with self._lock:
            self._faults.append(_Fault(path, status, 0.0, times))

    def slow_next(self, path: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` calls to ``path`` wait ``seconds`` before answering."""
        with self._lock:
            self._faults.append(_Fault(path, None, seconds, times))

    def hold_next(self, path: str, *, applied: bool) -> Hold:
        """Keep the next call to ``path`` waiting until ``release()`` (or ``stop()``).

        ``applied=False`` holds it before the workspace acts on it;
        ``applied=True`` after: the token is created or revoked and only the
        reply is held back, the window in which a client that dies never
        learns what it did.
        """
        hold = Hold(path, applied)
        with self._lock:
            self._holds.append(hold)
        return hold

    def _take_hold(self, path: str) -> Hold | None:
        with self._lock:
            for hold in self._holds:
                if hold.path == path:
                    self._holds.remove(hold)
                    return hold
            return None

    def _wait(self, hold: Hold | None, applied: bool) -> None:
        if hold is None or hold.applied != applied:
            return
        hold.arrived.set()
        while not hold.released.wait(0.05) and not self._stopping.is_set():
            pass

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                matches = path.startswith(fault.path) if fault.path.endswith("/") else path == fault.path
                if matches and fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
            return None

    # -- requests and files ----------------------------------------------

    def calls(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def file(self, path: str) -> bytes:
        with self._lock:
            obj = self._objects[_normalise(path)]
        if obj.object_type != "FILE":
            raise KeyError(f"{path} is a {obj.object_type}")
        return obj.content

    def files(self) -> dict[str, bytes]:
        with self._lock:
            return {p: o.content for p, o in self._objects.items() if o.object_type == "FILE"}

    def is_dir(self, path: str) -> bool:
        with self._lock:
            obj = self._objects.get(_normalise(path))
            return bool(obj and obj.object_type == "DIRECTORY")

    # -- request handling (called from server threads) -------------------

    def _handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        url = urlsplit(raw_path)
        path = url.path
        token = self._token_from(headers)
        token_id = None if token is None else (self.token_id_of(token) or "invalid")
        fault = self._take_fault(path)
        hold = self._take_hold(path)
        self._wait(hold, applied=False)
        try:
            if fault is not None and fault.delay:
                self._stopping.wait(fault.delay)
            if fault is not None and fault.status is not None:
                raise _ApiError(fault.status, f"injected fault {fault.status}")
            status, payload = self._route(method, path, parse_qs(url.query), headers, body, token)
        except _ApiError as err:
            status, payload = err.status, {"error_code": err.error_code, "message": err.message}
        with self._lock:
            self.requests.append(RecordedRequest(method, path, token_id, status))
        self._wait(hold, applied=True)
        return status, payload

    @staticmethod
    def _token_from(headers: Any) -> str | None:
        auth = headers.get("Authorization") or ""
        scheme, _, value = auth.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def _caller(self, token: str | None) -> FakeToken:
        with self._lock:
            record = self._tokens.get(token or "")
            if record is None or not record.valid():
                raise _ApiError(401, "Invalid access token.")
            return record

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Any,
        body: bytes,
        token: str | None,
    ) -> tuple[int, dict[str, Any]]:
        if path == "/.well-known/databricks-config":
            # The SDK finds the OAuth endpoints through host metadata; served
            # only once a service principal exists, so other tests see no change.
            if not self._oauth_clients:
                raise _ApiError(404, "no host metadata here", "NOT_FOUND")
            return 200, {"oidc_endpoint": f"{self.host}/oidc"}
        if method == "GET" and path == "/oidc/.well-known/oauth-authorization-server":
            return 200, {
                "authorization_endpoint": f"{self.host}/oidc/v1/authorize",
                "token_endpoint": f"{self.host}/oidc/v1/token",
            }
        if method == "POST" and path == "/oidc/v1/token":
            return 200, self._client_credentials(headers, body)
        caller = self._caller(token)
        if method == "GET" and path == "/api/2.0/preview/scim/v2/Me":
            return 200, self._me(caller)
        if method == "POST" and path == "/api/2.0/token/create":
            return 200, self._token_create(caller, _json(body))
        if method == "POST" and path == "/api/2.0/token/delete":
            return 200, self._token_delete(caller, _json(body))
        if method == "GET" and path == "/api/2.0/token/list":
            with self._lock:
                infos = [t.info() for t in self._tokens.values() if t.user_name == caller.user_name and t.valid()]
            return 200, {"token_infos": infos}
        if method == "GET" and path.startswith("/api/2.0/apps/"):
            return 200, self._app(unquote(path.removeprefix("/api/2.0/apps/")))
        if method == "POST" and path == "/api/2.0/workspace/mkdirs":
            self._mkdirs(_required(_json(body), "path"))
            return 200, {}
        if method == "POST" and path == "/api/2.0/workspace/import":
            self._import(_import_fields(headers, body))
            return 200, {}
        if method == "GET" and path == "/api/2.0/workspace/get-status":
            return 200, self._status(_required({k: v[0] for k, v in query.items()}, "path"))
        raise _ApiError(404, f"no such endpoint {method} {path}", "ENDPOINT_NOT_FOUND")

    def _client_credentials(self, headers: Any, body: bytes) -> dict[str, Any]:
        scheme, _, encoded = (headers.get("Authorization") or "").partition(" ")
        pair = base64.b64decode(encoded).decode() if scheme.lower() == "basic" else ""
        client_id, _, secret = pair.partition(":")
        grant = parse_qs(body.decode()).get("grant_type", [""])[0]
        with self._lock:
            known = self._oauth_clients.get(client_id)
        if grant != "client_credentials" or known is None or not secrets.compare_digest(known[0], secret):
            raise _ApiError(401, "invalid client credentials", "invalid_client")
        token = self._new_token(known[1], "OAuth access token", 3600, minted=False)
        return {"access_token": token.value, "token_type": "Bearer", "expires_in": 3600}

    def _me(self, caller: FakeToken) -> dict[str, Any]:
        local = caller.user_name.split("@")[0]
        return {
            "id": str(abs(hash(caller.user_name)) % 10**12),
            "userName": caller.user_name,
            "displayName": local.replace(".", " "),
            "active": True,
            "emails": [{"value": caller.user_name, "primary": True, "type": "work"}],
        }

    def _token_create(self, caller: FakeToken, request: dict[str, Any]) -> dict[str, Any]:
        lifetime = request.get("lifetime_seconds")
        if lifetime is not None and (not isinstance(lifetime, int) or lifetime <= 0):
            raise _ApiError(400, "lifetime_seconds must be a positive integer")
        token = self._new_token(caller.user_name, request.get("comment"), lifetime, minted=True)
        return {"token_value": token.value, "token_info": token.info()}

    def _token_delete(self, caller: FakeToken, request: dict[str, Any]) -> dict[str, Any]:
        token_id = _required(request, "token_id")
        with self._lock:
            for token in self._tokens.values():
                if token.token_id == token_id and token.user_name == caller.user_name and not token.revoked:
                    token.revoked = True
                    return {}
        raise _ApiError(404, f"Token with id {token_id} does not exist")

    def _app(self, name: str) -> dict[str, Any]:
        with self._lock:
            creator = self.apps.get(name)
        if creator is None:
            raise _ApiError(404, f"App with name {name} does not exist or is deleted.")
        return {"name": name, "creator": creator, "url": f"https://{name}-1234.aws.databricksapps.com"}

    def _mkdirs(self, path: str) -> None:
        target = _normalise(path)
        with self._lock:
            prefix = ""
            for part in [p for p in target.split("/") if p]:
                prefix += "/" + part
                existing = self._objects.get(prefix)
                if existing is None:
                    self._objects[prefix] = FakeObject("DIRECTORY", next(self._ids), modified_ms=_now_ms())
                elif existing.object_type != "DIRECTORY":
                    raise _ApiError(400, f"{prefix} exists and is not a directory", "RESOURCE_ALREADY_EXISTS")

    def _import(self, fields: dict[str, Any]) -> None:
        target = _normalise(_required(fields, "path"))
        parent = target.rsplit("/", 1)[0] or "/"
        with self._lock:
            parent_obj = self._objects.get(parent)
            if parent_obj is None or parent_obj.object_type != "DIRECTORY":
                raise _ApiError(404, f"The parent folder ({parent}) does not exist.")
            existing = self._objects.get(target)
            if existing is not None and (existing.object_type == "DIRECTORY" or not fields["overwrite"]):
                raise _ApiError(400, f"Path ({target}) already exists.", "RESOURCE_ALREADY_EXISTS")
            self._objects[target] = FakeObject(
                "FILE",
                existing.object_id if existing else next(self._ids),
                content=fields["content"],
                format=fields.get("format"),
                language=fields.get("language"),
                modified_ms=_now_ms(),
            )

    def _status(self, path: str) -> dict[str, Any]:
        target = _normalise(path)
        with self._lock:
            obj = self._objects.get(target)
        if obj is None:
            raise _ApiError(404, f"Path ({path}) doesn't exist.")
        info: dict[str, Any] = {"path": target, "object_type": obj.object_type, "object_id": obj.object_id}
        if obj.object_type == "FILE":
            info.update(size=len(obj.content), modified_at=obj.modified_ms, created_at=obj.modified_ms)
        return info


def _make_handler(workspace: FakeWorkspace) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = workspace._handle(self.command, self.path, self.headers, body)
            data = json.dumps(payload).encode()
            try:
                self.send_response(status, HTTPStatus(status).phrase)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (slow-reply faults)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # requests are in ``workspace.requests``; keep test output clean

    return Handler


def _now_ms() -> int:
    return int(time.time() * 1000)


def _normalise(path: str) -> str:
    """``/Workspace/Users/x`` and ``/Users/x`` name the same object."""
    path = "/" + path.strip("/")
    if path == "/Workspace" or path.startswith("/Workspace/"):
        path = path.removeprefix("/Workspace") or "/"
    return path


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError as err:
        raise _ApiError(400, "malformed JSON body", "MALFORMED_REQUEST") from err
    if not isinstance(value, dict):
        raise _ApiError(400, "JSON body must be an object", "MALFORMED_REQUEST")
    return value


def _required(fields: dict[str, Any], name: str) -> Any:
    if not fields.get(name):
        raise _ApiError(400, f"{name} is required")
    return fields[name]


def _import_fields(headers: Any, body: bytes) -> dict[str, Any]:
    """Accept both the JSON form (``import_``) and the multipart form (``upload``)."""
    content_type = headers.get("Content-Type") or ""
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = part.get_payload(decode=True) or b""
        content = fields.pop("content", b"")
        text = {k: v.decode() for k, v in fields.items()}
        return {**text, "content": content, "overwrite": text.get("overwrite") == "true"}
    request = _json(body)
    try:
        content = base64.b64decode(request.get("content") or "", validate=True)
    except ValueError as err:
        raise _ApiError(400, "content must be base64") from err
    return {**request, "content": content, "overwrite": bool(request.get("overwrite"))}


@pytest.fixture
def fake_workspace() -> Iterator[FakeWorkspace]:
    """A running fake workspace; import this fixture into a test module or conftest."""
    with FakeWorkspace() as workspace:
        yield workspace
