"""Kept-alive HTTP/1.1 connections from the gateway to its upstreams, with a bound per host.

The upstream is remote (an AI Gateway or serving endpoints, HTTPS only), so
a new connection per request pays a TCP and a TLS handshake on every model
call. Tornado's own HTTP client never reuses a connection, so this module
keeps a small pool of tornado streams per ``(scheme, host, port)`` and speaks
HTTP/1.1 over them with tornado's ``HTTP1Connection``, the same parser the
server side uses.

- At most ``max_connections`` requests per host are in flight; more wait for
  a free connection. Connections open = in flight + idle, never above it.
- At most ``pool_size`` idle connections per host are kept, each for at most
  ``idle_expiry`` seconds, shorter than the idle timeouts servers and load
  balancers commonly apply (AWS ALB: 60 s, nginx: 75 s) so the gateway is
  usually the side that closes.
- An idle connection the upstream closed (readable: end of stream or a TLS
  alert) is dropped before reuse. The upstream may still close one just as a
  request goes out; when a reused connection fails before the response head
  arrived, the request is sent once more on a new connection. That is what
  HTTP/1.1 clients do for a stale connection (RFC 9112 section 9.3.1; Go's
  net/http retries such requests, httpcore drops readable idle connections
  first): the upstream closed without answering, so it did not process it.
  A failure on a new connection, or once any part of the response arrived,
  is never retried.
- A connection is kept only after a complete HTTP/1.1 response with a known
  length and no ``Connection: close``; a cancelled exchange (client gone,
  timeout) closes its connection.

TLS uses Python's default context, which reads ``SSL_CERT_FILE`` and
``SSL_CERT_DIR`` when the pool is created, plus ``REQUESTS_CA_BUNDLE`` (or
``CURL_CA_BUNDLE``), the variable the Databricks SDK's HTTP library
(requests) honours, so one setting serves both.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import select
import ssl
from collections.abc import Awaitable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tornado import httputil
from tornado.http1connection import HTTP1Connection, HTTP1ConnectionParameters, is_transfer_encoding_chunked
from tornado.iostream import IOStream
from tornado.tcpclient import TCPClient

# Bodies go upstream in pieces: one big copy would hold the GIL (see ``gateway.worker``).
from .worker import PIECE

log = logging.getLogger("coda_jupyter.gateway")

DEFAULT_POOL_SIZE = 16
DEFAULT_MAX_CONNECTIONS = 64
DEFAULT_IDLE_EXPIRY = 30.0
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")

_PARAMETERS = HTTP1ConnectionParameters(
    no_keep_alive=False,
    chunk_size=PIECE,
    max_header_size=64 * 1024,
    # A model may stream for an hour; the gateway's own timers bound it.
    max_body_size=1 << 40,
    decompress=False,
)


class UpstreamProtocolError(RuntimeError):
    """The upstream broke HTTP/1.1: a malformed head or body framing."""


def upstream_ssl_context() -> ssl.SSLContext:
    """System CAs plus those the environment names, read now."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    bundle = next((os.environ[name] for name in CA_BUNDLE_VARIABLES if os.environ.get(name)), None)
    if bundle:
        try:
            if os.path.isdir(bundle):
                context.load_verify_locations(capath=bundle)
            else:
                context.load_verify_locations(cafile=bundle)
        except (OSError, ssl.SSLError) as exc:
            log.warning("the CA bundle %s could not be loaded (%s); using the system CAs", bundle, exc)
    return context


@dataclass(eq=False)
class _Connection:
    stream: IOStream
    reused: bool = False
    idle_since: float = 0.0


@dataclass
class _Host:
    slots: asyncio.Semaphore
    idle: list[_Connection] = field(default_factory=list)
    # Requests waiting for a slot: a connection released meanwhile is theirs, whatever ``pool_size`` says.
    waiting: int = 0


class UpstreamPool:
    """Connections to every upstream host the gateway talks to; one per gateway run."""

    def __init__(
        self,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idle_expiry: float = DEFAULT_IDLE_EXPIRY,
        connect_timeout: float = 60.0,
    ) -> None:
        if max_connections < 1 or pool_size < 0:
            raise ValueError("the upstream pool needs max_connections >= 1 and pool_size >= 0")
        self.pool_size = min(pool_size, max_connections)
        self.max_connections = max_connections
        self.idle_expiry = idle_expiry
        self.connect_timeout = connect_timeout
        self.connections_opened = 0
        self._tcp = TCPClient()
        self._hosts: dict[tuple[str, str, int], _Host] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    @functools.cached_property
    def ssl_context(self) -> ssl.SSLContext:
        """Built at the first HTTPS connection, so loading the CAs does not slow server start-up."""
        return upstream_ssl_context()

    async def exchange(
        self,
        url: str,
        method: str,
        headers: httputil.HTTPHeaders,
        body: bytes | bytearray | None,
        delegate: httputil.HTTPMessageDelegate,
    ) -> None:
        """Send one request and feed its response to ``delegate``; see :class:`_Exchange` for what it raises."""
        await _Exchange(self, url, method, headers, body, delegate).run()

    def idle_count(self) -> int:
        return sum(len(host.idle) for host in self._hosts.values())

    def close(self) -> None:
        """Close idle connections now; those in use close when their exchange ends."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for host in self._hosts.values():
            for connection in host.idle:
                connection.stream.close()
            host.idle.clear()
        self._tcp.close()

    # -- checkout and return

    def _host(self, key: tuple[str, str, int]) -> _Host:
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(asyncio.Semaphore(self.max_connections))
        return host

    async def _checkout(self, key: tuple[str, str, int], *, fresh: bool) -> _Connection:
        if self._closed:
            raise RuntimeError("the upstream pool is closed")
        host = self._host(key)
        host.waiting += 1
        try:
            await host.slots.acquire()
        finally:
            host.waiting -= 1
        try:
            while host.idle and not fresh:
                connection = host.idle.pop()  # the most recently used is the likeliest to be alive
                if self._usable(connection):
                    connection.reused = True
                    return connection
                connection.stream.close()
            scheme, hostname, port = key
            stream = await self._tcp.connect(
                hostname,
                port,
                ssl_options=self.ssl_context if scheme == "https" else None,
                max_buffer_size=1 << 26,
                timeout=self.connect_timeout,
            )
            stream.set_nodelay(True)
            self.connections_opened += 1
            return _Connection(stream)
        except BaseException:
            host.slots.release()
            raise

    def _release(self, key: tuple[str, str, int], connection: _Connection, keep: bool) -> None:
        host = self._host(key)
        host.slots.release()
        room = max(self.pool_size, host.waiting)
        if keep and not self._closed and len(host.idle) < room and not connection.stream.closed():
            connection.idle_since = asyncio.get_running_loop().time()
            host.idle.append(connection)
            self._schedule_sweep()
        else:
            connection.stream.close()
        while len(host.idle) > room:  # kept for waiters that found another one first
            host.idle.pop(0).stream.close()

    def _usable(self, connection: _Connection) -> bool:
        stream = connection.stream
        if stream.closed() or asyncio.get_running_loop().time() - connection.idle_since >= self.idle_expiry:
            return False
        # Between exchanges nothing may arrive: readable means the upstream
        # closed (end of stream, reset or a TLS close alert) or broke protocol.
        return not _readable(stream.socket.fileno())

    def _schedule_sweep(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(self.idle_expiry, self._sweep)

    def _sweep(self) -> None:
        """Close idle connections that expired or that the upstream closed, so none lingers half-open."""
        self._sweeper = None
        for host in self._hosts.values():
            alive = [connection for connection in host.idle if self._usable(connection)]
            for connection in host.idle:
                if connection not in alive:
                    connection.stream.close()
            host.idle[:] = alive
        if self.idle_count():
            self._schedule_sweep()


def _readable(fd: int) -> bool:
    if hasattr(select, "poll"):  # select() fails on descriptors above 1023, which a busy server reaches
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fd], [], [], 0)
    return bool(readable)


class _Watch(httputil.HTTPMessageDelegate):
    """Passes the response on and notes what decides reuse and retry."""

    def __init__(self, delegate: httputil.HTTPMessageDelegate) -> None:
        self.delegate = delegate
        self.head: httputil.ResponseStartLine | None = None
        self.headers: httputil.HTTPHeaders | None = None
        self.finished = False

    def headers_received(
        self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine, headers: httputil.HTTPHeaders
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, httputil.ResponseStartLine)
        self.head, self.headers = start_line, headers
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        self.finished = True
        self.delegate.finish()

    def on_connection_close(self) -> None:
        self.delegate.on_connection_close()

    def reusable(self) -> bool:
        """A complete HTTP/1.1 response whose end was marked by its framing, not by a close."""
        if not self.finished or self.head is None or self.headers is None:
            return False
        if self.head.version != "HTTP/1.1":
            return False
        tokens = {token.strip().lower() for token in self.headers.get("Connection", "").split(",")}
        if "close" in tokens:
            return False
        framed = "Content-Length" in self.headers or is_transfer_encoding_chunked(self.headers)
        return framed or self.head.code in (204, 304)


class _Exchange:
    """One request and its response, with at most one resend after a stale connection.

    ``run`` raises ``OSError`` (``ssl.SSLError`` and ``StreamClosedError``
    included) when the upstream cannot be reached or hangs up,
    ``TimeoutError`` when connecting takes too long, and
    :class:`UpstreamProtocolError` for a broken response; building it raises
    ``ValueError`` for a URL that is not http(s). Cancelling ``run`` closes
    the connection in use.
    """

    def __init__(
        self,
        pool: UpstreamPool,
        url: str,
        method: str,
        headers: httputil.HTTPHeaders,
        body: bytes | bytearray | None,
        delegate: httputil.HTTPMessageDelegate,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the upstream must be an http or https URL")
        self.pool = pool
        self.key = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        # The path and query exactly as given: the caller checked them raw.
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.method = method
        self.headers = headers
        self.headers["Host"] = parts.netloc.rpartition("@")[2]
        self.body = body
        self.delegate = delegate

    async def run(self) -> None:
        fresh = False
        while True:
            connection = await self.pool._checkout(self.key, fresh=fresh)
            watch = _Watch(self.delegate)
            keep = False
            try:
                keep = await self._once(connection, watch)
                return
            except (OSError, UpstreamProtocolError) as exc:
                if connection.reused and not fresh and watch.head is None and isinstance(exc, OSError):
                    log.debug("a kept-alive upstream connection was closed (%s); sending on a new one", exc)
                    fresh = True
                    continue
                raise
            finally:
                self.pool._release(self.key, connection, keep)

    async def _once(self, connection: _Connection, watch: _Watch) -> bool:
        """Whether the connection may be kept for another request."""
        http = HTTP1Connection(connection.stream, True, _PARAMETERS)
        start = httputil.RequestStartLine(self.method, self.target, "HTTP/1.1")
        body = memoryview(self.body) if self.body else None
        # The head and the first piece in one write: one packet for a typical request.
        first = bytes(body[:PIECE]) if body is not None else None
        await http.write_headers(start, httputil.HTTPHeaders(self.headers), first)
        if body is not None:
            for offset in range(PIECE, len(body), PIECE):
                await http.write(body[offset : offset + PIECE])  # type: ignore[arg-type]
        http.finish()
        stream_open = await http.read_response(watch)
        if not watch.finished:
            raise UpstreamProtocolError("the upstream sent an incomplete or malformed response")
        return stream_open and watch.reusable()
