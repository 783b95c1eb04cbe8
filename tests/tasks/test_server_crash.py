"""kill -9 of the server while a task runs: after a restart the task is interrupted, its transcript kept.

The agent's terminal loses its PTY master with the server. The kernel then
hangs the terminal up: SIGHUP to the agent, and EIO on every later write to
it. An agent that ignores SIGHUP (nohup, or a handler of its own) outlives
the server, unseen, still editing files. The restarted server stops such
survivors (found by the CODA_TASK_ID in their environment) when it marks the
task interrupted, so nothing keeps working on a task reported as over.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

from ..conftest import write_stub
from ..mcp.conftest import call
from ..mcp.test_e2e import _alive, _free_port, _remote_session, _start_server, _wait_ready

# Prints numbered lines slowly, forever, and ignores the hangup.
SLOW_AGENT = r"""if [ "$1" = "--version" ]; then echo "1.0.0"; exit 0; fi
trap '' HUP
echo $$ > "$CODA_TASK_DIR/agent.pid"
i=0
while :; do
  i=$((i + 1))
  echo "slow line $i"
  sleep 0.2
done
"""


def _transcript(home: Path, task_id: str) -> str:
    path = home / ".local" / "share" / "coda-jupyter" / "tasks" / task_id / "transcript.log"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


async def _eventually(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.1)


async def test_kill_9_mid_task_then_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "root").mkdir(parents=True)
    write_stub(home / ".local" / "bin", "stubby-agent", SLOW_AGENT)
    token = "crash-test-token"
    tasks = home / ".local" / "share" / "coda-jupyter" / "tasks"
    agent_pid: int | None = None
    port = _free_port()
    server = _start_server(home, port, token)
    try:
        await _wait_ready(port, token)
        async with _remote_session(port, token) as session:
            started = await call(session, "coda_run", prompt="print lines slowly")
        task_id = started["task_id"]
        await _eventually(lambda: "slow line 3" in _transcript(home, task_id))
        agent_pid = int((tasks / task_id / "agent.pid").read_text())
        before = _transcript(home, task_id)
        server.kill()  # SIGKILL: no shutdown hook runs
        server.wait()

        assert _alive(agent_pid), "the agent should outlive the server: it ignores SIGHUP"
        assert _transcript(home, task_id) == before

        port = _free_port()
        server = _start_server(home, port, token)
        await _wait_ready(port, token)
        async with _remote_session(port, token) as session:
            result = await call(session, "coda_get_result", task_id=task_id)
        assert result["status"] == "interrupted"
        assert "slow line 3" in result["transcript_tail"]
        after = _transcript(home, task_id)
        assert after.startswith(before)
        assert "slow line 1" in after and "slow line 3" in after
        await _eventually(lambda: not _alive(agent_pid))
    finally:
        server.terminate()
        server.wait(timeout=30)
        if agent_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(agent_pid, signal.SIGKILL)
