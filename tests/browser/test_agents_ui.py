"""Launcher tiles and agent terminals in a real JupyterLab, driven in Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from ..conftest import write_stub
from .conftest import lab_fixture
from .lab import Lab

STUB_CLAUDE = """if [ "$1" = "--version" ]; then echo "1.2.3 (Claude Code)"; exit 0; fi
echo "hello from stub claude in $(basename "$(pwd)")"
"""

AGENT_LABELS = ["Claude Code", "Codex", "Gemini CLI", "OpenCode", "Hermes Agent"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from lab_fixture(tmp_path_factory, "agents-ui")


@pytest.fixture(autouse=True)
def _stub_claude(lab: Lab) -> None:
    write_stub(lab.home / ".local" / "bin", "claude", STUB_CLAUDE)
    (lab.root / "work").mkdir(exist_ok=True)


def agent_cards(page: Any) -> Any:
    return page.locator('.jp-LauncherCard[data-category="Coding Agents"]')


def terminal_text(page: Any, name: str) -> Any:
    return page.locator(f"#coda-agent-terminal-{name} .xterm-accessibility")


def type_in_terminal(page: Any, name: str, text: str) -> None:
    page.locator(f"#coda-agent-terminal-{name} .xterm-helper-textarea").focus()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_launcher_shows_one_tile_per_agent(page: Any, lab: Lab) -> None:
    page.goto(lab.page_url())
    cards = agent_cards(page)
    cards.first.wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-LauncherCard[data-category=\"Coding Agents\"]').length === 5"
    )
    labels = [label.strip() for label in cards.locator(".jp-LauncherCard-label").all_inner_texts()]
    assert labels == ["Claude Code", *(f"{label} (not installed)" for label in AGENT_LABELS[1:])]
    missing = cards.filter(has_text="Codex").locator(".coda-AgentIcon-missing")
    assert missing.count() == 1
    assert "not installed yet" in (cards.filter(has_text="Codex").get_attribute("title") or "")
    assert cards.filter(has_text="Claude Code").locator(".coda-AgentIcon-missing").count() == 0


def test_tile_opens_agent_terminal_that_survives_reload(page: Any, lab: Lab) -> None:
    page.goto(lab.page_url())
    # Open the work folder so the agent starts where the file browser is.
    page.goto(lab.page_url("lab/tree/work?reset"))
    agent_cards(page).filter(has_text="Claude Code").first.click()

    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Claude Code")
    tab.wait_for()
    name = page.locator("[data-coda-agent-terminal]").first.get_attribute("data-coda-agent-terminal")
    assert name is not None and re.fullmatch(r"claude_\d+", name)
    text = terminal_text(page, name)
    page.wait_for_function(
        "(sel) => (document.querySelector(sel)?.textContent ?? '').includes('hello from stub claude in work')",
        arg=f"#coda-agent-terminal-{name} .xterm-accessibility",
    )

    # The agent exited; the tab is now a shell in the same folder.
    type_in_terminal(page, name, "echo shell-$((6*7)) in $(basename $(pwd))")
    page.wait_for_function(
        "(sel) => (document.querySelector(sel)?.textContent ?? '').includes('shell-42 in work')",
        arg=f"#coda-agent-terminal-{name} .xterm-accessibility",
    )
    type_in_terminal(page, name, "export MARKER=kept-$((2+3))")

    page.goto(lab.page_url("lab"))
    restored = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Claude Code")
    restored.wait_for()
    assert page.locator(f"#coda-agent-terminal-{name}").count() == 1
    # Same running terminal: shell state from before the reload is still there.
    type_in_terminal(page, name, "echo again-$MARKER")
    page.wait_for_function(
        "(sel) => (document.querySelector(sel)?.textContent ?? '').includes('again-kept-5')",
        arg=f"#coda-agent-terminal-{name} .xterm-accessibility",
    )
    assert text.count() == 1
    running = [t["name"] for t in lab.api("api/terminals")]  # type: ignore[union-attr]
    assert running.count(name) == 1


def test_palette_opens_agent_to_the_right(page: Any, lab: Lab) -> None:
    page.goto(lab.page_url())
    agent_cards(page).first.wait_for()
    page.keyboard.press("Control+Shift+c")
    page.locator(".lm-CommandPalette-input").fill("Open Claude Code to the Right")
    page.keyboard.press("Enter")
    panes = page.locator("[data-coda-agent-terminal]")
    panes.first.wait_for()
    launcher_box = page.locator(".jp-Launcher").first.bounding_box()
    terminal_box = panes.first.bounding_box()
    assert launcher_box is not None and terminal_box is not None
    assert terminal_box["x"] >= launcher_box["x"] + launcher_box["width"] - 5


def test_plain_terminals_and_file_browser_still_work(page: Any, lab: Lab) -> None:
    (lab.root / "hello.txt").write_text("hi", encoding="utf-8")
    page.goto(lab.page_url())
    page.locator(".jp-DirListing-item", has_text="hello.txt").wait_for()
    page.locator('.jp-LauncherCard[data-category="Other"]', has_text="Terminal").click()
    screen = page.locator(".jp-Terminal .xterm-screen").first
    screen.wait_for()
    screen.click()
    page.keyboard.type("echo plain-$((7*6))")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-Terminal .xterm-accessibility')]"
        ".some(n => n.textContent.includes('plain-42'))"
    )


def test_notebooks_still_work(page: Any, lab: Lab) -> None:
    page.goto(lab.page_url())
    page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
    cell = page.locator(".jp-Notebook .jp-Cell .cm-content").first
    cell.wait_for()
    # A cell run before the kernel is up can be dropped: wait until it is idle.
    page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(timeout=60_000)
    cell.click()
    page.keyboard.type("6 * 7")
    page.keyboard.press("Shift+Enter")
    page.locator(".jp-OutputArea-output", has_text="42").first.wait_for()
