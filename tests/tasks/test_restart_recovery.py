"""What a restarted server makes of task folders the previous one left mid-way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coda_jupyter.tasks.store import TaskStore, new_task_id, now


def left_behind(store: TaskStore, status: str) -> str:
    task_id = new_task_id()
    meta = {"task_id": task_id, "status": status, "agent": "claude", "created_at": now(), "ended_at": None}
    store.create(task_id, meta, "do the thing")
    store.paths(task_id).transcript.write_text("line before the crash\n")
    return task_id


@pytest.mark.parametrize("status", ["cancelled", "timeout"])
def test_a_task_being_stopped_when_the_server_died_is_concluded(tmp_path: Path, status: str) -> None:
    # The runner marks a task cancelled/timeout first and concludes it when the
    # agent has exited; a kill -9 in between leaves a task with no end.
    store = TaskStore(tmp_path)
    task_id = left_behind(store, status)

    assert store.mark_interrupted() == [task_id], "its agent may still be running and must be stopped"

    meta = store.meta(task_id)
    assert meta["status"] == status, "the user's cancel (or the timeout) is what ended it"
    assert isinstance(meta["ended_at"], float)
    result = json.loads(store.paths(task_id).result.read_text())
    assert result["status"] == status
    assert "line before the crash" in result["transcript_tail"]


def test_a_running_task_is_interrupted_and_a_finished_one_left_alone(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    running = left_behind(store, "running")
    finished = left_behind(store, "cancelled")
    store.update_meta(finished, ended_at=now())

    assert store.mark_interrupted() == [running]
    assert store.meta(running)["status"] == "interrupted"
    assert store.result(finished) is None
