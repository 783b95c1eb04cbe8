"""A refused agent (session cap reached) shows a readable message and leaves no tab behind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ..conftest import write_stub
from .conftest import lab_fixture
from .lab import Lab

# An agent that waits for input, as an interactive agent does.
STUB_CLAUDE = """if [ "$1" = "--version" ]; then echo "1.2.3 (Claude Code)"; exit 0; fi
echo "stub claude is waiting"
read answer
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from lab_fixture(tmp_path_factory, "admission-ui", server_config={"AgentAdmission": {"max_sessions": 2}})


def test_third_agent_is_refused_with_a_message_and_no_tab(page: Any, lab: Lab) -> None:
    write_stub(lab.home / ".local" / "bin", "claude", STUB_CLAUDE)
    page.goto(lab.page_url())
    tile = page.locator('.jp-LauncherCard[data-category="Coding Agents"]', has_text="Claude Code").first
    agent_panes = page.locator("[data-coda-agent-terminal]")
    tabs = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Claude Code")

    for opened in (1, 2):
        tile.wait_for()
        tile.click()
        page.wait_for_function(
            "(n) => document.querySelectorAll('[data-coda-agent-terminal]').length === n", arg=opened
        )
        # A launcher tile replaces its launcher: the tab bar's + opens a new one.
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-addButton").first.click()

    tile.wait_for()
    tile.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "Claude Code was not started" in dialog.locator(".jp-Dialog-header").inner_text()
    text = dialog.locator(".jp-Dialog-body").inner_text()
    assert "2 agent sessions are running (agent terminals claude_1, claude_2)" in text
    assert "at most 2" in text
    assert "Running Terminals and Kernels" in text
    # The dialog leads to the Running panel, where a session can be shut down.
    dialog.locator("button", has_text="Show Running Terminals").click()
    page.locator("#jp-running-sessions").wait_for(state="visible")

    assert agent_panes.count() == 2
    assert tabs.count() == 2
    running = [t["name"] for t in lab.api("api/terminals")]  # type: ignore[union-attr]
    assert sorted(running) == ["claude_1", "claude_2"]
