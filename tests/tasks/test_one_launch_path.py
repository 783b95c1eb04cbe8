"""Launcher tabs and background tasks start agents through one path: one cwd rule, one environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from ..mcp.conftest import call

# What only a task's terminal has: where its prompt, status and result live.
TASK_ONLY = {"CODA_TASK_ID", "CODA_TASK_DIR", "CODA_TASK_PROMPT_FILE", "CODA_TASK_STATUS_FILE", "CODA_TASK_RESULT_FILE"}


@pytest.fixture
def created(jp_serverapp: Any, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every terminal the server asks Jupyter's terminal manager for (a spy: each call goes through)."""
    manager = jp_serverapp.web_app.settings["terminal_manager"]
    calls: list[dict[str, Any]] = []
    original = manager.create

    def spy(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(manager, "create", spy)
    return calls


async def _open_tab(jp_fetch: Any, cwd: str) -> Any:
    body = json.dumps({"cwd": cwd})
    return await jp_fetch("coda", "api", "agents", "stubby", "terminals", method="POST", body=body)


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
async def test_a_tab_and_a_task_start_in_the_same_folder_with_the_same_environment(
    jp_fetch: Any, jp_root_dir: Path, stub_agent: Path, mcp_session: Any, created: list[dict[str, Any]], absolute: bool
) -> None:
    folder = Path(jp_root_dir).resolve() / "proj"
    folder.mkdir()
    cwd = str(folder) if absolute else "proj"
    await _open_tab(jp_fetch, cwd)
    async with mcp_session() as session:
        started = await call(session, "coda_run", prompt="say hello", agent="stubby", cwd=cwd)
    assert "error" not in started, started
    tab, task = created
    assert tab["cwd"] == task["cwd"] == str(folder)
    assert set(task["extra_env"]) - set(tab["extra_env"]) == TASK_ONLY
    assert {name: value for name, value in task["extra_env"].items() if name not in TASK_ONLY} == tab["extra_env"]


@pytest.mark.parametrize("cwd", ["..", "/", "proj/../.."])
async def test_a_cwd_outside_the_root_is_refused_by_both(
    jp_fetch: Any, jp_root_dir: Path, stub_agent: Path, mcp_session: Any, created: list[dict[str, Any]], cwd: str
) -> None:
    (Path(jp_root_dir) / "proj").mkdir()
    with pytest.raises(HTTPClientError) as refused:
        await _open_tab(jp_fetch, cwd)
    assert refused.value.code == 400
    assert refused.value.response is not None
    assert "outside the server root" in json.loads(refused.value.response.body)["message"]
    async with mcp_session() as session:
        result = await call(session, "coda_run", prompt="say hello", agent="stubby", cwd=cwd)
    assert "outside the server root" in result.get("error", ""), result
    assert created == []
