"""An open launcher follows installs: a tile flips to ready when its setup step finishes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import lab_fixture
from .lab import Lab

# Installs a stub agent once the test says so (a file appears), standing in for
# a real install step finishing while the launcher is open.
INSTALL_STUBBY = (
    'while [ ! -e "$HOME/install-now" ]; do sleep 0.2; done; '
    'mkdir -p "$HOME/.local/bin"; '
    "printf '#!/bin/sh\\necho 4.5.6\\n' > \"$HOME/.local/bin/stubby-agent\"; "
    'chmod +x "$HOME/.local/bin/stubby-agent"'
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    config = {
        "CodaApp": {"agents": {"stubby": {"executable": "stubby-agent", "label": "Stubby"}}},
        "SetupService": {
            "extra_steps": [
                {"id": "install-stubby", "label": "Install Stubby", "command": ["sh", "-c", INSTALL_STUBBY]}
            ]
        },
    }
    yield from lab_fixture(tmp_path_factory, "launcher-updates", server_config=config)


def wait_for_step(lab: Lab, step_id: str, seconds: float = 30) -> str:
    """Poll the setup API until the step leaves pending/running; return its status."""
    deadline = time.monotonic() + seconds
    while True:
        steps = lab.api("coda/api/setup")["steps"]  # type: ignore[index]
        status = next(step["status"] for step in steps if step["id"] == step_id)
        if status not in ("pending", "running") or time.monotonic() > deadline:
            return str(status)
        time.sleep(0.2)


def test_open_launcher_tile_turns_ready_when_the_install_step_finishes(page: Any, lab: Lab) -> None:
    page.goto(lab.page_url())
    tile = page.locator('.jp-LauncherCard[data-category="Coding Agents"]', has_text="Stubby")
    tile.wait_for()
    label = tile.locator(".jp-LauncherCard-label")
    assert label.inner_text().strip() == "Stubby (not installed)"
    assert tile.locator(".coda-AgentIcon-missing").count() == 1
    assert "not installed yet" in (tile.get_attribute("title") or "")

    page.evaluate("() => { window.__sameDocument = true; }")
    (lab.home / "install-now").touch()
    assert wait_for_step(lab, "install-stubby") == "done"
    # The item asks for "within a few seconds of the step finishing": the
    # setup panel polls every second while a step runs, so 10 s is generous.
    page.locator('.jp-LauncherCard[data-category="Coding Agents"]', has_text="Stubby").filter(
        has_not_text="not installed"
    ).wait_for(timeout=10_000)
    assert label.inner_text().strip() == "Stubby"
    assert tile.locator(".coda-AgentIcon-missing").count() == 0
    assert "4.5.6" in (tile.get_attribute("title") or "")
    # Still the same page and launcher: nothing was reloaded.
    assert page.evaluate("() => window.__sameDocument") is True
    assert page.locator(".jp-Launcher").count() == 1
    assert page.locator('.jp-LauncherCard[data-category="Coding Agents"]').count() == 6
