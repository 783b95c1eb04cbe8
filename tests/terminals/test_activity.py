"""Agents' work counts as server activity (what idle shutdown and a JupyterHub's culler read).

A real server; no browser ever attaches to the agents' terminals, so Jupyter
itself records nothing server-wide for them. Only "after"/"before" comparisons
of activity stamps are asserted, never how long anything took.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ..mcp.conftest import call
from .conftest import idler_and_ticker_config, open_agent


@pytest.fixture
def jp_server_config(jp_server_config: Any) -> dict[str, Any]:
    config = idler_and_ticker_config()
    config["AgentActivity"] = {"interval": 0.2}
    return config


async def _activity_passes(jp_serverapp: Any, mark: datetime, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while jp_serverapp.web_app.last_activity() <= mark:
        assert loop.time() < deadline, f"server activity stayed at {jp_serverapp.web_app.last_activity()}"
        await asyncio.sleep(0.1)


async def test_an_agent_printing_with_no_browser_attached_is_activity(
    jp_fetch: Any, jp_serverapp: Any, agents: None
) -> None:
    await open_agent(jp_fetch, "ticker")
    # Past the launch request (itself API activity): only the agent's output can move it now.
    mark = jp_serverapp.web_app.last_activity() + timedelta(seconds=1)
    await _activity_passes(jp_serverapp, mark)


async def test_a_quiet_agent_at_its_prompt_is_not_activity(jp_fetch: Any, jp_serverapp: Any, agents: None) -> None:
    name = await open_agent(jp_fetch, "idler")
    terminals = jp_serverapp.web_app.settings["terminal_manager"].terminals
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while "idler ready" not in "".join(terminals[name].read_buffer):
        assert loop.time() < deadline
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)
    # Reported: the moment it last printed, not "now".
    reported = jp_serverapp.web_app.settings["last_activity_times"]["coda_agents"]
    assert reported == terminals[name].last_activity
    assert reported < datetime.now(timezone.utc) - timedelta(seconds=0.5)


async def test_a_silent_background_task_is_activity(jp_serverapp: Any, mcp_session: Any, agents: None) -> None:
    async with mcp_session() as session:
        # The task's agent goes quiet after its first line, like a long silent build.
        task = await call(session, "coda_run", prompt="MODE:SLEEP")
        mark = jp_serverapp.web_app.last_activity() + timedelta(seconds=1)
        await _activity_passes(jp_serverapp, mark)
        await call(session, "coda_cancel", task_id=task["task_id"])
