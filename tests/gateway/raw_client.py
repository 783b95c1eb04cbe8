"""A client that speaks HTTP over a bare socket, for what tornado's client cannot do (hang up mid-stream)."""

from __future__ import annotations

import json
import socket
from typing import Any


def read_stream_start_then_hang_up(port: int, key: str, payload: dict[str, Any]) -> bytes:
    """POST a streamed Anthropic request to the gateway, read until ``message_start``, then close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        body = json.dumps(payload).encode()
        head = (
            "POST /anthropic/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        received = b""
        while b"message_start" not in received:
            received += sock.recv(65536)
        return received
