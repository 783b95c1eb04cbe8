"""Jupyter terminals over plain HTTP, for browsers whose websockets a proxy refuses.

Some corporate proxies do not pass websocket upgrades. JupyterLab's terminal
then never connects. This transport carries the very messages of
``/terminals/websocket/<name>`` (terminado's JSON arrays, plus coda's
flow-control ones from ``flow.py``) over ordinary requests, so the lab
extension can swap it in underneath JupyterLab's terminal connection and
nothing above it changes:

- ``POST …/sessions`` attaches a new client to the terminal, as a websocket's
  ``open`` does: its first messages are ``["setup", {}]`` and the replay.
- ``GET …/sessions/<id>/output?since=N&wait=S`` is a long poll: it answers
  as soon as messages numbered ``N`` or more are queued, or after ``S``
  seconds with none. Messages before ``N`` count as delivered and are
  dropped, so a poll whose reply was lost is simply asked again.
- ``POST …/sessions/<id>/input`` takes ``{"seq": K, "messages": [...]}``:
  ``stdin``, ``set_size``, ``coda-flow``, ``coda-ack``. A batch whose
  ``seq`` was already applied is acknowledged and skipped, so a retried
  POST never types twice.
- ``DELETE …/sessions/<id>`` detaches at once (a closed tab); a session
  nobody polls for ``idle_timeout`` seconds is detached too.

Long polling rather than a streamed reply: a proxy that refuses upgrades
often buffers whole responses as well, while short replies pass any proxy.

Flow control is the websocket's: a session that negotiated holds the PTY
reading through the same ``ReadGate`` (its ``window`` is what the gate
reads), and whatever the client, a session leaving ``flow_max_unflushed``
characters unpolled is closed, as the websocket closes with 1013.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from jupyter_server._tz import utcnow
from terminado.management import PtyWithClients
from tornado.ioloop import IOLoop

from .flow import ACK, NEGOTIATE, PROTOCOL_VERSION, ReadGate, Window, utf16_length, watermarks

log = logging.getLogger(__name__)

# Longest a poll may wait: well under the idle timeouts of common proxies
# and load balancers (60 s and more), so a quiet terminal's poll is never cut.
MAX_WAIT_S = 25.0
# A session nobody polls for this long is gone (a closed tab, a lost network).
IDLE_TIMEOUT_S = 60.0
# One reply carries at most this many characters of output; the rest waits
# for the next poll, which the client sends at once.
MAX_REPLY_CHARS = 1_000_000
# Messages one input request may carry.
MAX_INPUT_MESSAGES = 1_000
# Sessions open at once on this server, so no client can grow it without bound.
MAX_SESSIONS = 64
# What the websocket allows when the manager does not say (flow.py's default).
DEFAULT_MAX_UNREAD = 16 * 1024 * 1024
# terminado keeps at most 10,000 rows or columns worth honouring.
MAX_SIZE = 10_000


class TransportError(Exception):
    """A request the transport refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class HttpTerminalClient:
    """One HTTP session on a terminal, seen by terminado as one more client.

    terminado calls ``on_pty_read`` and ``on_pty_died`` on every entry of
    ``PtyWithClients.clients`` and reads its ``size`` to fit the PTY to the
    smallest client (terminado/management.py); that is all a client is.
    """

    def __init__(
        self,
        session_id: str,
        name: str,
        terminal: PtyWithClients,
        manager: Any,
        settings: dict[str, Any],
        on_end: Callable[[HttpTerminalClient], None],
    ) -> None:
        self.session_id = session_id
        self.name = name
        self.terminal: PtyWithClients | None = terminal
        self.size: tuple[int | None, int | None] = (None, None)
        self.window: Window | None = None
        self._manager = manager
        self._settings = settings
        self._on_end = on_end
        self._outbox: deque[tuple[int, list[Any]]] = deque()
        self._next_seq = 0
        self._unread = 0
        self._input_seq = 0
        self._waiter: asyncio.Future[None] | None = None
        self._expiry: object | None = None
        self._died = False
        self.ended = False

    # -- terminado's side -------------------------------------------------

    def on_pty_read(self, text: str) -> None:
        if self.ended:
            return
        self._put(["stdout", text])
        limit = getattr(self._manager, "flow_max_unflushed", DEFAULT_MAX_UNREAD)
        if self._unread > limit:
            log.warning(
                "coda-jupyter: terminal %s: closing an HTTP session with %d characters of output it has not polled",
                self.name,
                self._unread,
            )
            self.end(later=True)  # terminado is iterating over the terminal's clients
            return
        gate = self._gate()
        if self.window is not None and gate is not None:
            was_holding = self.window.holding
            self.window.sent(utf16_length(text), time.monotonic())
            if self.window.holding and not was_holding:
                gate.update(self.terminal)

    def on_pty_died(self) -> None:
        # The client hears of it on its next poll; the session ends once that
        # poll took the message (or when it expires).
        terminal, self.terminal = self.terminal, None
        self._died = True
        self._put(["disconnect", 1])
        if terminal is not None:
            # Later: terminado is iterating over the terminal's clients.
            IOLoop.current().add_callback(self._leave, terminal, False)

    # -- the client's side ------------------------------------------------

    def attach(self) -> None:
        """Join the terminal and queue what a websocket gets on opening."""
        assert self.terminal is not None
        self.terminal.clients.append(self)
        self._put(["setup", {}])
        replay = "".join(self.terminal.read_buffer)
        if replay:
            self._put(["stdout", replay])
        self._expire_later()

    async def poll(self, since: int, wait: float) -> tuple[list[list[Any]], int]:
        """Messages numbered ``since`` and after (coalesced), and the number to ask for next."""
        if since > self._next_seq:
            raise TransportError(400, f"since={since} is ahead of the last message ({self._next_seq})")
        self._cancel_expiry()
        try:
            self._drop_through(since)
            if not self._outbox and not self.ended and wait > 0:
                await self._wait(wait)
            messages, next_seq = self._take()
        finally:
            self._expire_later()
        if messages:
            self._stamp_activity()
        if self._died and next_seq == self._next_seq:
            self.end()  # the disconnect is handed over: nothing more to say
        return messages, next_seq

    async def receive(self, seq: int, messages: list[Any]) -> None:
        """Apply one batch of input messages, unless this batch was applied before."""
        if seq < self._input_seq:
            return  # a retry of a batch that did arrive
        if seq > self._input_seq:
            raise TransportError(409, f"input batch {seq} came before batch {self._input_seq}")
        commands = [_command(message) for message in messages]
        self._input_seq += 1
        for kind, args in commands:
            if kind == "stdin":
                await self._write(args[0])
            elif kind == "set_size":
                self.size = (args[0], args[1])
                if self.terminal is not None:
                    self.terminal.resize_to_smallest()
            elif kind == NEGOTIATE:
                self._negotiate(args[0])
            else:
                self._acknowledge(args[0])
        self._stamp_activity()

    def end(self, later: bool = False) -> None:
        """Leave the terminal for good (``later``: on the next loop turn); a waiting poll returns at once."""
        if self.ended:
            return
        self.ended = True
        terminal, self.terminal = self.terminal, None
        if terminal is not None and later:
            IOLoop.current().add_callback(self._leave, terminal, True)
        elif terminal is not None:
            self._leave(terminal, True)
        self._wake()
        self._cancel_expiry()
        self._on_end(self)

    # -- internals --------------------------------------------------------

    def _gate(self) -> ReadGate | None:
        gate = getattr(self._manager, "read_gate", None)
        return gate if isinstance(gate, ReadGate) else None

    def _leave(self, terminal: PtyWithClients, alive: bool) -> None:
        """Stop being one of ``terminal``'s clients, as a closing websocket does."""
        self.window = None
        if self in terminal.clients:
            terminal.clients.remove(self)
        if not alive:
            return  # a dead PTY has no size to fit, nor reading to resume
        terminal.resize_to_smallest()
        gate = self._gate()
        if gate is not None:
            gate.update(terminal)

    def _put(self, message: list[Any]) -> None:
        self._outbox.append((self._next_seq, message))
        self._next_seq += 1
        if message[0] == "stdout":
            self._unread += len(message[1])
        self._wake()

    def _first_seq(self) -> int:
        return self._outbox[0][0] if self._outbox else self._next_seq

    def _drop_through(self, since: int) -> None:
        while self._outbox and self._outbox[0][0] < since:
            _, message = self._outbox.popleft()
            if message[0] == "stdout":
                self._unread -= len(message[1])

    def _take(self) -> tuple[list[list[Any]], int]:
        """What the next reply carries: consecutive output joined, up to the reply's cap."""
        messages: list[list[Any]] = []
        size = 0
        next_seq = self._first_seq()
        for seq, message in self._outbox:
            if message[0] == "stdout":
                if messages and size + len(message[1]) > MAX_REPLY_CHARS:
                    break
                size += len(message[1])
                if messages and messages[-1][0] == "stdout":
                    messages[-1] = ["stdout", messages[-1][1] + message[1]]
                else:
                    messages.append(message)
            else:
                messages.append(message)
            next_seq = seq + 1
        return messages, next_seq

    async def _wait(self, timeout: float) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)  # a newer poll replaces an older one
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), timeout)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _expire_later(self) -> None:
        self._cancel_expiry()
        if not self.ended:
            self._expiry = IOLoop.current().call_later(IDLE_TIMEOUT_S, self._expire)

    def _cancel_expiry(self) -> None:
        if self._expiry is not None:
            IOLoop.current().remove_timeout(self._expiry)
            self._expiry = None

    def _expire(self) -> None:
        self._expiry = None
        log.info("coda-jupyter: terminal %s: an HTTP session was not polled for %ss; closed", self.name, IDLE_TIMEOUT_S)
        self.end()

    async def _write(self, text: str) -> None:
        terminal = self.terminal
        if terminal is None:
            return
        # As terminado's websocket does: a PTY write may block while the
        # program does not read, so it runs off the event loop.
        executor = getattr(self._manager, "blocking_io_executor", None)
        await asyncio.get_running_loop().run_in_executor(executor, terminal.ptyproc.write, text)

    def _negotiate(self, offer: Any) -> None:
        marks = watermarks(offer)
        if self._gate() is None or self.window is not None or marks is None:
            log.debug("coda-jupyter: terminal flow offer ignored: %r", offer)
            return
        high, low = marks
        self._put([NEGOTIATE, {"version": PROTOCOL_VERSION, "high": high, "low": low}])
        self.window = Window(high=high, low=low, progress_at=time.monotonic())

    def _acknowledge(self, count: int) -> None:
        gate = self._gate()
        if self.window is None or gate is None:
            return
        was_holding = self.window.holding or self.window.stalled
        self.window.acked(count, time.monotonic())
        if was_holding or self.window.holding:
            gate.update(self.terminal)

    def _stamp_activity(self) -> None:
        # What jupyter_server_terminals' websocket records on every message,
        # so idle culling sees an HTTP-connected terminal as in use.
        now = utcnow()
        self._settings["terminal_last_activity"] = now
        if self.terminal is not None:
            self.terminal.last_activity = now  # type: ignore[attr-defined]


def _command(message: Any) -> tuple[str, list[Any]]:
    """``(kind, arguments)`` of one input message, checked; raises ``TransportError`` (400)."""
    if not isinstance(message, list) or not message or not isinstance(message[0], str):
        raise TransportError(400, "each message must be a JSON array starting with its type")
    kind, args = message[0], message[1:]
    if kind == "stdin":
        if len(args) != 1 or not isinstance(args[0], str):
            raise TransportError(400, 'a "stdin" message carries one string')
    elif kind == "set_size":
        # terminado reads rows and columns; the pixel sizes JupyterLab adds are optional.
        if not 2 <= len(args) <= 4 or not all(_is_int(a) and 0 < a <= MAX_SIZE for a in args[:2]):
            raise TransportError(400, f'a "set_size" message carries rows and columns from 1 to {MAX_SIZE}')
    elif kind == NEGOTIATE:
        if len(args) != 1:
            raise TransportError(400, f'a "{NEGOTIATE}" message carries one offer')
    elif kind == ACK:
        if len(args) != 1 or not _is_int(args[0]) or args[0] < 0:
            raise TransportError(400, f'a "{ACK}" message carries a count of characters')
    else:
        raise TransportError(400, f"unknown message type {kind!r}; known: stdin, set_size, {NEGOTIATE}, {ACK}")
    return kind, args


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class HttpSessions:
    """Every HTTP session of one terminal manager, by terminal name and session id."""

    def __init__(self, manager: Any, settings: dict[str, Any]) -> None:
        self.manager = manager
        self._settings = settings
        self._sessions: dict[tuple[str, str], HttpTerminalClient] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, name: str) -> HttpTerminalClient:
        terminal = self.manager.terminals.get(name)
        if terminal is None:
            raise TransportError(404, f"no terminal named {name!r}")
        if len(self._sessions) >= MAX_SESSIONS:
            raise TransportError(429, f"{MAX_SESSIONS} HTTP terminal sessions are open; close a tab and retry")
        client = HttpTerminalClient(
            secrets.token_urlsafe(16), name, terminal, self.manager, self._settings, self._forget
        )
        self._sessions[(name, client.session_id)] = client
        client.attach()
        return client

    def get(self, name: str, session_id: str) -> HttpTerminalClient:
        client = self._sessions.get((name, session_id))
        if client is None:
            raise TransportError(404, f"no HTTP session {session_id!r} on terminal {name!r} (it ended or expired)")
        return client

    def close(self, name: str, session_id: str) -> None:
        self.get(name, session_id).end()

    def _forget(self, client: HttpTerminalClient) -> None:
        self._sessions.pop((client.name, client.session_id), None)


def http_sessions(settings: dict[str, Any], manager: Any) -> HttpSessions:
    """The server's registry of HTTP sessions, made on first use."""
    sessions = settings.get("coda_terminal_http_sessions")
    if not isinstance(sessions, HttpSessions) or sessions.manager is not manager:
        sessions = HttpSessions(manager, settings)
        settings["coda_terminal_http_sessions"] = sessions
    return sessions
