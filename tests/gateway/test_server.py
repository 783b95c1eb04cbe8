"""The real gateway in front of the real fake upstream, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from tornado.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse
from tornado.simple_httpclient import HTTPStreamClosedError

from coda_jupyter.gateway import NO_CREDENTIALS, ModelGateway, Route, route_named, upstream_base
from tests.fakes.model_upstream import FakeModelUpstream
from tests.gateway.raw_client import read_stream_start_then_hang_up
from tests.trap import plant_trap

LOCAL_KEY = "local-key-for-tests"
FIRST_TOKEN = "dapi-first-0123456789"
SECOND_TOKEN = "dapi-second-9876543210"


@dataclass
class Wiring:
    """What discovery and the credential store would hand the gateway."""

    gateway_host: str | None
    workspace_host: str | None
    token: str | None = FIRST_TOKEN

    def upstream(self, route: Route) -> str | None:
        return upstream_base(route, gateway=self.gateway_host, host=self.workspace_host)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeModelUpstream]:
    upstream = FakeModelUpstream()
    await upstream.start()
    yield upstream
    await upstream.stop()


GatewayFactory = Callable[..., Any]


@pytest_asyncio.fixture
async def make_gateway(fake: FakeModelUpstream) -> AsyncIterator[GatewayFactory]:
    started: list[ModelGateway] = []

    async def make(wiring: Wiring | None = None, **options: Any) -> tuple[ModelGateway, Wiring]:
        wiring = wiring or Wiring(gateway_host=fake.url, workspace_host=None)
        gateway = ModelGateway(upstream=wiring.upstream, token=lambda: wiring.token, local_key=LOCAL_KEY, **options)
        await gateway.start()
        started.append(gateway)
        return gateway, wiring

    yield make
    for gateway in started:
        await gateway.stop()


@pytest_asyncio.fixture
async def client() -> AsyncIterator[AsyncHTTPClient]:
    http_client = AsyncHTTPClient(force_instance=True)
    yield http_client
    http_client.close()


async def send(
    client: AsyncHTTPClient,
    url: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    key: str | None = LOCAL_KEY,
    method: str = "POST",
    **kwargs: Any,
) -> HTTPResponse:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if key is not None:
        all_headers["Authorization"] = f"Bearer {key}"
    payload = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    request = HTTPRequest(url, method=method, body=payload, headers=all_headers, **kwargs)
    return await client.fetch(request, raise_error=False)


# One request per API family: (route, path after the route, body, path the upstream must see via the
# AI Gateway, path via serving endpoints).
FAMILIES = [
    (
        "anthropic",
        "/v1/messages",
        {"model": "databricks-claude-sonnet-4-6", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
        "/anthropic/v1/messages",
        "/serving-endpoints/anthropic/v1/messages",
    ),
    (
        "openai",
        "/chat/completions",
        {"model": "databricks-gpt-5-3-codex", "messages": [{"role": "user", "content": "hi"}]},
        "/openai/v1/chat/completions",
        "/serving-endpoints/chat/completions",
    ),
    (
        "openai",
        "/responses",
        {"model": "databricks-gpt-5-3-codex", "input": "hi"},
        "/openai/v1/responses",
        "/serving-endpoints/responses",
    ),
    (
        "gemini",
        "/v1beta/models/databricks-gemini-2-5-pro:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        "/gemini/v1beta/models/databricks-gemini-2-5-pro:generateContent",
        "/serving-endpoints/google/v1beta/models/databricks-gemini-2-5-pro:generateContent",
    ),
    (
        "mlflow",
        "/chat/completions",
        {"model": "databricks-claude-opus-4-7", "messages": [{"role": "user", "content": "hi"}]},
        "/mlflow/v1/chat/completions",
        "/serving-endpoints/chat/completions",
    ),
    (
        "mlflow-filtered",
        "/chat/completions",
        {"model": "databricks-claude-sonnet-4-6", "messages": [{"role": "user", "content": "hi"}]},
        "/mlflow/v1/chat/completions",
        "/serving-endpoints/chat/completions",
    ),
]
FAMILY_IDS = [f"{route}{rest.split(':')[-1].replace('/', '-')}" for route, rest, *_ in FAMILIES]


def answer_text(route_rest: str, payload: Any) -> str:
    if route_rest.endswith("/v1/messages"):
        return payload["content"][0]["text"]
    if route_rest.endswith("/chat/completions"):
        return payload["choices"][0]["message"]["content"]
    if route_rest.endswith("/responses"):
        return payload["output"][0]["content"][0]["text"]
    return payload["candidates"][0]["content"]["parts"][0]["text"]


@pytest.mark.asyncio
@pytest.mark.parametrize(("route", "rest", "body", "via_gateway", "via_serving"), FAMILIES, ids=FAMILY_IDS)
@pytest.mark.parametrize("discovery", ["ai-gateway", "serving-endpoints"])
async def test_json_round_trip_per_family(
    make_gateway: GatewayFactory,
    fake: FakeModelUpstream,
    client: AsyncHTTPClient,
    route: str,
    rest: str,
    body: dict[str, Any],
    via_gateway: str,
    via_serving: str,
    discovery: str,
) -> None:
    if discovery == "ai-gateway":
        wiring = Wiring(gateway_host=fake.url, workspace_host="https://ignored.example")
    else:
        wiring = Wiring(gateway_host=None, workspace_host=fake.url)
    gateway, _ = await make_gateway(wiring)

    response = await send(client, gateway.url(route) + rest, body)

    assert response.code == 200, response.body
    assert answer_text(rest, json.loads(response.body)) == fake.reply_text
    seen = fake.last
    assert seen.path == (via_gateway if discovery == "ai-gateway" else via_serving)
    assert seen.headers["Authorization"] == f"Bearer {FIRST_TOKEN}"
    if "model" in body:
        assert seen.json()["model"] == body["model"]
    assert gateway.status()["requests_served"] == 1


STREAMS = [
    ("anthropic", "/v1/messages", {"model": "m", "stream": True, "messages": []}, b"event: message_stop"),
    ("openai", "/chat/completions", {"model": "m", "stream": True, "messages": []}, b"data: [DONE]"),
    ("openai", "/responses", {"model": "m", "stream": True, "input": "hi"}, b"event: response.completed"),
    ("gemini", "/v1beta/models/m:streamGenerateContent?alt=sse", {"contents": []}, b'"finishReason": "STOP"'),
    ("mlflow-filtered", "/chat/completions", {"model": "m", "stream": True, "messages": []}, b"data: [DONE]"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("route", "rest", "body", "last_marker"), STREAMS, ids=[s[0] + s[1][:14] for s in STREAMS])
async def test_first_chunk_arrives_while_upstream_still_streams(
    make_gateway: GatewayFactory,
    fake: FakeModelUpstream,
    client: AsyncHTTPClient,
    route: str,
    rest: str,
    body: dict[str, Any],
    last_marker: bytes,
) -> None:
    gateway, _ = await make_gateway()
    fake.hold()
    chunks: list[bytes] = []
    first_chunk: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_chunk(chunk: bytes) -> None:
        chunks.append(chunk)
        if not first_chunk.done():
            first_chunk.set_result(None)

    pending = asyncio.ensure_future(send(client, gateway.url(route) + rest, body, streaming_callback=on_chunk))
    await asyncio.wait_for(first_chunk, timeout=10)

    assert fake.streams_finished == 0, "the fake was holding the stream open"
    assert not pending.done()
    assert last_marker not in b"".join(chunks)
    fake.release()
    response = await asyncio.wait_for(pending, timeout=10)

    streamed = b"".join(chunks)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert last_marker in streamed
    for word in ("Hello", "fake", "upstream."):
        assert word.encode() in streamed
    assert fake.streams_finished == 1


def _two_requests_on_one_connection(port: int, path: str, rotate: Callable[[], None]) -> list[int]:
    """Blocking keep-alive client, as a long-lived agent would hold one."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    codes = []
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    headers = {"Authorization": f"Bearer {LOCAL_KEY}", "Content-Type": "application/json"}
    try:
        for turn in range(2):
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            codes.append(response.status)
            if turn == 0:
                rotate()
        assert connection.sock is not None, "the connection was kept alive"
    finally:
        connection.close()
    return codes


@pytest.mark.asyncio
async def test_token_rotation_between_requests_on_one_connection(
    make_gateway: GatewayFactory, fake: FakeModelUpstream
) -> None:
    gateway, wiring = await make_gateway()

    def rotate() -> None:
        wiring.token = SECOND_TOKEN

    codes = await asyncio.to_thread(_two_requests_on_one_connection, gateway.port, "/mlflow/chat/completions", rotate)

    assert codes == [200, 200]
    assert [r.headers["Authorization"] for r in fake.requests] == [f"Bearer {FIRST_TOKEN}", f"Bearer {SECOND_TOKEN}"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"Authorization": f"Bearer {LOCAL_KEY}"}, ""),
        ({"x-api-key": LOCAL_KEY}, ""),
        ({"x-goog-api-key": LOCAL_KEY}, ""),
        ({}, f"&key={LOCAL_KEY}"),
    ],
    ids=["bearer", "x-api-key", "x-goog-api-key", "key-query"],
)
async def test_each_sdk_key_style_is_accepted_and_not_forwarded(
    make_gateway: GatewayFactory,
    fake: FakeModelUpstream,
    client: AsyncHTTPClient,
    headers: dict[str, str],
    query: str,
) -> None:
    gateway, _ = await make_gateway()
    url = gateway.url("gemini") + "/v1beta/models/m:streamGenerateContent?alt=sse" + query

    response = await send(client, url, {"contents": []}, headers=headers, key=None)

    assert response.code == 200, response.body
    seen = fake.last
    assert seen.query == "alt=sse"
    assert seen.headers["Authorization"] == f"Bearer {FIRST_TOKEN}"
    assert LOCAL_KEY not in json.dumps(dict(seen.headers.get_all()))


@pytest.mark.asyncio
@pytest.mark.parametrize("key", [None, "wrong-key"], ids=["missing", "wrong"])
async def test_without_the_local_key_the_answer_is_401(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, client: AsyncHTTPClient, key: str | None
) -> None:
    gateway, _ = await make_gateway()

    response = await send(client, gateway.url("anthropic") + "/v1/messages", {"model": "m"}, key=key)

    assert response.code == 401
    assert "error" in json.loads(response.body)
    assert fake.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize("token", [None, "", "  \n"], ids=["none", "empty", "blank"])
async def test_without_credentials_the_agent_is_told_to_paste_a_token(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, client: AsyncHTTPClient, token: str | None
) -> None:
    gateway, wiring = await make_gateway()
    wiring.token = token

    response = await send(client, gateway.url("anthropic") + "/v1/messages", {"model": "m"})

    assert response.code == 401
    assert json.loads(response.body) == {"error": NO_CREDENTIALS}
    assert fake.requests == []


@pytest.mark.asyncio
async def test_unknown_route_and_unconfigured_upstream(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, client: AsyncHTTPClient
) -> None:
    gateway, _ = await make_gateway(Wiring(gateway_host=None, workspace_host=None))

    unknown = await send(client, f"http://127.0.0.1:{gateway.port}/nope/v1/messages", {})
    unconfigured = await send(client, gateway.url("anthropic") + "/v1/messages", {})

    assert unknown.code == 404
    assert unconfigured.code == 503
    assert "anthropic" in json.loads(unconfigured.body)["error"]
    assert fake.requests == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.asyncio
async def test_unreachable_upstream_is_502(make_gateway: GatewayFactory, client: AsyncHTTPClient) -> None:
    gateway, _ = await make_gateway(Wiring(gateway_host=f"http://127.0.0.1:{_closed_port()}", workspace_host=None))

    response = await send(client, gateway.url("anthropic") + "/v1/messages", {"model": "m"})

    assert response.code == 502
    assert "unreachable" in json.loads(response.body)["error"]
    assert gateway.status()["last_error"]["status"] == 502


@pytest.mark.asyncio
async def test_silent_upstream_is_504(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, client: AsyncHTTPClient
) -> None:
    gateway, _ = await make_gateway(idle_timeout=0.3)
    fake.delay = 3

    response = await send(client, gateway.url("openai") + "/responses", {"model": "m", "input": "hi"})

    assert response.code == 504
    assert "timed out" in json.loads(response.body)["error"]


@pytest.mark.asyncio
async def test_upstream_that_stalls_mid_stream_is_cut_off(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, client: AsyncHTTPClient
) -> None:
    gateway, _ = await make_gateway(idle_timeout=0.5)
    fake.hold()
    chunks: list[bytes] = []

    # The client must see a cut connection, not a clean (and silently truncated) end.
    with pytest.raises(HTTPStreamClosedError):
        await send(
            client,
            gateway.url("anthropic") + "/v1/messages",
            {"model": "m", "stream": True},
            streaming_callback=chunks.append,
        )
    fake.release()

    assert b"message_start" in b"".join(chunks)
    assert gateway.status()["last_error"]["status"] == 504


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "content_type", "body", "extra"),
    [
        (
            429,
            "application/json",
            b'{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}',
            {"Retry-After": "7"},
        ),
        (500, "text/plain; charset=utf-8", b"upstream exploded", {}),
        (400, "application/json", b'{"type":"error","error":{"type":"invalid_request_error"}}', {}),
    ],
    ids=["429", "500", "400"],
)
async def test_upstream_errors_pass_through_unchanged(
    make_gateway: GatewayFactory,
    fake: FakeModelUpstream,
    client: AsyncHTTPClient,
    status: int,
    content_type: str,
    body: bytes,
    extra: dict[str, str],
) -> None:
    gateway, _ = await make_gateway()
    fake.enqueue(status, body, content_type, extra)

    response = await send(client, gateway.url("mlflow-filtered") + "/chat/completions", {"model": "m", "messages": []})

    assert response.code == status
    assert response.body == body
    assert response.headers["Content-Type"] == content_type
    for name, value in extra.items():
        assert response.headers[name] == value
    status_payload = gateway.status()
    assert status_payload["errors"] == 1
    assert status_payload["last_error"]["status"] == status


@pytest.mark.asyncio
async def test_body_limit(make_gateway: GatewayFactory, fake: FakeModelUpstream, client: AsyncHTTPClient) -> None:
    gateway, _ = await make_gateway(max_body_size=4096)
    url = gateway.url("anthropic") + "/v1/messages"

    fits = await send(client, url, {"model": "m", "pad": "x" * 3000})
    too_big = await send(client, url, {"model": "m", "pad": "x" * 5000})

    assert fits.code == 200
    assert too_big.code == 413
    assert "4096" in json.loads(too_big.body)["error"]
    assert len(fake.requests) == 1


def _announce_body(port: int, length: int) -> tuple[int, bytes]:
    """Send only the headers of a request announcing ``length`` bytes; the answer the gateway gives."""
    head = (
        "POST /mlflow-filtered/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {LOCAL_KEY}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.mark.asyncio
async def test_default_body_limit_is_32_mib(make_gateway: GatewayFactory, fake: FakeModelUpstream) -> None:
    gateway, _ = await make_gateway()

    status, body = await asyncio.to_thread(_announce_body, gateway.port, 32 * 1024 * 1024 + 1)

    assert status == 413
    assert "33554432" in json.loads(body)["error"]
    assert fake.requests == []


def _chunked_upload(port: int, size: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        pieces = (b"x" * 1024 for _ in range(size // 1024))
        # The gateway may answer 413 and close while we are still sending;
        # its answer is still waiting to be read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request(
                "POST",
                "/anthropic/v1/messages",
                body=pieces,
                headers={"Authorization": f"Bearer {LOCAL_KEY}"},
                encode_chunked=True,
            )
        return connection.getresponse().status
    except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
        return -1
    finally:
        connection.close()


@pytest.mark.asyncio
async def test_body_limit_applies_to_chunked_uploads(make_gateway: GatewayFactory, fake: FakeModelUpstream) -> None:
    gateway, _ = await make_gateway(max_body_size=4096)

    status = await asyncio.to_thread(_chunked_upload, gateway.port, 8192)

    assert status == 413
    assert fake.requests == []


@pytest.mark.asyncio
async def test_hop_by_hop_and_client_auth_headers_stay_behind(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, client: AsyncHTTPClient
) -> None:
    gateway, _ = await make_gateway()
    headers = {
        "x-api-key": LOCAL_KEY,
        "x-goog-api-key": LOCAL_KEY,
        "Cookie": "_xsrf=jupyter-session",
        "Proxy-Authorization": "Basic c2VjcmV0",
        "TE": "trailers",
        "Upgrade": "h2c",
        "Connection": "keep-alive, X-Drop-Me",
        "X-Drop-Me": "listed in Connection",
        "anthropic-version": "2023-06-01",
        "x-databricks-use-coding-agent-mode": "true",
    }

    response = await send(client, gateway.url("anthropic") + "/v1/messages", {"model": "m"}, headers=headers)

    assert response.code == 200
    seen = fake.last.headers
    for name in ("x-api-key", "x-goog-api-key", "Cookie", "Proxy-Authorization", "TE", "Upgrade", "X-Drop-Me"):
        assert name not in seen, name
    assert seen.get_list("Authorization") == [f"Bearer {FIRST_TOKEN}"]
    assert seen["anthropic-version"] == "2023-06-01"
    assert seen["x-databricks-use-coding-agent-mode"] == "true"
    assert "Set-Cookie" not in response.headers


@pytest.mark.asyncio
async def test_status_reports_routes_and_counters_without_secrets(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, client: AsyncHTTPClient
) -> None:
    gateway, _ = await make_gateway()
    await send(client, gateway.url("anthropic") + "/v1/messages", {"model": "m"})
    fake.enqueue(429, b'{"message":"later"}')
    await send(client, gateway.url("openai") + "/responses", {"model": "m"})

    status = gateway.status()

    routes = {route["name"]: route for route in status["routes"]}
    assert routes["anthropic"]["upstream"] == fake.url + "/anthropic"
    assert routes["openai"]["upstream"] == fake.url + "/openai/v1"
    assert routes["mlflow-filtered"]["content_filter"] is True
    assert routes["mlflow"]["content_filter"] is False
    assert routes["gemini"]["url"] == f"http://127.0.0.1:{gateway.port}/gemini"
    assert status["requests_served"] == 2
    assert status["errors"] == 1
    assert status["last_error"]["route"] == "openai"
    rendered = json.dumps(status)
    assert FIRST_TOKEN not in rendered
    assert LOCAL_KEY not in rendered


MESSY_OPENCODE_REQUEST = {
    "model": "databricks-claude-sonnet-4-6",
    "stream_options": {"include_usage": True},
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "fix it"}]},
        {"role": "assistant", "content": ""},
        {"role": "tool", "tool_call_id": "call_gone", "content": "stale"},
        {"role": "user", "content": "go on"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "read",
                "parameters": {
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"path": {"type": "string"}},
                },
            },
        }
    ],
}


@pytest.mark.asyncio
async def test_filtered_route_repairs_the_request(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, client: AsyncHTTPClient
) -> None:
    gateway, _ = await make_gateway()

    response = await send(client, gateway.url("mlflow-filtered") + "/chat/completions", MESSY_OPENCODE_REQUEST)

    assert response.code == 200
    forwarded = fake.last.json()
    assert forwarded["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "fix it"}]},
        {"role": "assistant", "content": "."},
        {"role": "user", "content": "go on"},
    ]
    assert "stream_options" not in forwarded
    assert forwarded["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {"path": {"type": "string"}},
    }


WRAPPED_JSON_COMPLETION = {
    "id": "c",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "databricks-tool-call", "arguments": '{"name":"bash","command":"ls"}'},
                    }
                ],
            },
        }
    ],
}


@pytest.mark.asyncio
async def test_bodies_over_the_inline_limit_are_repaired_by_the_worker_process(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, client: AsyncHTTPClient
) -> None:
    gateway, _ = await make_gateway(inline_filter_limit=0)
    fake.enqueue(200, WRAPPED_JSON_COMPLETION, "application/json")

    response = await send(client, gateway.url("mlflow-filtered") + "/chat/completions", MESSY_OPENCODE_REQUEST)

    assert response.code == 200
    assert fake.last.json()["messages"][1] == {"role": "assistant", "content": "."}
    assert "stream_options" not in fake.last.json()
    assert int(fake.last.headers["Content-Length"]) == len(fake.last.body)
    choice = json.loads(response.body)["choices"][0]
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "bash", "arguments": '{"command":"ls"}'}


@pytest.mark.asyncio
async def test_the_worker_process_runs_none_of_the_code_in_the_servers_folder(
    make_gateway: GatewayFactory,
    fake: FakeModelUpstream,
    client: AsyncHTTPClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server's folder is the user's notebook root; a repository there may
    # carry a coda_jupyter/ folder of its own.
    fired = plant_trap(tmp_path / "notebooks")
    monkeypatch.chdir(tmp_path / "notebooks")
    gateway, _ = await make_gateway(inline_filter_limit=0)
    fake.enqueue(200, WRAPPED_JSON_COMPLETION, "application/json")

    response = await send(client, gateway.url("mlflow-filtered") + "/chat/completions", MESSY_OPENCODE_REQUEST)

    assert response.code == 200
    assert not fired.exists(), "the filter worker imported the folder's coda_jupyter"


@pytest.mark.asyncio
async def test_unfiltered_route_forwards_the_body_byte_for_byte(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, client: AsyncHTTPClient
) -> None:
    gateway, _ = await make_gateway()
    body = json.dumps(MESSY_OPENCODE_REQUEST, indent=1).encode()

    response = await client.fetch(
        HTTPRequest(
            gateway.url("mlflow") + "/chat/completions",
            method="POST",
            body=body,
            headers={"Authorization": f"Bearer {LOCAL_KEY}", "Content-Type": "application/json"},
        ),
        raise_error=False,
    )

    assert response.code == 200
    assert fake.last.body == body


WRAPPED_CALL_STREAM = [
    b'data: {"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":"Let me look."},"finish_reason":null}]}\n\n',
    b'data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function",'
    b'"function":{"name":"databricks-tool-call","arguments":""}}]},"finish_reason":null}]}\n\n',
    b'data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"name\\": \\"re"}}]},'
    b'"finish_reason":null}]}\n\n',
    b'data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ad\\", \\"path\\": \\"a.py\\"}"}}]},'
    b'"finish_reason":null}]}\n\n',
    b'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
    b"data: [DONE]\n\n",
]


def _sse_events(raw: bytes) -> list[Any]:
    events = []
    for block in raw.split(b"\n\n"):
        if block.startswith(b"data: "):
            payload = block[6:]
            events.append(payload.decode() if payload == b"[DONE]" else json.loads(payload))
    return events


@pytest.mark.asyncio
async def test_filtered_route_repairs_a_streamed_tool_call(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, client: AsyncHTTPClient
) -> None:
    gateway, _ = await make_gateway()
    fake.enqueue(200, WRAPPED_CALL_STREAM, "text/event-stream")

    response = await send(client, gateway.url("mlflow-filtered") + "/chat/completions", {"model": "m", "stream": True})

    assert response.code == 200
    events = _sse_events(response.body)
    assert events[-1] == "[DONE]"
    calls = [c for e in events[:-1] for c in e["choices"][0]["delta"].get("tool_calls", [])]
    assert [c["function"].get("name") for c in calls if "name" in c["function"]] == ["read"]
    arguments = "".join(c["function"].get("arguments", "") for c in calls)
    assert json.loads(arguments) == {"path": "a.py"}
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert events[0]["choices"][0]["delta"]["content"] == "Let me look."


@pytest.mark.asyncio
async def test_filtered_route_repairs_a_json_tool_call(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, client: AsyncHTTPClient
) -> None:
    gateway, _ = await make_gateway()
    fake.enqueue(200, WRAPPED_JSON_COMPLETION, "application/json")

    response = await send(client, gateway.url("mlflow-filtered") + "/chat/completions", {"model": "m"})

    choice = json.loads(response.body)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "bash", "arguments": '{"command":"ls"}'}
    assert int(response.headers["Content-Length"]) == len(response.body)


@pytest.mark.asyncio
async def test_stop_closes_the_port(make_gateway: GatewayFactory, client: AsyncHTTPClient) -> None:
    gateway, _ = await make_gateway()
    port = gateway.port
    await gateway.stop()

    assert gateway.port is None
    assert gateway.status()["running"] is False
    with pytest.raises(ConnectionRefusedError):
        await send(client, f"http://127.0.0.1:{port}/anthropic/v1/messages", {})


@pytest.mark.asyncio
async def test_client_hanging_up_mid_stream_is_recorded_and_harmless(
    make_gateway: GatewayFactory, fake: FakeModelUpstream, client: AsyncHTTPClient
) -> None:
    gateway, _ = await make_gateway()
    fake.hold()

    received = await asyncio.to_thread(
        read_stream_start_then_hang_up, gateway.port, LOCAL_KEY, {"model": "m", "stream": True}
    )
    for _ in range(100):
        if gateway.status()["last_error"]:
            break
        await asyncio.sleep(0.02)
    fake.release()

    assert received.startswith(b"HTTP/1.1 200")
    assert gateway.status()["last_error"]["message"] == "client disconnected"
    after = await send(client, gateway.url("anthropic") + "/v1/messages", {"model": "m"})
    assert after.code == 200


def test_upstream_base_normalises_hosts_and_prefers_the_ai_gateway() -> None:
    anthropic = route_named("anthropic")
    gemini = route_named("gemini")
    assert anthropic is not None and gemini is not None

    assert upstream_base(anthropic, gateway="123.ai-gateway.example/", host="w.example") == (
        "https://123.ai-gateway.example/anthropic"
    )
    assert upstream_base(gemini, gateway=None, host=" w.example/ \n") == "https://w.example/serving-endpoints/google"
    assert upstream_base(gemini, gateway="", host=None) is None
    assert route_named("no-such-route") is None
