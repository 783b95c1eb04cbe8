"""AI Gateway discovery: trusted env, a real HTTP probe, and the serving-endpoints fallback."""

from __future__ import annotations

import socket
import time

import pytest

from coda_jupyter.auth.gateway_discovery import Gateway, GatewayResolver
from tests.fakes.workspace import FakeWorkspace

HOST = "adb-123.cloud.databricks.com"


def _probe_template(workspace: FakeWorkspace) -> str:
    # The fake answers any path (401 without a token): "some HTTP answer" is all a probe needs.
    return workspace.host + "/gateway-{workspace_id}/"


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/" + "{workspace_id}"


async def test_trusted_gateway_host_is_normalised_and_not_probed(workspace: FakeWorkspace) -> None:
    env = {"DATABRICKS_GATEWAY_HOST": " my-gateway.example.com/ ", "DATABRICKS_WORKSPACE_ID": "42"}
    resolver = GatewayResolver(env, url_template=_probe_template(workspace))
    gateway = await resolver.resolve(HOST)
    assert gateway == Gateway("ai-gateway", "https://my-gateway.example.com", "env")
    assert workspace.requests == []


async def test_workspace_id_probe_finds_the_gateway_once(workspace: FakeWorkspace) -> None:
    resolver = GatewayResolver({"DATABRICKS_WORKSPACE_ID": " 42 "}, url_template=_probe_template(workspace))
    gateway = await resolver.resolve(HOST)
    assert gateway == Gateway("ai-gateway", workspace.host + "/gateway-42", "probe")
    assert [r.path for r in workspace.requests] == ["/gateway-42"]

    assert await resolver.resolve(HOST + "/") is gateway
    assert len(workspace.requests) == 1, "resolved once, then cached"


async def test_unreachable_gateway_falls_back_to_serving_endpoints() -> None:
    resolver = GatewayResolver({"DATABRICKS_WORKSPACE_ID": "42"}, url_template=_closed_port_url())
    gateway = await resolver.resolve(HOST)
    assert gateway == Gateway("serving-endpoints", f"https://{HOST}/serving-endpoints", "fallback")


async def test_slow_gateway_counts_as_absent(workspace: FakeWorkspace) -> None:
    workspace.slow_next("/gateway-42", seconds=5.0)
    resolver = GatewayResolver(
        {"DATABRICKS_WORKSPACE_ID": "42"}, url_template=_probe_template(workspace), probe_timeout=0.5
    )
    started = time.monotonic()
    gateway = await resolver.resolve(HOST)
    assert gateway.kind == "serving-endpoints"
    assert time.monotonic() - started < 4.0, "the probe timeout bounds the wait, not the slow server"


async def test_no_workspace_id_means_fallback_without_probe() -> None:
    gateway = await GatewayResolver({}).resolve("http://127.0.0.1:9/")
    assert gateway == Gateway("serving-endpoints", "http://127.0.0.1:9/serving-endpoints", "fallback")


async def test_a_host_is_required() -> None:
    with pytest.raises(ValueError):
        await GatewayResolver({}).resolve("")
