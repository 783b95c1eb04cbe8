"""The gateway forwards model API paths only: no trick in the request target reaches the upstream.

Requests go over a raw socket so that nothing (an HTTP client's URL
normalisation, its quoting) changes the request line between the test and
the gateway: these bytes are what a hostile local process could send.
"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from coda_jupyter.gateway import ModelGateway
from tests.fakes.model_upstream import FakeModelUpstream
from tests.gateway.test_server import LOCAL_KEY, GatewayFactory, fake, make_gateway

__all__ = ["fake", "make_gateway"]  # fixtures, imported so pytest finds them here

TOKEN_API = "api/2.0/token/create"


def _raw_request(port: int, target: str, method: str = "POST") -> tuple[int, bytes]:
    """Send ``target`` verbatim in the request line; the status code and body of the answer."""
    body = b'{"model": "m", "lifetime_seconds": 0}'
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {LOCAL_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), payload


TRICKS = {
    "dot-dot": f"/anthropic/../../{TOKEN_API}",
    "dot-dot-after-allowed": f"/anthropic/v1/messages/../../../{TOKEN_API}",
    "encoded-dots": f"/anthropic/%2e%2e/%2E%2E/{TOKEN_API}",
    "double-encoded-dots": f"/anthropic/%252e%252e/%252e%252e/{TOKEN_API}",
    "encoded-slash": f"/anthropic/..%2f..%2f{TOKEN_API.replace('/', '%2f')}",
    "encoded-question-mark": "/anthropic/v1/messages%3f/x",
    "encoded-hash": "/anthropic/v1/messages%23/../x",
    "semicolon": "/anthropic/v1/messages;jsessionid=x",
    "backslash": f"/anthropic/..\\..\\{TOKEN_API}",
    "double-slash": "/anthropic//v1/messages",
    "dot-model-name": "/gemini/v1beta/models/..:generateContent",
    "unlisted-path": f"/anthropic/{TOKEN_API}",
    "unlisted-on-openai": "/openai/files",
    "absolute-url": "http://127.0.0.1/anthropic/v1/messages",
    "absolute-url-to-workspace": f"https://adb-1.example.cloud.databricks.com/{TOKEN_API}",
    "hash-in-query": "/anthropic/v1/messages?beta=true#x",
}


@pytest.mark.asyncio
@pytest.mark.parametrize("target", TRICKS.values(), ids=TRICKS.keys())
async def test_path_tricks_are_refused_before_the_upstream(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, target: str
) -> None:
    gateway, _ = await make_gateway()

    status, payload = await asyncio.to_thread(_raw_request, gateway.port, target)

    assert [seen.path for seen in fake.requests] == []
    assert status == 400, payload
    assert "error" in json.loads(payload)


# (route, raw path and query the agent sends, path and query the upstream must see on the AI Gateway)
ALLOWED = [
    ("anthropic", "/v1/messages?beta=true", "/anthropic/v1/messages", "beta=true"),
    ("anthropic", "/v1/messages/count_tokens?beta=true", "/anthropic/v1/messages/count_tokens", "beta=true"),
    ("anthropic", "/v1/models?limit=1000", "/anthropic/v1/models", "limit=1000"),
    ("openai", "/responses", "/openai/v1/responses", ""),
    ("openai", "/models?client_version=0.50.0", "/openai/v1/models", "client_version=0.50.0"),
    ("mlflow", "/chat/completions", "/mlflow/v1/chat/completions", ""),
    ("mlflow", "/models/databricks-claude-sonnet-4-6", "/mlflow/v1/models/databricks-claude-sonnet-4-6", ""),
    ("mlflow-filtered", "/chat/completions?x=a%20b&y=1+2", "/mlflow/v1/chat/completions", "x=a%20b&y=1+2"),
    (
        "gemini",
        f"/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key={LOCAL_KEY}",
        "/gemini/v1beta/models/gemini-2.5-pro:streamGenerateContent",
        "alt=sse",
    ),
    ("gemini", "/v1beta/models/gemini-2.5-pro:countTokens", "/gemini/v1beta/models/gemini-2.5-pro:countTokens", ""),
    ("gemini", "/v1/models?pageSize=50", "/gemini/v1/models", "pageSize=50"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("route", "sent", "path", "query"), ALLOWED, ids=[f"{a[0]}{a[1]}" for a in ALLOWED])
async def test_listed_paths_reach_the_upstream_verbatim(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, route: str, sent: str, path: str, query: str
) -> None:
    gateway, _ = await make_gateway()

    status, payload = await asyncio.to_thread(_raw_request, gateway.port, f"/{route}{sent}")

    assert status != 400, payload
    assert [(seen.path, seen.query) for seen in fake.requests] == [(path, query)]


@pytest.mark.asyncio
async def test_refusals_are_counted_like_any_error(make_gateway: GatewayFactory, fake: FakeModelUpstream) -> None:
    gateway: ModelGateway
    gateway, _ = await make_gateway()

    await asyncio.to_thread(_raw_request, gateway.port, f"/anthropic/../../{TOKEN_API}")

    last = gateway.status()["last_error"]
    assert last["status"] == 400 and last["route"] == "anthropic"
    assert fake.requests == []


@pytest.mark.asyncio
async def test_unsupported_method_is_a_json_error(make_gateway: GatewayFactory, fake: FakeModelUpstream) -> None:
    gateway, _ = await make_gateway()

    status, payload = await asyncio.to_thread(_raw_request, gateway.port, "/anthropic/v1/messages", "OPTIONS")

    assert status == 405
    assert "error" in json.loads(payload)
    assert fake.requests == []
