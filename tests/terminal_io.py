"""Reading a Jupyter terminal over its websocket, as JupyterLab does."""

from __future__ import annotations

import asyncio
import json

from tornado.websocket import WebSocketClientConnection


async def read_until(ws: WebSocketClientConnection, until: str, send: str | None = None, timeout: float = 20) -> str:
    """Type ``send`` (if given), then read stdout until ``until`` appears; closes ``ws``.

    Returns everything read; fails with the collected output when the text does
    not appear in time or the terminal closes first.
    """
    try:
        if send is not None:
            await ws.write_message(json.dumps(["stdin", send]))
        collected = ""
        deadline = asyncio.get_running_loop().time() + timeout
        while until not in collected:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"{until!r} never appeared; terminal said: {collected!r}")
            try:
                message = await asyncio.wait_for(ws.read_message(), remaining)
            except asyncio.TimeoutError:
                continue
            if message is None:
                raise AssertionError(f"terminal closed before {until!r}; said: {collected!r}")
            kind, *payload = json.loads(message)
            if kind == "stdout":
                collected += payload[0]
        return collected
    finally:
        ws.close()
