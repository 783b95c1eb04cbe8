"""End-to-end flow control for terminal websockets.

terminado reads a terminal's PTY as fast as the kernel hands it data and
pushes everything into every websocket: a flooding program fills buffers
between the server and xterm.js faster than the browser parses them, and
Ctrl+C waits behind that backlog. Here the browser says how much it has
parsed, and the server stops reading the PTY while a browser is too far
behind. The program then blocks on its next write, which is what makes
Ctrl+C (and the prompt after it) show up at once.

Protocol, opt-in per connection, so stock JupyterLab and other clients of
``/terminals/websocket`` see no change:

- client → server ``["coda-flow", {"version": 1, "high": H, "low": L}]``:
  the client will acknowledge; the watermarks are optional (clamped).
- server → client ``["coda-flow", {"version": 1, "high": H, "low": L}]``:
  confirmed, with the watermarks in force. Counting starts with the next
  ``stdout`` message (the replay sent on connecting is not counted).
- client → server ``["coda-ack", n]``: ``n`` more characters of ``stdout``
  (UTF-16 code units, JavaScript's ``string.length``) have been parsed.

Policy with several clients on one terminal: reading stops while any
flow-controlled client has ``high`` or more characters unacknowledged, and
resumes once every such client is down to ``low``. Clients that never
negotiated get output as before and never stop the reading. A flow-controlled
client that acknowledges nothing for ``stall_timeout`` seconds while holding
the reading (a frozen tab, a broken script) is treated as stock from then
on, until it acknowledges again, so it cannot block the terminal for the
other clients or its program for ever.

Memory: whatever the client, bytes handed to the websocket but not yet
taken by the kernel's socket buffer are counted; past ``max_unflushed``
bytes the connection is closed (code 1013, try again later), as a client
that reads nothing would otherwise grow the server's write buffer without
bound. JupyterLab reconnects and gets the usual replay.
"""

from __future__ import annotations

import json
import logging
import time
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

from jupyter_server_terminals.handlers import TermSocket
from terminado.management import PtyWithClients, TermManagerBase
from tornado.ioloop import IOLoop
from tornado.websocket import WebSocketHandler

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
NEGOTIATE = "coda-flow"
ACK = "coda-ack"

# Watermarks in characters. VS Code's terminal uses 100,000 / 5,000; a low
# mark well above one PTY read (about 4 KiB) keeps the browser busy while the
# next reads travel, so throughput stays that of xterm's parser.
DEFAULT_HIGH = 100_000
DEFAULT_LOW = 30_000
MIN_HIGH = 8_192
MAX_HIGH = 4_000_000

# Close code for a client whose unsent output outgrew its cap (RFC 6455
# registry: 1013 "Try Again Later"); JupyterLab reconnects on it.
TRY_AGAIN_LATER = 1013


def utf16_length(text: str) -> int:
    """Length as JavaScript counts it, which is what the browser acknowledges."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


@dataclass
class Window:
    """One client's unacknowledged output and whether it holds the PTY reading."""

    high: int
    low: int
    unacked: int = 0
    holding: bool = False
    stalled: bool = False
    # When the client last showed progress: its last ack, or when it began holding.
    progress_at: float = 0.0

    def sent(self, size: int, now: float) -> None:
        self.unacked += size
        if not self.holding and not self.stalled and self.unacked >= self.high:
            self.holding = True
            self.progress_at = now

    def acked(self, size: int, now: float) -> None:
        self.unacked = max(0, self.unacked - size)
        self.progress_at = now
        self.stalled = False
        if self.unacked <= self.low:
            self.holding = False
        elif self.unacked >= self.high:
            self.holding = True

    def stall(self) -> None:
        self.stalled = True
        self.holding = False


def watermarks(offer: Any) -> tuple[int, int] | None:
    """The (high, low) in force for a client's offer, or ``None`` if it is not one we speak."""
    if not isinstance(offer, dict):
        return None
    version = offer.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < PROTOCOL_VERSION:
        return None
    high, low = offer.get("high", DEFAULT_HIGH), offer.get("low", DEFAULT_LOW)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (high, low)):
        return None
    high = min(max(high, MIN_HIGH), MAX_HIGH)
    return high, min(max(low, 0), high // 2)


class FlowSettings(Protocol):
    """What the gate needs from the terminal manager's configuration."""

    flow_stall_timeout: float
    flow_max_unflushed: int


class ReadGate:
    """Stops and restarts a terminal manager's reading of each PTY.

    terminado reads a PTY from an IOLoop reader on its file descriptor
    (``TermManagerBase.start_reading``); pausing removes that reader and
    resuming adds the same one back. Nothing is read meanwhile, so nothing
    is lost and the replay buffer stays exactly what was sent.
    """

    def __init__(self, manager: TermManagerBase, settings: FlowSettings) -> None:
        self._manager = manager
        self.settings = settings
        # Weak: a terminal that ends is dropped by its manager, and so here.
        self._paused: weakref.WeakSet[PtyWithClients] = weakref.WeakSet()
        self._closing: weakref.WeakSet[PtyWithClients] = weakref.WeakSet()
        self._stall_checks: dict[PtyWithClients, object] = {}

    def is_paused(self, terminal: PtyWithClients) -> bool:
        return terminal in self._paused

    def update(self, terminal: PtyWithClients | None) -> None:
        """Pause or resume ``terminal`` for its clients' current windows."""
        if terminal is None:
            return
        holders = [] if terminal in self._closing else _holders(terminal)
        if holders:
            self._pause(terminal)
            self._check_stalls_later(terminal, holders)
        else:
            self._resume(terminal)

    def close(self, terminal: PtyWithClients) -> None:
        """The terminal is being shut down: read it to its end, whatever the clients."""
        self._closing.add(terminal)
        self._resume(terminal)

    def _pause(self, terminal: PtyWithClients) -> None:
        fd = terminal.ptyproc.fd
        if terminal in self._paused or self._manager.ptys_by_fd.get(fd) is not terminal:
            return
        IOLoop.current().remove_handler(fd)
        self._paused.add(terminal)

    def _resume(self, terminal: PtyWithClients) -> None:
        self._cancel_stall_check(terminal)
        if terminal not in self._paused:
            return
        self._paused.discard(terminal)
        fd = terminal.ptyproc.fd
        if self._manager.ptys_by_fd.get(fd) is terminal:
            loop = IOLoop.current()
            loop.add_handler(fd, self._manager.pty_read, loop.READ)

    def _check_stalls_later(self, terminal: PtyWithClients, holders: list[Window]) -> None:
        self._cancel_stall_check(terminal)
        timeout = self.settings.flow_stall_timeout
        due = min(w.progress_at for w in holders) + timeout
        delay = max(0.0, due - time.monotonic())
        self._stall_checks[terminal] = IOLoop.current().call_later(delay, self._check_stalls, terminal)

    def _cancel_stall_check(self, terminal: PtyWithClients) -> None:
        handle = self._stall_checks.pop(terminal, None)
        if handle is not None:
            IOLoop.current().remove_timeout(handle)

    def _check_stalls(self, terminal: PtyWithClients) -> None:
        self._stall_checks.pop(terminal, None)
        now = time.monotonic()
        for window in _holders(terminal):
            if now - window.progress_at >= self.settings.flow_stall_timeout:
                window.stall()
                log.warning(
                    "coda-jupyter: terminal %s: a browser acknowledged no output for %ss; no longer waiting for it",
                    terminal.term_name,
                    self.settings.flow_stall_timeout,
                )
        self.update(terminal)


def _holders(terminal: PtyWithClients) -> list[Window]:
    # Any client with a window: the websocket's, and the HTTP transport's sessions.
    windows = (getattr(client, "window", None) for client in terminal.clients)
    return [window for window in windows if isinstance(window, Window) and window.holding]


class _CountsUnflushed(WebSocketHandler):
    """Counts bytes written to the websocket and not yet taken by the kernel.

    It sits right above tornado's handler in the method order, the only
    place that sees each write's flush future: jupyter_server_terminals'
    ``write_message`` drops it.
    """

    unflushed = 0

    def write_message(self, message: str | bytes | dict[str, Any], binary: bool = False) -> Any:
        future = super().write_message(message, binary=binary)
        size = len(message) if isinstance(message, (str, bytes)) else 0
        self.unflushed += size

        def flushed(done: Any) -> None:
            self.unflushed -= size
            done.exception()  # a closed stream is on_close's business, not a log line per write

        future.add_done_callback(flushed)
        return future


class FlowTermSocket(TermSocket, _CountsUnflushed):
    """Jupyter's terminal websocket, plus the flow-control protocol above."""

    window: Window | None = None

    def _gate(self) -> ReadGate | None:
        gate = getattr(self.term_manager, "read_gate", None)
        return gate if isinstance(gate, ReadGate) else None

    async def on_message(self, message: Any) -> None:  # type: ignore[override]
        command = _flow_command(message)
        if command is None:
            await super().on_message(message)
            return
        kind, value = command
        if kind == NEGOTIATE:
            self._negotiate(value)
        else:
            self._acknowledge(value)

    def _negotiate(self, offer: Any) -> None:
        gate = self._gate()
        marks = watermarks(offer)
        if gate is None or self.window is not None or marks is None:
            self.log.debug("coda-jupyter: terminal flow offer ignored: %r", offer)
            return
        high, low = marks
        self.send_json_message([NEGOTIATE, {"version": PROTOCOL_VERSION, "high": high, "low": low}])
        self.window = Window(high=high, low=low, progress_at=time.monotonic())

    def _acknowledge(self, count: Any) -> None:
        gate = self._gate()
        if self.window is None or gate is None:
            return
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            self.log.debug("coda-jupyter: terminal ack ignored: %r", count)
            return
        was_holding = self.window.holding or self.window.stalled
        self.window.acked(count, time.monotonic())
        if was_holding or self.window.holding:
            gate.update(self.terminal)

    def on_pty_read(self, text: str) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            return  # on_close follows; writing now would raise inside terminado's read loop
        super().on_pty_read(text)
        gate = self._gate()
        if gate is None:
            return
        if self.unflushed > gate.settings.flow_max_unflushed:
            self.log.warning(
                "coda-jupyter: terminal %s: closing a connection with %d bytes of output it has not taken",
                self.term_name,
                self.unflushed,
            )
            self.close(TRY_AGAIN_LATER, "too much unread output")
            return
        if self.window is not None:
            was_holding = self.window.holding
            self.window.sent(utf16_length(text), time.monotonic())
            if self.window.holding and not was_holding:
                gate.update(self.terminal)

    def on_close(self) -> None:
        terminal = self.terminal
        self.window = None
        super().on_close()
        gate = self._gate()
        if gate is not None:
            gate.update(terminal)


def _flow_command(message: Any) -> tuple[str, Any] | None:
    """``(kind, value)`` for a flow-control message; ``None`` for anything else."""
    if not isinstance(message, str) or not message.startswith('["coda-'):
        return None
    try:
        command = json.loads(message)
    except ValueError:
        return None
    if isinstance(command, list) and len(command) == 2 and command[0] in (NEGOTIATE, ACK):
        return command[0], command[1]
    return None


def use_flow_control(web_app: Any) -> bool:
    """Serve the terminals' websocket route with ``FlowTermSocket``.

    jupyter_server_terminals registers its route after coda-jupyter loads
    (extensions load in name order), so the route is swapped here, before
    the first terminal exists: no websocket can open to a terminal before
    it exists. Only the stock class is replaced; the subclass keeps its
    authentication and authorization. Returns whether the route was found.
    """
    found = False
    pending = [web_app.default_router]
    while pending:
        router = pending.pop()
        for rule in router.rules:
            if rule.target is TermSocket:
                rule.target = FlowTermSocket
                rule.handler_class = FlowTermSocket
                found = True
            elif rule.target is FlowTermSocket:
                found = True
            elif hasattr(rule.target, "rules"):
                pending.append(rule.target)
    return found
