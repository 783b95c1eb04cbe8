"""The gateway reuses its HTTPS connections to the upstream, within bounds, and recovers when they break.

The upstream is :class:`TLSFakeUpstream`: HTTPS with a CA trusted only
through the environment, counting the TCP connections it accepts, so every
claim about reuse is checked from the upstream's side.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import pytest_asyncio
from tornado.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse
from tornado.simple_httpclient import HTTPStreamClosedError

from coda_jupyter.gateway import ModelGateway, Route, upstream_base
from tests.gateway.raw_client import read_stream_start_then_hang_up
from tests.gateway.tls_upstream import Certificates, TLSFakeUpstream, make_certificates

LOCAL_KEY = "local-key-for-keepalive-tests"
TOKEN = "dapi-keepalive-0123456789"
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
STREAM = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


async def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    """Poll on the loop (the gateway and the fake run on it) until ``condition`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path / "pki")


@pytest.fixture
def trust_ca(certificates: Certificates, monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], None]:
    """Trust the test CA through one environment variable (or none), as the deployment would."""

    def trust(variable: str | None) -> None:
        for name in CA_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        if variable is not None:
            monkeypatch.setenv(variable, str(certificates.ca))

    trust("SSL_CERT_FILE")
    return trust


PATHS = {"anthropic": "/v1/messages", "openai": "/chat/completions", "mlflow-filtered": "/chat/completions"}
Post = Callable[..., Awaitable[HTTPResponse]]


class Rig(NamedTuple):
    upstream: TLSFakeUpstream
    gateway: ModelGateway
    post: Post  # post(route, body, **fetch options): a chat request through the gateway


RigFactory = Callable[..., Awaitable[Rig]]


@pytest_asyncio.fixture
async def make_rig(certificates: Certificates, trust_ca: Callable[[str | None], None]) -> AsyncIterator[RigFactory]:
    """Start a fake upstream and a gateway in front of it; options go to the upstream or the gateway."""
    started: list[tuple[TLSFakeUpstream, ModelGateway]] = []
    client = AsyncHTTPClient(force_instance=True, max_clients=64)

    async def make(upstream_options: dict[str, Any] | None = None, **gateway_options: Any) -> Rig:
        upstream = TLSFakeUpstream(certificates, **(upstream_options or {}))
        await upstream.start()

        def base(route: Route) -> str | None:
            return upstream_base(route, gateway=upstream.url, host=None)

        gateway = ModelGateway(upstream=base, token=lambda: TOKEN, local_key=LOCAL_KEY, **gateway_options)
        await gateway.start()
        started.append((upstream, gateway))

        async def post(route: str, body: Any, **kwargs: Any) -> HTTPResponse:
            request = HTTPRequest(
                gateway.url(route) + PATHS[route],
                method="POST",
                body=json.dumps(body),
                headers={"Authorization": f"Bearer {LOCAL_KEY}", "Content-Type": "application/json"},
                request_timeout=30,
                **kwargs,
            )
            return await client.fetch(request, raise_error=False)

        return Rig(upstream, gateway, post)

    yield make
    client.close()
    for upstream, gateway in reversed(started):
        await gateway.stop()
        await upstream.stop()


@pytest.mark.asyncio
async def test_sequential_requests_share_one_tls_connection(
    make_rig: RigFactory,
) -> None:
    upstream, gateway, post = await make_rig()

    codes = []
    for route, body in [
        ("anthropic", CHAT),
        ("openai", CHAT),
        ("openai", STREAM),
        ("anthropic", STREAM),
        ("mlflow-filtered", CHAT),
        ("mlflow-filtered", STREAM),
    ]:
        response = await post(route, body)
        codes.append(response.code)

    assert codes == [200] * 6
    assert len(upstream.requests) == 6
    assert upstream.connections_opened == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
async def test_the_upstream_ca_is_trusted_through_the_environment(
    trust_ca: Callable[[str | None], None],
    make_rig: RigFactory,
    variable: str,
) -> None:
    # Set after tornado and ssl were imported, as in a server whose
    # environment the platform wrote before starting it.
    trust_ca(variable)
    upstream, gateway, post = await make_rig()

    response = await post("anthropic", CHAT)

    assert response.code == 200, response.body


@pytest.mark.asyncio
async def test_an_untrusted_upstream_certificate_is_refused(
    trust_ca: Callable[[str | None], None],
    make_rig: RigFactory,
) -> None:
    trust_ca(None)
    upstream, gateway, post = await make_rig()

    response = await post("anthropic", CHAT)

    assert response.code == 502
    assert "certificate" in json.loads(response.body)["error"].lower()
    assert upstream.requests == []


@pytest.mark.asyncio
async def test_the_pool_bounds_connections_under_concurrency(
    make_rig: RigFactory,
) -> None:
    upstream, gateway, post = await make_rig(pool_size=2, max_connections=3)
    upstream.hold()

    pending = [asyncio.ensure_future(post("openai", STREAM)) for _ in range(7)]
    await wait_until(lambda: len(upstream.requests) == 3, timeout=10)
    await asyncio.sleep(0.3)  # the other four stay queued in the gateway meanwhile
    held = (len(upstream.requests), upstream.connections_open)
    upstream.release()
    responses = await asyncio.gather(*pending)

    assert held == (3, 3)
    assert [response.code for response in responses] == [200] * 7
    assert upstream.connections_opened == 3
    # Idle, the gateway keeps pool_size connections and closes the rest.
    await wait_until(lambda: upstream.connections_open == 2, timeout=10)
    for _ in range(3):
        assert (await post("openai", CHAT)).code == 200
    assert upstream.connections_opened == 3


@pytest.mark.asyncio
async def test_connections_the_upstream_closed_while_idle_are_replaced(
    make_rig: RigFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream, gateway, post = await make_rig(upstream_options={"idle_timeout": 0.3})

    first = await post("anthropic", CHAT)
    await wait_until(lambda: upstream.connections_open == 0, timeout=10)
    second = await post("anthropic", CHAT)

    assert (first.code, second.code) == (200, 200)
    assert upstream.connections_opened == 2
    # Seen closed before use, not found out by sending on it.
    assert "sending on a new one" not in caplog.text


@pytest.mark.asyncio
async def test_idle_connections_expire(
    make_rig: RigFactory,
) -> None:
    upstream, gateway, post = await make_rig(pool_idle_expiry=0.3)

    first = await post("anthropic", CHAT)
    # The fake never closes idle connections itself: this is the gateway letting go.
    await wait_until(lambda: upstream.connections_open == 0, timeout=10)
    second = await post("anthropic", CHAT)

    assert (first.code, second.code) == (200, 200)
    assert upstream.connections_opened == 2


@pytest.mark.asyncio
async def test_a_reused_connection_closed_before_any_response_byte_is_retried_once_on_a_new_one(
    make_rig: RigFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream, gateway, post = await make_rig()
    assert (await post("anthropic", CHAT)).code == 200
    upstream.drop_next = 1

    response = await post("anthropic", STREAM)

    assert response.code == 200, response.body
    assert b"message_stop" in response.body
    assert upstream.dropped == 1
    assert upstream.connections_opened == 2
    assert gateway.status()["errors"] == 0
    assert "sending on a new one" in caplog.text
    assert TOKEN not in caplog.text and LOCAL_KEY not in caplog.text


@pytest.mark.asyncio
async def test_a_new_connection_closed_before_any_response_byte_is_not_retried(
    make_rig: RigFactory,
) -> None:
    upstream, gateway, post = await make_rig()
    upstream.drop_next = 1

    response = await post("anthropic", CHAT)

    assert response.code == 502
    assert "unreachable" in json.loads(response.body)["error"]
    assert upstream.dropped == 1
    assert upstream.connections_opened == 1


@pytest.mark.asyncio
async def test_a_retry_happens_at_most_once(
    make_rig: RigFactory,
) -> None:
    upstream, gateway, post = await make_rig()
    assert (await post("anthropic", CHAT)).code == 200
    upstream.drop_next = 5

    response = await post("anthropic", CHAT)

    assert response.code == 502
    assert upstream.dropped == 2


@pytest.mark.asyncio
async def test_an_upstream_that_dies_mid_response_cuts_the_client_off_and_is_not_retried(
    make_rig: RigFactory,
) -> None:
    upstream, gateway, post = await make_rig()
    assert (await post("openai", CHAT)).code == 200
    upstream.die_mid_response = True
    upstream.hold()
    chunks: list[bytes] = []
    pending = asyncio.ensure_future(post("openai", STREAM, streaming_callback=chunks.append))
    await wait_until(lambda: b"first" in b"".join(chunks), timeout=10)
    upstream.release()

    # A cut connection, not a clean end: the client must not take a truncated stream for a whole one.
    with pytest.raises(HTTPStreamClosedError):
        await asyncio.wait_for(pending, timeout=10)

    assert upstream.died == 1
    # The knob answers once; a resent request would have reached the ordinary handler.
    assert len(upstream.requests) == 1, "a request that got part of its answer must not be sent again"
    assert gateway.status()["last_error"]["status"] == 502
    after = await post("openai", CHAT)
    assert after.code == 200


@pytest.mark.asyncio
async def test_the_first_sse_event_arrives_while_the_upstream_still_streams(
    make_rig: RigFactory,
) -> None:
    upstream, gateway, post = await make_rig()
    upstream.hold()
    first_chunk: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def on_chunk(chunk: bytes) -> None:
        if not first_chunk.done():
            first_chunk.set_result(chunk)

    pending = asyncio.ensure_future(post("anthropic", STREAM, streaming_callback=on_chunk))
    chunk = await asyncio.wait_for(first_chunk, timeout=10)

    assert b"message_start" in chunk
    assert upstream.streams_finished == 0
    upstream.release()
    assert (await asyncio.wait_for(pending, timeout=10)).code == 200
    assert (await post("anthropic", STREAM)).code == 200
    assert upstream.connections_opened == 1


@pytest.mark.asyncio
async def test_a_client_hanging_up_mid_stream_closes_its_upstream_connection(
    make_rig: RigFactory,
) -> None:
    upstream, gateway, post = await make_rig()
    upstream.hold()

    received = await asyncio.to_thread(read_stream_start_then_hang_up, gateway.port, LOCAL_KEY, STREAM)
    # The upstream is still holding its stream: only the gateway can have closed the connection.
    await wait_until(lambda: upstream.connections_open == 0, timeout=10)
    upstream.release()

    assert received.startswith(b"HTTP/1.1 200")
    assert gateway.status()["last_error"]["message"] == "client disconnected"
    assert (await post("anthropic", CHAT)).code == 200
    assert upstream.connections_opened == 2
