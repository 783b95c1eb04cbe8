"""A finished task stays readable in Chromium: its lab_url shows what the agent
printed, read-only, and never creates a terminal; its end is a call for attention."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ..conftest import write_stub
from .conftest import lab_fixture
from .lab import Lab
from .test_panels import start_task

# A headless stub agent that works until the test touches "finish" in its
# folder (the Jupyter root), then reports success.
TASK_AGENT = r"""if [ "$1" = "--version" ]; then echo "1.0.0"; exit 0; fi
echo "stub transcript line one"
while [ ! -e finish ]; do sleep 0.1; done
echo "stub transcript last line"
printf '{"status": "completed", "summary": "stub wrote its transcript"}' > "$CODA_TASK_RESULT_FILE"
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    config = {
        "CodaApp": {"agents": {"stubtask": {"executable": "stub-transcript-agent", "label": "Stub Task Agent"}}},
        "TaskRunner": {"default_agent": "stubtask"},
    }
    for running in lab_fixture(
        tmp_path_factory, "task-transcript", server_config=config, extra_args=["--LabApp.expose_app_in_browser=True"]
    ):
        write_stub(running.home / ".local" / "bin", "stub-transcript-agent", TASK_AGENT)
        yield running


def show_tasks_panel(page: Any) -> Any:
    page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('coda:open-task')")
    # After the layout is restored, which would otherwise collapse the sidebar again.
    page.evaluate("window.jupyterapp.restored.then(() => window.jupyterapp.shell.activateById('coda-tasks-panel'))")
    panel = page.locator("#coda-tasks-panel")
    panel.wait_for(state="visible")
    return panel


def terminal_names(lab: Lab) -> list[str]:
    return sorted(str(t["name"]) for t in lab.api("api/terminals"))  # type: ignore[union-attr, index]


def test_lab_url_of_an_ended_task_shows_its_transcript_and_creates_no_terminal(page: Any, lab: Lab) -> None:
    page.goto(lab.page_url())
    panel = show_tasks_panel(page)
    started = start_task(lab, "Write a transcript for the browser test")
    task_id = started["task_id"]
    panel.locator(f'[data-task="{task_id}"][data-status="running"]').wait_for()

    # The task ends while the page is open: a notification, and the panel says "done".
    (lab.root / "finish").touch()
    page.locator(".Toastify__toast", has_text=f"Task {task_id}").wait_for(timeout=30_000)
    assert "is done" in page.locator(".Toastify__toast", has_text=f"Task {task_id}").inner_text()
    panel.locator(f'[data-task="{task_id}"][data-status="completed"][data-attention="done"]').wait_for()
    assert f"task_{task_id}" not in terminal_names(lab)
    before = terminal_names(lab)

    # Following lab_url now: the transcript, read-only, and no new (empty) shell.
    page.goto(f"{started['lab_url']}&token={lab.token}")
    view = page.locator(f'[data-coda-transcript="{task_id}"][data-status="completed"]')
    view.wait_for()
    assert "stub transcript line one" in view.inner_text()
    assert "stub transcript last line" in view.inner_text()
    assert page.locator(".jp-Terminal").count() == 0
    assert terminal_names(lab) == before

    # A reload restores the same view, still without a terminal.
    page.reload()
    view.wait_for()
    assert terminal_names(lab) == before

    # The panel's Transcript button leads to the same view.
    show_tasks_panel(page)
    panel.locator(f'[data-task="{task_id}"]').get_by_role("button", name="Transcript").click()
    assert page.locator(f'[data-coda-transcript="{task_id}"]').count() == 1
    assert terminal_names(lab) == before
