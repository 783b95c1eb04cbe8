"""A finished task stays readable: its transcript is kept (0600) and served read-only until retention."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from coda_jupyter.tasks import runner as runner_module
from coda_jupyter.tasks.runner import _ActiveTask
from coda_jupyter.tasks.store import TaskStore

from ..mcp.conftest import call, tasks_root


async def _ended(session: Any, task_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (result := await call(session, "coda_get_result", task_id=task_id))["status"] == "running":
        assert time.monotonic() < deadline, result
        await asyncio.sleep(0.1)
    return result


async def test_the_transcript_of_an_ended_task_is_served_until_retention(
    mcp_session: Any, jp_fetch: Any, jp_serverapp: Any
) -> None:
    async with mcp_session() as session:
        started = await call(session, "coda_run", prompt="Say what you do")
        task_id = started["task_id"]
        result = await _ended(session, task_id)
    assert result["status"] == "completed"
    transcript = tasks_root() / task_id / "transcript.log"
    assert transcript.stat().st_mode & 0o777 == 0o600

    # The task's terminal is gone; its output is not.
    terminals = await jp_fetch("api", "terminals")
    assert f"task_{task_id}" not in terminals.body.decode()
    reply = await jp_fetch("coda", "api", "tasks", task_id, "transcript")
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert f"stub working on {task_id}" in reply.body.decode()
    assert "\x1b" not in reply.body.decode()

    runner = jp_serverapp.web_app.settings["coda_services"].tasks
    runner.retention_hours = 0
    assert task_id in runner.cleanup()
    with pytest.raises(HTTPClientError) as gone:
        await jp_fetch("coda", "api", "tasks", task_id, "transcript")
    assert gone.value.code == 404


def test_the_transcript_file_is_private_from_its_creation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not created readable and tightened afterwards: with a umask of 0 and no
    later chmod, the file must still be 0600 the moment it exists."""
    store = TaskStore(tmp_path / "tasks")
    task_id = "0123456789ab"
    store.create(task_id, {"task_id": task_id, "status": "running", "created_at": time.time()}, "envelope")
    monkeypatch.setattr(runner_module.os, "chmod", lambda *args, **kwargs: None)
    previous = os.umask(0)
    try:
        active = _ActiveTask(runner=None, task_id=task_id, terminal="t", paths=store.paths(task_id), cap=1024)  # type: ignore[arg-type]
    finally:
        os.umask(previous)
    try:
        assert store.paths(task_id).transcript.stat().st_mode & 0o777 == 0o600
        active.on_output("hello\r\n")
    finally:
        active.close_transcript()
    assert store.paths(task_id).transcript.read_bytes() == b"hello\r\n"
