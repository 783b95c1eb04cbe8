"""Background agent tasks: store, runner and their terminals.

``setup_tasks(coda)`` builds the one ``TaskRunner`` of a server and keeps it
in the web app settings under ``coda_tasks``. ``CodaApp.initialize_settings``
should call it so that the restart recovery and the retention sweep happen at
start-up; handlers call ``task_runner`` which sets it up on first use otherwise.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .runner import TaskError, TaskRequest, TaskRunner
from .store import STATUSES, TaskNotFound, TaskStore
from .terminals import JupyterTerminalLauncher

if TYPE_CHECKING:
    from ..app import CodaApp

SETTINGS_KEY = "coda_tasks"

__all__ = [
    "STATUSES",
    "TaskError",
    "TaskNotFound",
    "TaskRequest",
    "TaskRunner",
    "setup_tasks",
    "task_runner",
]


def setup_tasks(coda: CodaApp) -> TaskRunner:
    settings = coda.server.web_app.settings
    existing: TaskRunner | None = settings.get(SETTINGS_KEY)
    if existing is not None:
        return existing
    runner = TaskRunner(
        parent=coda,
        store=TaskStore(os.path.join(coda.data_dir, "tasks")),
        launcher=JupyterTerminalLauncher(coda.terminal_manager),
        catalogue=coda.catalogue,
        root_dir=coda.server.root_dir,
        base_env=coda.terminal_env_changes,
        terminal_path=coda.terminal_path,
        admit=coda.admission.admit,
    )
    runner.start()
    settings[SETTINGS_KEY] = runner
    return runner


def task_runner(settings: dict[str, Any]) -> TaskRunner:
    runner = settings.get(SETTINGS_KEY)
    if runner is None:
        runner = setup_tasks(settings["coda_app"])
    return runner
