"""Admission of new agents: a session cap (429) and a memory floor (503), for terminals and tasks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from ..mcp.conftest import call
from .conftest import coda_app, server_config


@pytest.fixture
def jp_server_config(jp_server_config: Any) -> dict[str, Any]:
    config = server_config(max_concurrent=4)
    config["AgentAdmission"] = {"max_sessions": 2, "min_free_memory_mib": 1024}
    return config


class FixedMemory:
    """Stands in for the memory reader: always reports ``mib`` MiB available."""

    def __init__(self, mib: float | None):
        self.mib = mib

    def available_mib(self) -> float | None:
        return self.mib


@pytest.fixture(autouse=True)
def _plenty_of_memory(jp_serverapp: Any) -> None:
    # The cap tests must not depend on how much memory the test machine has free.
    coda_app(jp_serverapp).services.admission.memory = FixedMemory(8192)


async def _open(jp_fetch: Any, agent: str = "stubby") -> str:
    response = await jp_fetch("coda", "api", "agents", agent, "terminals", method="POST", body="{}")
    name: str = json.loads(response.body)["name"]
    return name


async def _refused(jp_fetch: Any, agent: str = "stubby") -> tuple[int, dict[str, Any]]:
    with pytest.raises(HTTPClientError) as caught:
        await _open(jp_fetch, agent)
    response = caught.value.response
    assert response is not None
    assert response.headers["Content-Type"].startswith("application/json")
    return caught.value.code, json.loads(response.body)


async def _until_gone(jp_fetch: Any, name: str) -> None:
    for _ in range(100):
        running = json.loads((await jp_fetch("api", "terminals")).body)
        if name not in [terminal["name"] for terminal in running]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"terminal {name} is still running")


async def test_third_agent_terminal_is_refused_until_one_is_shut_down(jp_fetch: Any, stub_agent: Any) -> None:
    first = await _open(jp_fetch)
    second = await _open(jp_fetch, "claude")  # not installed: still an agent session
    status, body = await _refused(jp_fetch)
    assert status == 429
    message = body["message"]
    assert "2 agent sessions are running" in message
    assert "at most 2" in message
    assert first in message and second in message
    assert "Running Terminals and Kernels" in message

    # A plain terminal is no agent session and is never refused.
    plain = json.loads((await jp_fetch("api", "terminals", method="POST", body="{}")).body)["name"]

    response = await jp_fetch("api", "terminals", first, method="DELETE")
    assert response.code == 204
    await _until_gone(jp_fetch, first)
    third = await _open(jp_fetch)
    assert third in [terminal["name"] for terminal in json.loads((await jp_fetch("api", "terminals")).body)]
    for name in (second, third, plain):
        await jp_fetch("api", "terminals", name, method="DELETE")


async def test_running_tasks_count_toward_the_cap(jp_fetch: Any, mcp_session: Any) -> None:
    async with mcp_session() as session:
        task = await call(session, "coda_run", prompt="MODE:SLEEP")
        terminal = await _open(jp_fetch)
        status, body = await _refused(jp_fetch)
        assert status == 429
        assert "1 background task" in body["message"]

        refused = await call(session, "coda_run", prompt="MODE:SLEEP")
        assert "2 agent sessions are running" in refused["error"]
        assert "coda_cancel" in refused["error"]

        await call(session, "coda_cancel", task_id=task["task_id"])
        for _ in range(100):
            detail = await call(session, "coda_get_result", task_id=task["task_id"])
            if detail["status"] != "running":
                break
            await asyncio.sleep(0.1)
        again = await _open(jp_fetch)
    for name in (terminal, again):
        await jp_fetch("api", "terminals", name, method="DELETE")


async def test_low_memory_refuses_new_agents_with_503(jp_fetch: Any, jp_serverapp: Any, mcp_session: Any) -> None:
    admission = coda_app(jp_serverapp).services.admission
    admission.memory = FixedMemory(300)
    status, body = await _refused(jp_fetch)
    assert status == 503
    assert "300 MiB" in body["message"]
    assert "1024 MiB" in body["message"]
    async with mcp_session() as session:
        refused = await call(session, "coda_run", prompt="MODE:SLEEP")
        assert "300 MiB" in refused["error"]

    # Unknown (no readable source): the floor cannot be judged, so it does not refuse.
    admission.memory = FixedMemory(None)
    name = await _open(jp_fetch)
    admission.memory = FixedMemory(2048)
    other = await _open(jp_fetch)
    for terminal in (name, other):
        await jp_fetch("api", "terminals", terminal, method="DELETE")


async def test_bad_input_is_still_judged_before_admission(jp_fetch: Any, jp_serverapp: Any) -> None:
    coda_app(jp_serverapp).services.admission.memory = FixedMemory(1)
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("coda", "api", "agents", "nope", "terminals", method="POST", body="{}")
    assert caught.value.code == 404
