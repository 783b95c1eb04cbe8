"""The local model gateway: a loopback reverse proxy that signs every request with the current token.

Agents that run for hours cache their API key; a rotated Databricks token
would break them. They get a local key instead and talk to this gateway,
which looks the real token up again for every request. It runs on the
server's own event loop so it needs no port manager or framework beyond
tornado; only the content filter's work on large bodies runs in a worker
process (see ``gateway.worker``). Upstream connections are kept alive and
reused (see ``gateway.upstream``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from http.client import responses
from typing import Any

from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.iostream import StreamClosedError
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler, stream_request_body

from . import filter as content_filter
from .endpoint import LOOPBACK, PortRecord, bind_recorded
from .paths import forwarded_query, refusal
from .routes import ROUTES, Route
from .upstream import (
    DEFAULT_IDLE_EXPIRY,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_POOL_SIZE,
    UpstreamPool,
    UpstreamProtocolError,
)
from .worker import FilterWorker, FilterWorkerError

log = logging.getLogger("coda_jupyter.gateway")

NO_CREDENTIALS = "Databricks credentials are not configured — open JupyterLab and paste a token"
DEFAULT_MAX_BODY = 32 * 1024 * 1024
# Bodies up to this size are repaired on the loop (a few ms); larger ones in a worker process.
DEFAULT_INLINE_FILTER_LIMIT = 512 * 1024

# RFC 9110 hop-by-hop headers, plus those the gateway recomputes itself.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",
    }
)
# Client credentials (the local key) must never reach the upstream; cookies for
# 127.0.0.1 are shared with Jupyter itself, so none cross in either direction.
_CLIENT_AUTH = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie"})
_RESPONSE_DROP = frozenset({"set-cookie"})
# Gemini clients may send their key as ``?key=``.
_KEY_QUERY_PARAM = "key"


class ModelGateway:
    """Owns the loopback HTTP server, the upstream connection pool and the counters shown in status.

    ``upstream`` and ``token`` are called on every request: discovery and
    rotation take effect without restarting anything. ``idle_timeout`` bounds
    silence from the upstream (before the headers and between chunks), not
    the length of a response: a model may stream for many minutes.

    ``max_body_size`` caps each request body (``GatewayService.max_body_size``,
    default 32 MiB): far above what agents send for their largest contexts
    (a million tokens of text is a few MiB; images travel as base64), yet a
    bound on memory and filter work. A larger body gets a 413 JSON error and
    nothing goes upstream. Filtered bodies above ``inline_filter_limit`` are
    repaired in a worker process (started on first need, kept until
    :meth:`stop`, one job at a time) so that the loop keeps serving Jupyter
    meanwhile; every body goes upstream piece by piece, never copied whole
    on the loop.

    ``pool_size`` idle upstream connections per host are kept for reuse
    (``GatewayService.pool_size``), each for ``pool_idle_expiry`` seconds
    at most; at most ``max_connections`` requests per host are in flight at
    once, the rest wait their turn.
    """

    def __init__(
        self,
        *,
        upstream: Callable[[Route], str | None],
        token: Callable[[], str | None],
        local_key: str,
        port: int = 0,
        max_body_size: int = DEFAULT_MAX_BODY,
        idle_timeout: float = 300.0,
        max_duration: float = 3600.0,
        inline_filter_limit: int = DEFAULT_INLINE_FILTER_LIMIT,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_idle_expiry: float = DEFAULT_IDLE_EXPIRY,
        routes: tuple[Route, ...] = ROUTES,
        port_record: PortRecord | None = None,
    ) -> None:
        if not local_key:
            raise ValueError("the gateway needs a non-empty local key")
        self.upstream = upstream
        self.token = token
        self.local_key = local_key
        self.max_body_size = max_body_size
        self.idle_timeout = idle_timeout
        self.max_duration = max_duration
        self.inline_filter_limit = inline_filter_limit
        self.pool_size = pool_size
        self.max_connections = max_connections
        self.pool_idle_expiry = pool_idle_expiry
        self.routes = {route.name: route for route in routes}
        self._requested_port = port
        self._port_record = port_record
        self._port: int | None = None
        self._server: HTTPServer | None = None
        self._pool: UpstreamPool | None = None
        self._filter_worker = FilterWorker()
        self.requests_served = 0
        self.errors = 0
        self.last_error: dict[str, Any] | None = None

    # -- lifecycle

    async def start(self) -> None:
        """Bind 127.0.0.1 on the running loop; :attr:`port` tells which port.

        A non-zero ``port`` is bound as given. With port 0 and a
        ``port_record`` the recorded port is reused when free (see
        ``gateway.endpoint``); without a record the OS picks one.
        """
        if self._server is not None:
            return
        if self._requested_port == 0 and self._port_record is not None:
            sockets = bind_recorded(self._port_record)
        else:
            sockets = bind_sockets(self._requested_port, LOOPBACK)
        app = Application(
            # Every target, absolute URLs included, reaches the handler: it
            # reads the raw path itself, so nothing is decoded before the checks.
            [(r".*", _ProxyHandler, {"gateway": self})],
            log_function=_quiet_log,
        )
        # The body limit is enforced by the handler so that clients get a 413;
        # the transport limit only stops runaway chunked uploads early.
        self._server = HTTPServer(app, max_body_size=self.max_body_size * 2 + 1024)
        self._server.add_sockets(sockets)
        self._port = sockets[0].getsockname()[1]
        # Built at each start: CA settings in the environment are read then.
        self._pool = UpstreamPool(
            pool_size=self.pool_size,
            max_connections=self.max_connections,
            idle_expiry=self.pool_idle_expiry,
            connect_timeout=self.idle_timeout,
        )
        log.info("model gateway listening on 127.0.0.1:%s", self._port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.stop()
        await self._server.close_all_connections()
        if self._pool is not None:
            self._pool.close()
        await self._filter_worker.stop()
        self._server = None
        self._pool = None
        self._port = None

    @property
    def port(self) -> int | None:
        return self._port

    def url(self, route_name: str) -> str:
        """The base URL an agent's config should use for ``route_name``."""
        if self._port is None:
            raise RuntimeError("the gateway is not running")
        if route_name not in self.routes:
            raise KeyError(route_name)
        return f"http://127.0.0.1:{self._port}/{route_name}"

    def status(self) -> dict[str, Any]:
        """Everything the UI shows about the gateway; by construction it holds no credential."""
        routes = []
        for route in self.routes.values():
            routes.append(
                {
                    "name": route.name,
                    "description": route.description,
                    "url": self.url(route.name) if self._port else None,
                    "upstream": _safe_upstream(self.upstream, route),
                    "content_filter": route.content_filter,
                }
            )
        return {
            "running": self._server is not None,
            "port": self._port,
            "routes": routes,
            "requests_served": self.requests_served,
            "errors": self.errors,
            "last_error": dict(self.last_error) if self.last_error else None,
        }

    # -- bookkeeping used by the handler

    async def repair_request(self, body: bytes | bytearray, content_type: str) -> bytes | bytearray:
        """The content filter on a request body: inline when small, else in the worker process."""
        if len(body) <= self.inline_filter_limit:
            return content_filter.repair_request_body(bytes(body), content_type)
        return await self._filter_worker.repair_request(body, content_type)

    async def repair_response(self, body: bytearray) -> bytes | bytearray:
        if len(body) <= self.inline_filter_limit:
            return content_filter.repair_response_body(bytes(body))
        return await self._filter_worker.repair_response(body)

    def pool(self) -> UpstreamPool:
        if self._pool is None:
            raise RuntimeError("the gateway is not running")
        return self._pool

    def record(self, route: str, status: int, message: str | None) -> None:
        self.requests_served += 1
        if status >= 400:
            self.errors += 1
            self.last_error = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "route": route,
                "status": status,
                "message": message or responses.get(status, "error"),
            }

    def key_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.local_key.encode())


def _safe_upstream(upstream: Callable[[Route], str | None], route: Route) -> str | None:
    try:
        return upstream(route)
    except Exception:  # status must render even if discovery is broken
        log.exception("resolving the upstream for route %s failed", route.name)
        return None


def _quiet_log(handler: RequestHandler) -> None:
    """Access logs at debug only: agents poll, and Jupyter's log is for people."""
    log.debug("%s %s %s", handler.get_status(), handler.request.method, handler.request.path)


@stream_request_body
class _ProxyHandler(RequestHandler):
    """One proxied exchange. The body is read into memory (it is bounded); the response streams."""

    SUPPORTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

    def initialize(self, gateway: ModelGateway) -> None:
        self.gateway = gateway
        self.route: Route | None = None
        self.rest = ""
        self.body = bytearray()
        self.rejected = False
        self.client_gone = False
        self.relay: _Relay | None = None

    def set_default_headers(self) -> None:
        self.clear_header("Server")

    async def prepare(self) -> None:
        raw_path = self.request.path
        if not raw_path.startswith("/"):
            return self._reject(400, "the request target must be a path, not an absolute URL")
        name, slash, rest = raw_path[1:].partition("/")
        self.route = self.gateway.routes.get(name)
        if self.route is None:
            return self._reject(404, f"no gateway route {name!r}")
        if not self._authenticated():
            return self._reject(401, "missing or wrong local gateway key")
        self.rest = slash + rest
        refused = refusal(self.route.allowed, self.rest, self.request.query)
        if refused:
            return self._reject(400, refused)
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.gateway.max_body_size:
            return self._reject(413, f"request body exceeds {self.gateway.max_body_size} bytes")

    def data_received(self, chunk: bytes) -> None:
        if self.rejected:
            return
        self.body += chunk
        if len(self.body) > self.gateway.max_body_size:
            self.body = bytearray()
            self._reject(413, f"request body exceeds {self.gateway.max_body_size} bytes")

    def _authenticated(self) -> bool:
        headers = self.request.headers
        authorization = headers.get("Authorization", "")
        scheme, _, credential = authorization.partition(" ")
        candidates = [
            credential.strip() if scheme.lower() == "bearer" else None,
            headers.get("x-api-key"),
            headers.get("x-goog-api-key"),
            self.get_query_argument(_KEY_QUERY_PARAM, None),
        ]
        return any(self.gateway.key_matches(candidate) for candidate in candidates)

    def _reject(self, status: int, message: str) -> None:
        self.rejected = True
        self._send_error(status, message)

    def _send_error(self, status: int, message: str) -> None:
        if self._finished:
            return
        self.gateway.record(self.route.name if self.route else "-", status, message)
        if self._headers_written:
            # Mid-stream failure: cutting the connection is the only honest signal left.
            self.request.connection.close()  # type: ignore[union-attr]
            self._finished = True
            return
        self.clear()
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message}))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors tornado raises itself (an unsupported method, a malformed argument) are JSON too."""
        self._send_error(status_code, self._reason)

    async def get(self) -> None:
        await self._proxy()

    post = put = patch = delete = get

    def on_connection_close(self) -> None:
        self.client_gone = True
        if self.relay is not None:
            self.relay.abort("client disconnected")

    async def _proxy(self) -> None:
        if self.rejected or self._finished:
            return
        assert self.route is not None
        token = (self.gateway.token() or "").strip()
        if not token:
            return self._send_error(401, NO_CREDENTIALS)
        base = _safe_upstream(self.gateway.upstream, self.route)
        if not base:
            return self._send_error(503, f"no upstream is configured for route {self.route.name!r}")
        body: bytes | bytearray = self.body
        self.body = bytearray()
        if self.route.content_filter:
            content_type = self.request.headers.get("Content-Type", "")
            try:
                body = await self.gateway.repair_request(body, content_type)
            except FilterWorkerError as exc:
                return self._send_error(503, f"{exc}; retry the request")
            if self.client_gone:
                return self.gateway.record(self.route.name, 499, "client disconnected")
        headers = _upstream_headers(self.request.headers, token, self.route.content_filter)
        has_body = bool(body) or self.request.method in ("POST", "PUT", "PATCH")
        if has_body:
            headers["Content-Length"] = str(len(body))
        # The raw path and query, as checked: never a decoded form of them.
        url = base.rstrip("/") + self.rest + forwarded_query(self.request.query, _KEY_QUERY_PARAM)
        self.relay = _Relay(self, self.route.content_filter)
        await self.relay.run(url, self.request.method or "POST", headers, body if has_body else None)


class _Relay(httputil.HTTPMessageDelegate):
    """Copies one upstream response to the client as it arrives, with back-pressure from the client."""

    def __init__(self, handler: _ProxyHandler, repair: bool) -> None:
        self.handler = handler
        self.gateway = handler.gateway
        self.repair = repair
        self.status: int | None = None
        self.sse_fixer: content_filter.SSEResponseFixer | None = None
        self.json_buffer: bytearray | None = None
        self.aborted: str | None = None
        self.loop = asyncio.get_running_loop()
        self.last_activity = self.loop.time()
        self.stopped: asyncio.Future[None] = self.loop.create_future()
        self.watchdog: asyncio.TimerHandle | None = None

    async def run(self, url: str, method: str, headers: httputil.HTTPHeaders, body: bytes | bytearray | None) -> None:
        exchange = asyncio.ensure_future(self.gateway.pool().exchange(url, method, headers, body, self))
        self.watchdog = self.loop.call_later(self.gateway.idle_timeout, self._check_idle)
        deadline = self.loop.call_later(
            self.gateway.max_duration, self.abort, f"no complete response within {self.gateway.max_duration:g} s"
        )
        try:
            waiting: set[asyncio.Future[Any]] = {exchange, self.stopped}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            deadline.cancel()
            if self.watchdog is not None:
                self.watchdog.cancel()
        if self.aborted is not None:
            # Cancelling closes the upstream connection mid-exchange: nobody reads it any more.
            exchange.cancel()
            exchange.add_done_callback(_consume)
            return self._fail(self.aborted)
        try:
            exchange.result()
        except TimeoutError:
            return self._fail_timeout(f"no connection within {self.gateway.idle_timeout:g} s")
        except (OSError, UpstreamProtocolError, ValueError) as exc:
            return self._fail_unreachable(exc)
        await self._complete()

    def abort(self, reason: str) -> None:
        if self.aborted is None:
            self.aborted = reason
        if not self.stopped.done():
            self.stopped.set_result(None)

    def _check_idle(self) -> None:
        quiet = self.loop.time() - self.last_activity
        if quiet >= self.gateway.idle_timeout:
            self.abort(f"upstream sent nothing for {self.gateway.idle_timeout:g} s")
        else:
            self.watchdog = self.loop.call_later(self.gateway.idle_timeout - quiet, self._check_idle)

    # -- the upstream response, as tornado's HTTP/1.1 parser delivers it

    def headers_received(
        self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine, headers: httputil.HTTPHeaders
    ) -> None:
        self.last_activity = self.loop.time()
        assert isinstance(start_line, httputil.ResponseStartLine)
        if self.aborted or start_line.code < 200:
            return
        self.status = start_line.code
        self._start_response(start_line.code, start_line.reason, headers)

    def _start_response(self, code: int, reason: str, headers: httputil.HTTPHeaders) -> None:
        handler = self.handler
        content_type = headers.get("Content-Type", "")
        modify = self.repair and code < 300
        if modify and content_type.startswith("text/event-stream"):
            self.sse_fixer = content_filter.SSEResponseFixer()
        elif modify and content_type.startswith("application/json"):
            self.json_buffer = bytearray()
        handler.clear()
        handler.clear_header("Content-Type")
        handler.set_status(code, reason or responses.get(code, "Unknown"))
        for name, value in headers.get_all():
            lowered = name.lower()
            if lowered in _HOP_BY_HOP or lowered in _RESPONSE_DROP:
                continue
            handler.add_header(name, value)
        if not (self.sse_fixer or self.json_buffer is not None) and "Content-Length" in headers:
            handler.set_header("Content-Length", headers["Content-Length"])
        if self.json_buffer is None:
            # The head goes out on the next turn of the loop, so that clients
            # see the status while the model thinks; any body that came with
            # it is relayed before then and leaves in the same write: one
            # packet and one wake-up of the client instead of two.
            self.loop.call_soon(self._flush_head)

    def _flush_head(self) -> None:
        handler = self.handler
        if not handler._finished and not handler._headers_written:
            handler.flush()

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        self.last_activity = self.loop.time()
        if self.aborted:
            return None  # the exchange is being cancelled
        if self.json_buffer is not None:
            self.json_buffer += chunk
            return None
        if self.sse_fixer is not None:
            chunk = self.sse_fixer.feed(chunk)
            if not chunk:
                return None
        return self._send(chunk)

    def _send(self, data: bytes) -> Awaitable[None] | None:
        handler = self.handler
        if handler._finished or not data:
            return None
        handler.write(data)
        # Returning the flush makes the upstream read wait for the client.
        return self._flushed(handler.flush())

    async def _flushed(self, flush: Awaitable[None]) -> None:
        try:
            await flush
        except StreamClosedError:
            # Raised into tornado's parser this would be logged as a crash.
            self.abort("client disconnected")

    # -- endings

    async def _complete(self) -> None:
        handler = self.handler
        if self.status is None:
            return self._fail_unreachable(RuntimeError("upstream sent no response"))
        if self.sse_fixer is not None:
            self._send(self.sse_fixer.close())
        elif self.json_buffer is not None:
            try:
                body = await self.gateway.repair_response(self.json_buffer)
            except FilterWorkerError as exc:
                return handler._send_error(502, f"{exc} on the response")
            handler.write(bytes(body))
        message = None if self.status < 400 else f"upstream answered {self.status}"
        self.gateway.record(handler.route.name if handler.route else "-", self.status, message)
        if self.status >= 400:
            # Clients probe optional endpoints (Hermes asks for model lists):
            # a 4xx is the client's business, a 5xx is worth the operator's eye.
            level = logging.WARNING if self.status >= 500 else logging.INFO
            route = handler.route.name if handler.route else "-"
            log.log(level, "upstream answered %s on route %s", self.status, route)
        if not handler._finished:
            handler.finish()

    def _fail(self, reason: str) -> None:
        if self.aborted == "client disconnected":
            self.gateway.record(self.handler.route.name if self.handler.route else "-", 499, reason)
            self.handler._finished = True
            return
        self._fail_timeout(reason)

    def _fail_timeout(self, detail: str) -> None:
        log.warning("model gateway upstream timeout: %s", detail)
        self.handler._send_error(504, f"upstream timed out ({detail})")

    def _fail_unreachable(self, exc: BaseException) -> None:
        if isinstance(exc, StreamClosedError) and exc.real_error is not None:
            exc = exc.real_error  # say why it closed: a reset, a certificate refused
        log.warning("model gateway upstream unreachable: %s", exc)
        self.handler._send_error(502, f"upstream unreachable ({type(exc).__name__}: {exc})")


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _upstream_headers(incoming: httputil.HTTPHeaders, token: str, repair: bool) -> httputil.HTTPHeaders:
    connection_listed = {part.strip().lower() for part in incoming.get("Connection", "").split(",")}
    headers = httputil.HTTPHeaders()
    for name, value in incoming.get_all():
        lowered = name.lower()
        if lowered in _HOP_BY_HOP or lowered in _CLIENT_AUTH or lowered in connection_listed:
            continue
        if repair and lowered == "accept-encoding":
            continue  # the filter needs plain bytes to parse
        headers.add(name, value)
    headers["Authorization"] = f"Bearer {token}"
    return headers
