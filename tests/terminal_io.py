"""Reading a Jupyter terminal over its websocket, as JupyterLab does."""

from __future__ import annotations

import asyncio
import json
import time

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect


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


async def websocket_text(
    url: str, headers: dict[str, str], send: list[str], until: str | None, timeout: float
) -> tuple[int, str]:
    """Open ``url``, send ``send``, read until ``until`` is in the text: (101, text), or (refusal status, "").

    Terminal frames contribute their text (output may be split across frames
    at any byte); any other message is kept as it came.
    """
    try:
        connection = await websocket_connect(HTTPRequest(url, headers=headers, request_timeout=30))
    except HTTPClientError as err:
        return err.code, ""
    collected = ""
    try:
        for message in send:
            await connection.write_message(message)
        deadline = time.monotonic() + timeout
        while until is not None and until not in collected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{until!r} never arrived over {url}; got {collected[-2000:]!r}")
            try:
                message = await asyncio.wait_for(connection.read_message(), remaining)
            except asyncio.TimeoutError:
                continue
            if message is None:
                raise AssertionError(f"{url} closed before {until!r}; got {collected[-2000:]!r}")
            collected += _readable(message)
    finally:
        connection.close()
    return 101, collected


def _readable(message: str | bytes) -> str:
    text = message if isinstance(message, str) else message.decode("utf-8", errors="replace")
    try:
        frame = json.loads(text)
    except ValueError:
        return text
    if isinstance(frame, list) and len(frame) == 2 and frame[0] == "stdout":
        return str(frame[1])
    return text


def terminal_input(command: str) -> str:
    """The websocket frame that types ``command`` and Enter."""
    return json.dumps(["stdin", command + "\r"])
