"""A broken task folder is skipped and reported; it never keeps services from starting."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from ..mcp.conftest import call, server_config

GOOD = "a1a1a1a1a1a1"
NO_ID = "b2b2b2b2b2b2"
BAD_CREATED = "c3c3c3c3c3c3"
NOT_JSON = "d4d4d4d4d4d4"
META_IS_DIR = "e5e5e5e5e5e5"
NOT_UTF8 = "f6f6f6f6f6f6"
SETUP_STEP = [{"id": "noop", "label": "No-op", "command": ["true"]}]


def _meta(task_id: str, **changes: Any) -> dict[str, Any]:
    created = time.time() - 60
    return {
        "task_id": task_id,
        "agent": "stubby",
        "status": "completed",
        "terminal": f"task_{task_id}",
        "prompt_summary": "a good task",
        "created_at": created,
        "created_at_iso": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
        "ended_at": created + 1,
        "exit_code": 0,
        **changes,
    }


def _populate(tasks: Path) -> None:
    """One good task next to each kind of damage a folder can take on disk."""
    for name in (GOOD, NO_ID, BAD_CREATED, NOT_JSON, META_IS_DIR, NOT_UTF8):
        (tasks / name).mkdir(parents=True)
    (tasks / GOOD / "meta.json").write_text(json.dumps(_meta(GOOD)))
    (tasks / GOOD / "result.json").write_text(json.dumps({"status": "completed", "summary": "all good"}))
    no_id = _meta(NO_ID, status="running")
    del no_id["task_id"]
    (tasks / NO_ID / "meta.json").write_text(json.dumps(no_id))
    (tasks / BAD_CREATED / "meta.json").write_text(json.dumps(_meta(BAD_CREATED, created_at="abc")))
    (tasks / NOT_JSON / "meta.json").write_text('{"task_id": "d4d4d4d4d4d4", ')
    (tasks / META_IS_DIR / "meta.json").mkdir()
    (tasks / NOT_UTF8 / "meta.json").write_bytes(b'{"task_id": "\xff\xfe"}')


@pytest.fixture
def jp_server_config(jp_server_config: Any, tmp_path: Path) -> dict[str, Any]:
    config = server_config()
    _populate(tmp_path / "data" / "tasks")
    config["CodaApp"].update({"data_dir": str(tmp_path / "data"), "state_dir": str(tmp_path / "state")})
    config["SetupService"]["extra_steps"] = SETUP_STEP
    return config


async def _until(check: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.1)


async def _get(jp_fetch: Any, *path: str) -> Any:
    return json.loads((await jp_fetch(*path)).body)


async def test_bad_task_folders_are_skipped_and_services_start(
    capfd: pytest.CaptureFixture[str], jp_fetch: Any, mcp_session: Any, tmp_path: Path
) -> None:
    async def setup_done() -> bool:
        steps = (await _get(jp_fetch, "coda", "api", "setup"))["steps"]
        return any(step["id"] == "noop" and step["status"] == "done" for step in steps)

    await _until(setup_done)
    assert (await _get(jp_fetch, "coda", "api", "gateway"))["running"] is True

    listing = await _get(jp_fetch, "coda", "api", "tasks")
    assert [task["task_id"] for task in listing["tasks"]] == [GOOD]
    assert listing["counts"] == {"completed": 1}
    skipped = {entry["folder"]: entry["reason"] for entry in listing["skipped"]}
    assert set(skipped) == {NO_ID, BAD_CREATED, NOT_JSON, META_IS_DIR, NOT_UTF8}
    assert "task_id" in skipped[NO_ID]
    assert "created_at" in skipped[BAD_CREATED]
    assert "JSON" in skipped[NOT_JSON]
    assert "UTF-8" in skipped[NOT_UTF8]

    async with mcp_session() as session:
        inbox = await call(session, "coda_inbox")
        assert [task["task_id"] for task in inbox["tasks"]] == [GOOD]
        assert {entry["folder"] for entry in inbox["skipped"]} == set(skipped)
        good = await call(session, "coda_get_result", task_id=GOOD)
        assert good["summary"] == "all good"
        broken = await call(session, "coda_get_result", task_id=BAD_CREATED)
        assert "created_at" in broken["error"]
        # New tasks still run next to the broken folders.
        started = await call(session, "coda_run", prompt="a fresh task")
        finished = await _until(lambda: _finished(session, started["task_id"]))
        assert finished["status"] == "completed"

    # CodaApp logs to the process's stderr, not through pytest's log capture.
    warnings = [line for line in capfd.readouterr().err.splitlines() if line.startswith("[W ")]
    for folder, reason in skipped.items():
        assert any(f"skipped task folder {folder}: {reason}" in line for line in warnings)
    with pytest.raises(HTTPClientError) as unreadable:
        await jp_fetch("coda", "api", "tasks", META_IS_DIR)
    assert unreadable.value.code == 404
    assert "cannot be read" in json.loads(unreadable.value.response.body)["message"]
    # The broken folders are left for their owner to inspect, never deleted.
    assert all((tmp_path / "data" / "tasks" / folder).is_dir() for folder in skipped)


async def _finished(session: Any, task_id: str) -> dict[str, Any] | None:
    result = await call(session, "coda_get_result", task_id=task_id)
    return result if result["status"] != "running" else None
