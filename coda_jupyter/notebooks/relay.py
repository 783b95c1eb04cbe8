"""Server → browser relay: tool calls on a notebook open in JupyterLab go to the tab that holds it.

The lab extension long-polls ``coda/api/notebooks/relay/poll`` with the paths
of the notebooks it has open and receives commands; it applies each one to
its live notebook model (and runs cells through the notebook's own session
context), then posts the outcome to ``coda/api/notebooks/relay/reply``. So an
agent's edits appear in the open notebook at once, are saved by the browser
like the user's own edits, and the server never writes an .ipynb behind an
open editor.

A browser counts as present while it polls; one that stops (tab closed,
network gone) is forgotten after ``wait + GRACE_S`` seconds, and a command it
never picked up is handed back to the server-side path.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from .paths import NotebookError

MAX_WAIT_S = 30.0
# How long after its last poll (plus the wait it asked for) a browser still counts as present.
GRACE_S = 10.0
# A present browser picks a command up within one poll round trip; this much longer means it is gone.
PICKUP_S = 10.0
MAX_CLIENTS = 50


class BrowserGone(Exception):
    """The browser holding the notebook did not take the command: use the server-side path."""


@dataclass
class BrowserClient:
    id: str
    open: set[str] = field(default_factory=set)
    expires: float = 0.0
    commands: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    pending: set[int] = field(default_factory=set)

    def alive(self) -> bool:
        return time.monotonic() < self.expires


class Relay:
    def __init__(self) -> None:
        self._clients: dict[str, BrowserClient] = {}
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._picked: dict[int, asyncio.Event] = {}
        self._ids = itertools.count(1)

    def open_paths(self) -> set[str]:
        return {path for client in self._live() for path in client.open}

    def holder(self, path: str) -> BrowserClient | None:
        """The most recently seen browser with ``path`` open."""
        holders = [client for client in self._live() if path in client.open]
        return max(holders, key=lambda client: client.expires) if holders else None

    def _live(self) -> list[BrowserClient]:
        for client in [c for c in self._clients.values() if not c.alive()]:
            self._forget(client)
        return list(self._clients.values())

    def _forget(self, client: BrowserClient) -> None:
        self._clients.pop(client.id, None)
        for msg_id in client.pending:
            future = self._replies.get(msg_id)
            if future is not None and not future.done():
                future.set_exception(NotebookError("the browser holding the notebook went away"))

    async def poll(self, client_id: str, open_paths: list[str], wait: float) -> list[dict[str, Any]]:
        """Record what the browser has open and hand it the commands for it (waiting up to ``wait``)."""
        client = self._clients.get(client_id)
        if client is None:
            if len(self._live()) >= MAX_CLIENTS:
                oldest = min(self._clients.values(), key=lambda c: c.expires)
                self._forget(oldest)
            client = self._clients[client_id] = BrowserClient(client_id)
        client.open = set(open_paths)
        client.expires = time.monotonic() + wait + GRACE_S
        commands: list[dict[str, Any]] = []
        try:
            commands.append(
                await asyncio.wait_for(client.commands.get(), timeout=wait)
                if wait > 0
                else client.commands.get_nowait()
            )
        except (asyncio.TimeoutError, asyncio.QueueEmpty):
            return []
        while not client.commands.empty():
            commands.append(client.commands.get_nowait())
        for command in commands:
            event = self._picked.get(command["id"])
            if event is not None:
                event.set()
        return commands

    def reply(self, client_id: str, msg_id: int, ok: bool, payload: Any) -> bool:
        future = self._replies.get(msg_id)
        client = self._clients.get(client_id)
        if future is None or client is None or msg_id not in client.pending:
            return False
        if not future.done():
            if ok:
                future.set_result(payload if isinstance(payload, dict) else {})
            else:
                future.set_exception(NotebookError(str(payload) or "the browser could not do it"))
        return True

    async def call(self, client: BrowserClient, command: dict[str, Any]) -> dict[str, Any]:
        """Send ``command`` to ``client`` and wait for its reply (as long as the browser stays)."""
        msg_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        picked = asyncio.Event()
        self._replies[msg_id] = future
        self._picked[msg_id] = picked
        client.pending.add(msg_id)
        client.commands.put_nowait({**command, "id": msg_id})
        try:
            try:
                await asyncio.wait_for(picked.wait(), timeout=PICKUP_S)
            except asyncio.TimeoutError:
                self._forget(client)
                raise BrowserGone from None
            while True:
                done, _ = await asyncio.wait({future}, timeout=GRACE_S)
                if done:
                    return future.result()
                if not client.alive():
                    self._forget(client)
        finally:
            client.pending.discard(msg_id)
            self._replies.pop(msg_id, None)
            self._picked.pop(msg_id, None)
