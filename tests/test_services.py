"""The services: each owns its configuration, all start in one place and stop in reverse."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from coda_jupyter.util.lifecycle import Lifecycle

from .terminals.conftest import coda_app

STARTED_IN_ORDER = [
    "notebook tools",
    "uploads",
    "model gateway",
    "terminal culler",
    "agent activity reporting",
    "setup engine",
    "background tasks",
    "Databricks credentials",
]


async def test_services_start_in_order_and_stop_in_reverse_even_past_a_failure() -> None:
    calls: list[str] = []
    lifecycle = Lifecycle(logging.getLogger("test"))

    def record(call: str) -> Any:
        def step() -> None:
            calls.append(call)
            if call == "start b":
                raise RuntimeError("b is broken on purpose")

        return step

    async def stop_c() -> None:
        calls.append("stop c")

    lifecycle.add("a", record("start a"), record("stop a"))
    lifecycle.add("b", record("start b"), record("stop b"))
    lifecycle.add("c", stop=stop_c)
    await lifecycle.start()
    await lifecycle.stop()
    assert calls == ["start a", "start b", "stop c", "stop b", "stop a"]


async def test_the_server_adds_its_services_in_dependency_order(jp_serverapp: Any) -> None:
    assert coda_app(jp_serverapp).services.lifecycle.names() == STARTED_IN_ORDER


async def test_stopping_the_extension_stops_every_service(jp_serverapp: Any, jp_fetch: Any) -> None:
    app = coda_app(jp_serverapp)
    deadline = time.monotonic() + 20
    while not (await _get(jp_fetch, "gateway"))["running"]:
        assert time.monotonic() < deadline, "the gateway never started"
        await asyncio.sleep(0.05)
    await app.stop_extension()
    assert (await _get(jp_fetch, "gateway"))["running"] is False
    assert app.services.uploads._sweeper is None


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    return {
        **jp_server_config,
        "CredentialManager": {"host": "https://adb-123.4.azuredatabricks.net", "local_profile": ""},
        "GatewayService": {"max_body_size": 4096},
        "AgentTerminals": {"extra_path": [str(tmp_path / "extra-bin")]},
        "SetupService": {**jp_server_config["SetupService"], "max_parallel": 1},
    }


async def test_each_service_takes_its_own_configuration(jp_serverapp: Any, jp_fetch: Any, tmp_path: Path) -> None:
    services = jp_serverapp.web_app.settings["coda_services"]
    assert (await _get(jp_fetch, "credentials"))["host"] == "https://adb-123.4.azuredatabricks.net"
    assert services.gateway.gateway.max_body_size == 4096
    assert services.terminals.path().split(":")[1] == str(tmp_path / "extra-bin")
    assert services.setup.max_parallel == 1


async def _get(jp_fetch: Any, name: str) -> Any:
    return json.loads((await jp_fetch("coda", "api", name)).body)
