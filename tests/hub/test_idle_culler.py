"""JupyterHub's idle culler (the ``jupyterhub-idle-culler`` service) and agents at work.

The hub culls a server once its ``last_activity`` is older than the culler's
timeout. That stamp comes from the proxy's traffic and from what the
single-user server posts (``web_app.last_activity()``). An agent working in a
terminal whose tab is closed, or a background task, sends nothing through the
proxy; coda reports their work as server activity, so the server stays up
while they work and is culled once they stop. The intervals are shortened the
admin's way (``c.Spawner.environment`` and ``c.Spawner.args``) so the story
takes about a minute instead of hours.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..mcp.conftest import STUB_AGENT
from .hub import Hub, as_user, running_hub
from .test_two_users import mcp_session, mcp_tool

CULL_TIMEOUT = 15
CULL_EVERY = 2
# Longer than a culler pass could take to notice a server idle since the phase began.
QUIET_PHASE = CULL_TIMEOUT + 3 * CULL_EVERY + 5

# In a terminal (stdin is a tty) the stub plays an interactive agent that prints
# while ~/agent-busy exists, as Claude Code's spinner and output do while it
# works, then sits at its prompt; headless (tasks, --version) it is the MCP stub.
BUSY_AGENT = (
    r"""if [ -t 0 ] && [ "$1" != "--version" ]; then
  while [ -e "$HOME/agent-busy" ]; do echo "stub agent working"; sleep 1; done
  echo "stub agent waiting for input"
  exec sleep 100000
fi
"""
    + STUB_AGENT
)


def stays_up(hub: Hub, user: str, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert hub.server(user) is not None, f"the culler stopped {user}'s server while {what}:\n{hub.log_tail()}"
        time.sleep(1)


def eventually(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def test_the_culler_spares_busy_agents_and_culls_once_they_stop(tmp_path: Path) -> None:
    culler = [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={CULL_TIMEOUT}", f"--cull-every={CULL_EVERY}"]
    with running_hub(
        tmp_path / "hub",
        {"stubby-agent": BUSY_AGENT},
        environment={"JUPYTERHUB_ACTIVITY_INTERVAL": "1"},
        args=["--AgentActivity.interval=1"],
        culler=culler,
    ) as (hub, _):
        busy = hub.home("alice") / "agent-busy"
        busy.parent.mkdir(parents=True)
        busy.touch()
        hub.start_server("alice")
        token = hub.new_token("alice")

        # An agent working in a terminal nobody watches: no websocket, no request.
        opened = as_user(token, hub.user_url("alice", "coda/api/agents/stubby/terminals"), "POST", {})
        assert opened.status == 200, opened.text
        stays_up(hub, "alice", QUIET_PHASE, "an agent was printing in a terminal with no browser attached")

        # The agent waits at its prompt; a background task works silently.
        busy.unlink()
        url = hub.user_url("alice", "api/coda/mcp")
        session = mcp_session(token, url)
        task = mcp_tool(token, url, session, "coda_run", prompt="MODE:SLEEP take your time")
        assert task["status"] == "running"
        stays_up(hub, "alice", QUIET_PHASE, "a background task was running")

        # Nothing works any more: the culler stops the server.
        mcp_tool(token, url, session, "coda_cancel", task_id=task["task_id"])
        eventually(
            lambda: hub.server("alice") is None,
            f"alice's idle server was never culled:\n{hub.log_tail()}",
            timeout=4 * QUIET_PHASE,
        )
