"""A stand-in for the Databricks Apps reverse proxy, for tests.

It does only what the real proxy is documented (or observed) to do; each
behaviour and its source is listed in docs/deployment.md, "What the tests
assume about the platform". In short:

- On plain HTTP it names the signed-in visitor in ``X-Forwarded-Email``,
  ``X-Forwarded-User`` and ``X-Forwarded-Preferred-Username``, and sets
  ``X-Forwarded-Host``, ``X-Forwarded-Proto``, ``X-Real-Ip`` and a fresh
  ``X-Request-Id``, after dropping any of these the client sent.
- Websocket upgrades pass without identity headers.
- ``Authorization`` never reaches the app. A ``Bearer`` token on an ``/api/``
  path is checked against the workspace (``GET /api/2.0/preview/scim/v2/Me``
  with that token) and its user becomes the visitor; an invalid one is
  answered 401 by the proxy. Token access to other paths is not offered by the
  platform, so there the token is ignored. The Jupyter token therefore never
  crosses the proxy: local processes reach the app's port directly.
- ``Host`` is rewritten to the upstream's.

Who is signed in through the browser (the platform's SSO session): the
test-only request header ``X-Test-Identity`` (empty means nobody), else the
proxy's ``identity`` attribute.

``client_identity_on_upgrade`` models the worst case the server must survive:
a proxy that, on websocket upgrades, passes a client-supplied
``X-Forwarded-Email`` / ``-User`` through instead of dropping it. Any workspace
user allowed to reach the app could then name the owner on an upgrade. It runs in its own
thread and event loop so sync tests and Playwright can use it.

``refuse_websockets`` models a proxy that does not tunnel websockets, as some
corporate proxies in front of a browser do: ``Connection`` and ``Upgrade`` are
hop-by-hop headers (RFC 9110, section 7.6.1), so a proxy that does not
implement the upgrade drops them and forwards a plain ``GET``, which the
server refuses (tornado answers 400) and the browser reports as a failed
websocket. Off by default: the Databricks Apps proxy passes upgrades.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from typing import Any
from urllib.parse import urlsplit

from tornado import httputil
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.iostream import StreamClosedError
from tornado.netutil import bind_sockets
from tornado.routing import AnyMatches, Matcher, Rule
from tornado.web import Application, RequestHandler
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, WebSocketHandler, websocket_connect

TEST_IDENTITY_HEADER = "X-Test-Identity"
# Headers the proxy owns: whatever the client sent under these names is dropped.
_PROXY_OWNED = ("x-forwarded-", "x-real-ip", "x-request-id", "authorization", "sec-websocket-")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}


class AppsProxy:
    def __init__(self, upstream: str, identity: str | None = None, workspace_host: str | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.identity = identity
        # Where bearer tokens are checked; without one every bearer token is refused.
        self.workspace_host = workspace_host
        self.identity_headers: tuple[str, ...] = (
            "X-Forwarded-Email",
            "X-Forwarded-User",
            "X-Forwarded-Preferred-Username",
        )
        # The real proxy terminates TLS; tests can make it claim https.
        self.forwarded_proto: str | None = None
        self.client_identity_on_upgrade = False
        self.refuse_websockets = False
        # What the upstream received on websocket upgrades, for assertions.
        self.websocket_headers: list[dict[str, str]] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: AsyncHTTPClient | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> AppsProxy:
        ready = threading.Event()
        sockets = bind_sockets(0, "127.0.0.1")
        self.port = int(sockets[0].getsockname()[1])

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            self._client = AsyncHTTPClient(force_instance=True, max_clients=64)
            server = HTTPServer(self._application())
            server.add_sockets(sockets)
            ready.set()
            try:
                loop.run_forever()
            finally:
                server.stop()
                self._client.close()
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=serve, name="apps-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> AppsProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _application(self) -> Application:
        return Application(
            [
                Rule(_WebSocketUpgrade(self), _WebSocketProxy, {"proxy": self}),
                Rule(AnyMatches(), _HttpProxy, {"proxy": self}),
            ]
        )

    async def token_user(self, request: httputil.HTTPServerRequest) -> str | None:
        """The workspace user of a ``Bearer`` token on an ``/api/`` path; raises 401 for a bad one.

        ``None`` when the request carries no such token (the SSO session decides).
        """
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or not request.path.startswith("/api/"):
            return None
        if self.workspace_host is None:
            raise _Unauthorized()
        assert self._client is not None
        reply = await self._client.fetch(
            self.workspace_host.rstrip("/") + "/api/2.0/preview/scim/v2/Me",
            headers={"Authorization": f"Bearer {token.strip()}"},
            raise_error=False,
        )
        if reply.code != 200:
            raise _Unauthorized()
        return str(json.loads(reply.body)["userName"])

    def forward_headers(
        self, request: httputil.HTTPServerRequest, websocket: bool, token_user: str | None = None
    ) -> httputil.HTTPHeaders:
        headers = httputil.HTTPHeaders()
        for name, value in request.headers.get_all():
            lowered = name.lower()
            if lowered in _HOP_BY_HOP or lowered.startswith(_PROXY_OWNED):
                continue
            if lowered == TEST_IDENTITY_HEADER.lower():
                continue
            headers.add(name, value)
        headers["Host"] = urlsplit(self.upstream).netloc
        headers["X-Forwarded-Host"] = request.host
        headers["X-Forwarded-Proto"] = self.forwarded_proto or request.protocol
        headers["X-Real-Ip"] = request.remote_ip or ""
        headers["X-Request-Id"] = str(uuid.uuid4())
        identity = token_user or request.headers.get(TEST_IDENTITY_HEADER, self.identity)
        if identity and not websocket:
            for name in self.identity_headers:
                headers[name] = identity
        if websocket and self.client_identity_on_upgrade:
            for name in self.identity_headers:
                for value in request.headers.get_list(name):
                    headers.add(name, value)
        return headers


class _Unauthorized(Exception):
    """A bearer token the workspace does not accept: the proxy answers 401 itself."""


class _WebSocketUpgrade(Matcher):
    def __init__(self, proxy: AppsProxy) -> None:
        self.proxy = proxy

    def match(self, request: httputil.HTTPServerRequest) -> dict[str, Any] | None:
        if self.proxy.refuse_websockets:
            return None  # forwarded as plain HTTP, without the hop-by-hop Upgrade
        return {} if request.headers.get("Upgrade", "").lower() == "websocket" else None


class _HttpProxy(RequestHandler):
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def initialize(self, proxy: AppsProxy) -> None:
        self.proxy = proxy

    def compute_etag(self) -> None:
        return None  # pass the upstream's caching headers through untouched

    async def _forward(self, *args: Any) -> None:
        assert self.proxy._client is not None
        method = self.request.method or "GET"
        try:
            token_user = await self.proxy.token_user(self.request)
        except _Unauthorized:
            self.set_status(401)
            self.finish({"error_code": "UNAUTHENTICATED", "message": "Invalid access token."})
            return
        request = HTTPRequest(
            self.proxy.upstream + self.request.uri,
            method=method,
            headers=self.proxy.forward_headers(self.request, websocket=False, token_user=token_user),
            body=self.request.body if method in {"POST", "PUT", "PATCH", "DELETE"} else None,
            follow_redirects=False,
            decompress_response=False,
            allow_nonstandard_methods=True,
            request_timeout=120,
        )
        response = await self.proxy._client.fetch(request, raise_error=False)
        if response.code == 599:
            self.set_status(502)
            self.finish(f"upstream unreachable: {response.error}")
            return
        self.set_status(response.code, response.reason)
        for name in ("Content-Type", "Server", "Date"):
            self.clear_header(name)
        for name, value in response.headers.get_all():
            if name.lower() not in _HOP_BY_HOP:
                self.add_header(name, value)
        if response.body and response.code not in {204, 304} and method != "HEAD":
            self.write(response.body)
        self.finish()

    get = head = post = put = patch = delete = options = _forward


class _WebSocketProxy(WebSocketHandler):
    def initialize(self, proxy: AppsProxy) -> None:
        self.proxy = proxy
        self.upstream: WebSocketClientConnection | None = None

    def check_origin(self, origin: str) -> bool:
        return True  # the upstream decides; it sees the browser's Origin

    async def get(self, *args: Any, **kwargs: Any) -> None:
        headers = self.proxy.forward_headers(self.request, websocket=True)
        self.proxy.websocket_headers.append(dict(headers.items()))
        protocols = [p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        url = "ws" + self.proxy.upstream.removeprefix("http") + self.request.uri
        try:
            self.upstream = await websocket_connect(
                HTTPRequest(url, headers=headers, request_timeout=30), subprotocols=protocols or None
            )
        except HTTPClientError as err:
            # Refused upstream (403, 404...): refuse the browser the same way.
            self.set_status(err.code)
            self.finish(err.response.body if err.response is not None else b"")
            return
        except (OSError, StreamClosedError) as err:
            self.set_status(502)
            self.finish(f"upstream unreachable: {err}")
            return
        await super().get(*args, **kwargs)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return self.upstream.selected_subprotocol if self.upstream is not None else None

    def open(self, *args: Any, **kwargs: Any) -> None:
        asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        assert self.upstream is not None
        while True:
            message = await self.upstream.read_message()
            if message is None:
                self.close()
                return
            try:
                await self.write_message(message, binary=isinstance(message, bytes))
            except WebSocketClosedError:
                return

    async def on_message(self, message: str | bytes) -> None:
        if self.upstream is not None:
            await self.upstream.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
