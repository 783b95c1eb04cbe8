"""The Agents panel (setup progress) and the Agent tasks panel, in Chromium."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from ..conftest import write_stub
from .conftest import lab_fixture
from .lab import Lab

SETUP_STEPS = [
    # Runs until the test opens its gate (HOME is the lab's), so "running" is seen however slow the page is.
    {
        "id": "quick",
        "label": "Quick stub step",
        "command": [
            "sh",
            "-c",
            'echo quick-start; until [ -e "$HOME/quick.gate" ]; do sleep 0.1; done; echo quick-end',
        ],
    },
    {"id": "after", "label": "After the quick one", "command": ["true"], "needs": ["quick"]},
    {
        "id": "broken",
        "label": "Broken stub step",
        "command": ["sh", "-c", "sleep 1; echo 'mirror unreachable: connection refused' >&2; exit 7"],
    },
]

# A headless stub agent: progress, a few seconds of work, then result.json.
TASK_AGENT = r"""if [ "$1" = "--version" ]; then echo "1.0.0"; exit 0; fi
echo '{"step": "work", "message": "stub is halfway"}' >> "$CODA_TASK_STATUS_FILE"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "stub task working $i"; sleep 1; done
printf '{"status": "completed", "summary": "stub finished the task", "files_changed": []}' > "$CODA_TASK_RESULT_FILE"
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    config = {
        "CodaApp": {"agents": {"stubtask": {"executable": "stub-task-agent", "label": "Stub Task Agent"}}},
        "SetupService": {"extra_steps": SETUP_STEPS},
        "TaskRunner": {"default_agent": "stubtask"},
    }
    for running in lab_fixture(tmp_path_factory, "panels", server_config=config):
        write_stub(running.home / ".local" / "bin", "stub-task-agent", TASK_AGENT)
        yield running


def open_sidebar(page: Any, panel_id: str) -> Any:
    page.locator(f'.jp-SideBar .lm-TabBar-tab[data-id="{panel_id}"]').click()
    panel = page.locator(f"#{panel_id}")
    panel.wait_for(state="visible")
    return panel


def test_agents_panel_and_status_bar_follow_setup(page: Any, lab: Lab) -> None:
    page.goto(lab.page_url())
    status = page.locator(".coda-SetupStatus")
    status.wait_for()
    panel = open_sidebar(page, "coda-agents-panel")
    quick = panel.locator('[data-step="quick"]')
    quick.and_(page.locator('[data-status="running"]')).wait_for()
    assert "⟳" in status.inner_text() or "✗" in status.inner_text()
    assert status.inner_text().startswith("Agents ")
    (lab.home / "quick.gate").touch()
    quick.and_(page.locator('[data-status="done"]')).wait_for(timeout=20_000)
    panel.locator('[data-step="after"][data-status="done"]').wait_for()
    broken = panel.locator('[data-step="broken"][data-status="failed"]')
    broken.wait_for()
    assert "mirror unreachable" in broken.locator(".coda-AgentsPanel-error").inner_text()
    page.wait_for_function("() => document.querySelector('.coda-SetupStatus')?.textContent === 'Agents 2/3 ✗'")

    before = lab.api("coda/api/setup")["steps"][2]["started_at"]  # type: ignore[index]
    broken.get_by_role("button", name="Retry").click()
    panel.locator('[data-step="broken"][data-status="running"]').wait_for()
    panel.locator('[data-step="broken"][data-status="failed"]').wait_for()
    after = lab.api("coda/api/setup")["steps"][2]["started_at"]  # type: ignore[index]
    assert after > before


def _mcp(lab: Lab, payload: dict[str, Any], session: str | None = None) -> tuple[dict[str, Any], str | None]:
    headers = {
        "Authorization": f"token {lab.token}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    if session:
        headers["Mcp-Session-Id"] = session
    request = urllib.request.Request(
        lab.url + "coda/mcp", data=json.dumps(payload).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
        return (json.loads(body) if body else {}), response.headers.get("Mcp-Session-Id") or session


def start_task(lab: Lab, prompt: str) -> dict[str, Any]:
    _, session = _mcp(
        lab,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        },
    )
    _mcp(lab, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    reply, _ = _mcp(
        lab,
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "coda_run", "arguments": {"prompt": prompt}},
        },
        session,
    )
    return dict(reply["result"]["structuredContent"])


def test_task_from_mcp_shows_live_with_terminal_and_result(page: Any, lab: Lab) -> None:
    page.goto(lab.page_url())
    panel = open_sidebar(page, "coda-tasks-panel")
    task_id = start_task(lab, "Summarise the repository for the panel test")["task_id"]
    entry = panel.locator(f'[data-task="{task_id}"]')
    entry.wait_for()
    assert "stubtask" in entry.inner_text()
    assert "Summarise the repository" in entry.inner_text()
    panel.locator(f'[data-task="{task_id}"][data-status="running"]').wait_for()
    page.wait_for_function(
        "(sel) => (document.querySelector(sel)?.textContent ?? '').includes('stub is halfway')",
        arg=f'#coda-tasks-panel [data-task="{task_id}"]',
    )

    entry.get_by_role("button", name="Terminal").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-Terminal .xterm-accessibility')]"
        ".some(n => n.textContent.includes('stub task working'))"
    )

    panel.locator(f'[data-task="{task_id}"][data-status="completed"]').wait_for(timeout=30_000)
    assert "stub finished the task" in panel.locator(f'[data-task="{task_id}"]').inner_text()
    panel.locator(f'[data-task="{task_id}"]').get_by_role("button", name="Result").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "stub finished the task" in dialog.inner_text()
    dialog.get_by_role("button", name="Close").click()

    clients = panel.locator(".coda-TasksPanel-clients")
    clients.locator("summary").click()
    snippets = clients.locator(".coda-TasksPanel-client")
    # One per built-in agent, served by the catalogue, plus coda-bridge; they load after the panel.
    snippets.nth(5).wait_for()
    assert snippets.count() == 6
    assert f'"{lab.url}api/coda/mcp"' in snippets.first.inner_text()
    codex = clients.locator('.coda-TasksPanel-client[data-client="Codex"]').inner_text()
    assert 'bearer_token_env_var = "JUPYTER_TOKEN"' in codex and "__MCP_URL__" not in codex
    assert lab.token not in clients.inner_text()


def test_lab_url_from_coda_run_opens_the_task_terminal(page: Any, lab: Lab) -> None:
    started = start_task(lab, "A task to watch through its lab_url")
    assert started["lab_url"].endswith(f"/lab?coda-terminal={started['terminal']}")
    page.goto(f"{started['lab_url']}&token={lab.token}")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-Terminal .xterm-accessibility')]"
        ".some(n => n.textContent.includes('stub task working'))"
    )
    assert page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=started["terminal"]).count() == 1
