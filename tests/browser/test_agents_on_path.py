"""Typing an agent's name in a plain JupyterLab terminal runs it.

Setup installs the agent CLIs into ``~/.local/bin``. A plain terminal runs the
account's login shell, whose ``/etc/profile`` sets PATH afresh (Debian's does,
for root and other users alike) and the test's HOME has no ``~/.profile`` to
add ``~/.local/bin`` back: the journey that once said ``command not found``.
Stub CLIs stand in for the installed agents; the terminal is opened from the
launcher's Terminal tile, as a user does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from coda_jupyter.agents.catalogue import installed_agents

from ..conftest import write_stub
from .conftest import lab_fixture
from .lab import Lab
from .test_terminal_features import run, terminal_text, wait_for_text


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from lab_fixture(tmp_path_factory, "agents-on-path")


def test_every_agent_runs_when_typed_in_a_plain_terminal(page: Any, lab: Lab) -> None:
    assert not (lab.home / ".profile").exists()
    executables = [spec.executable for spec in installed_agents()]
    for executable in executables:
        write_stub(lab.home / ".local" / "bin", executable, f'echo "{executable} stub ran: $1"')

    page.goto(lab.page_url())
    page.locator('.jp-LauncherCard[data-category="Other"]', has_text="Terminal").click()
    page.locator(".jp-Terminal .xterm-accessibility").wait_for()
    term_id = page.eval_on_selector(".jp-Terminal", "n => n.id")
    page.wait_for_function(
        "(sel) => /[$#]/.test(document.querySelector(sel)?.textContent ?? '')",
        arg=f"#{term_id} .xterm-accessibility",
    )

    for executable in executables:
        run(page, term_id, f"{executable} --version")
        try:
            wait_for_text(page, term_id, f"{executable} stub ran: --version")
        except Exception as error:
            raise AssertionError(f"{executable} did not run:\n{terminal_text(page, term_id)}") from error
    assert "command not found" not in terminal_text(page, term_id)
