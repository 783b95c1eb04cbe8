"""Idle agent terminals are warned, then closed; active ones and background tasks are left alone.

Timeouts are a few seconds here so the tests finish; nothing asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from ..mcp.conftest import call
from .conftest import coda_app, idler_and_ticker_config, open_agent

IDLE_TIMEOUT = 5
WARNING_BEFORE = 3
WARNING = "closed in"


@pytest.fixture
def jp_server_config(jp_server_config: Any) -> dict[str, Any]:
    config = idler_and_ticker_config(max_concurrent=4)
    config["TerminalCuller"] = {
        "idle_timeout": IDLE_TIMEOUT,
        "warning_before": WARNING_BEFORE,
        "check_interval": 0.5,
    }
    return config


async def _running(jp_fetch: Any) -> list[str]:
    return [terminal["name"] for terminal in json.loads((await jp_fetch("api", "terminals")).body)]


async def _read_until_closed(ws: Any, timeout: float = 60) -> str:
    """Everything the terminal says until the server closes it."""
    collected = ""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        message = await asyncio.wait_for(ws.read_message(), deadline - loop.time())
        if message is None:
            return collected
        kind, *payload = json.loads(message)
        if kind == "stdout":
            collected += payload[0]
    raise AssertionError(f"the terminal was never closed; it said: {collected!r}")


async def test_an_idle_agent_terminal_is_warned_then_closed(jp_fetch: Any, jp_ws_fetch: Any, agents: None) -> None:
    name = await open_agent(jp_fetch, "idler")
    ws = await jp_ws_fetch("terminals", "websocket", name)
    said = await _read_until_closed(ws)
    assert "idler ready" in said
    warning = said[said.index("idler ready") :]
    assert WARNING in warning, said
    assert "idle" in warning
    assert name not in await _running(jp_fetch)


async def test_typing_after_the_warning_keeps_the_terminal_for_a_new_idle_period(
    jp_fetch: Any, jp_ws_fetch: Any, agents: None
) -> None:
    name = await open_agent(jp_fetch, "idler")
    ws = await jp_ws_fetch("terminals", "websocket", name)
    said = ""
    while WARNING not in said:
        kind, *payload = json.loads(await asyncio.wait_for(ws.read_message(), 60))
        said += payload[0] if kind == "stdout" else ""
    await ws.write_message(json.dumps(["stdin", "echo kept-$((40+2))\r"]))
    after = await _read_until_closed(ws)
    # Used again: it got a new idle period, so a second warning came before the end.
    assert "kept-42" in after
    assert WARNING in after[after.index("kept-42") :]


async def test_active_terminals_and_background_tasks_are_not_culled(
    jp_fetch: Any, jp_ws_fetch: Any, jp_serverapp: Any, mcp_session: Any, agents: None
) -> None:
    busy = await open_agent(jp_fetch, "ticker")
    async with mcp_session() as session:
        # The task's agent goes quiet after its first line, like a long silent build.
        task = await call(session, "coda_run", prompt="MODE:SLEEP")
        idle = await open_agent(jp_fetch, "idler")
        # The idle terminal's end shows the culler has run past the idle timeout.
        await _read_until_closed(await jp_ws_fetch("terminals", "websocket", idle))

        running = await _running(jp_fetch)
        assert busy in running
        assert task["terminal"] in running
        assert (await call(session, "coda_get_result", task_id=task["task_id"]))["status"] == "running"
        manager = coda_app(jp_serverapp).services.terminals.terminal_manager()
        for name in (busy, task["terminal"]):
            assert WARNING not in "".join(manager.terminals[name].read_buffer)
        await call(session, "coda_cancel", task_id=task["task_id"])
    await jp_fetch("api", "terminals", busy, method="DELETE")
