"""Background agent tasks: store, runner and their terminals.

The app builds the one ``TaskRunner`` of a server with its other services and
starts it with them, so the restart recovery and the retention sweep happen at
start-up.
"""

from __future__ import annotations

from .runner import TaskError, TaskRequest, TaskRunner
from .store import STATUSES, TaskNotFound, TaskStore
from .terminals import JupyterTerminalLauncher

__all__ = [
    "STATUSES",
    "JupyterTerminalLauncher",
    "TaskError",
    "TaskNotFound",
    "TaskRequest",
    "TaskRunner",
    "TaskStore",
]
