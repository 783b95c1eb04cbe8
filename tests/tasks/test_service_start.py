"""Each service of the extension starts on its own: one failing leaves the others up."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from coda_jupyter.gateway.service import GatewayService
from coda_jupyter.setup.service import SetupService
from coda_jupyter.tasks import TaskRunner

from ..mcp.conftest import server_config

LEFT_RUNNING = "0a0a0a0a0a0a"


class Boom(RuntimeError):
    pass


def _fail(*args: Any, **kwargs: Any) -> None:
    raise Boom("this service is broken on purpose")


@pytest.fixture(params=["tasks", "gateway", "setup"])
def broken(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    service = {"tasks": TaskRunner, "gateway": GatewayService, "setup": SetupService}[request.param]
    monkeypatch.setattr(service, "start", _fail)
    return request.param


@pytest.fixture
def jp_server_config(jp_server_config: Any, tmp_path: Path, broken: str) -> dict[str, Any]:
    # A task the previous server left running: a started task runner marks it interrupted.
    folder = tmp_path / "data" / "tasks" / LEFT_RUNNING
    folder.mkdir(parents=True)
    created = time.time() - 5
    (folder / "meta.json").write_text(
        json.dumps({"task_id": LEFT_RUNNING, "status": "running", "created_at": created, "ended_at": None})
    )
    config = server_config()
    config["CodaApp"].update({"data_dir": str(tmp_path / "data"), "state_dir": str(tmp_path / "state")})
    config["SetupService"]["extra_steps"] = [{"id": "noop", "label": "No-op", "command": ["true"]}]
    return config


async def _get(jp_fetch: Any, *path: str) -> Any:
    return json.loads((await jp_fetch(*path)).body)


async def _state(jp_fetch: Any, tmp_path: Path) -> dict[str, bool]:
    steps = (await _get(jp_fetch, "coda", "api", "setup"))["steps"]
    meta = json.loads((tmp_path / "data" / "tasks" / LEFT_RUNNING / "meta.json").read_text())
    return {
        "setup": any(step["id"] == "noop" and step["status"] == "done" for step in steps),
        "gateway": (await _get(jp_fetch, "coda", "api", "gateway"))["running"] is True,
        "tasks": meta["status"] == "interrupted",
    }


async def test_one_failing_service_leaves_the_others_running(jp_fetch: Any, tmp_path: Path, broken: str) -> None:
    expected = {"setup": True, "gateway": True, "tasks": True, broken: False}
    deadline = time.monotonic() + 20
    while (state := await _state(jp_fetch, tmp_path)) != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert state == expected
