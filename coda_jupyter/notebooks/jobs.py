"""Cell executions that outlive the tool call that started them, fetched later by handle."""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from .paths import NotebookError

# Finished executions kept for a follow-up fetch; the oldest go first.
MAX_FINISHED_JOBS = 200


class NotRun(NotebookError):
    """The execution failed before any cell ran (no such cell, not a code cell): the tool call's own error."""


@dataclass
class CellRun:
    cell_id: str
    status: str  # ok | error | aborted | dead | missing
    execution_count: int | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Job:
    handle: str
    path: str
    task: asyncio.Task[list[CellRun]]
    # Filled in as cells finish, so a handle fetched mid-way shows the finished ones.
    runs: list[CellRun] = field(default_factory=list)


class Jobs:
    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()

    def start(self, path: str, work: Any) -> Job:
        """``work(runs)`` appends to ``runs`` as it goes and returns it."""
        runs: list[CellRun] = []
        coroutine: Coroutine[Any, Any, list[CellRun]] = work(runs)
        job = Job(secrets.token_hex(8), path, asyncio.ensure_future(coroutine), runs)
        self._jobs[job.handle] = job
        self._forget_old()
        return job

    def get(self, handle: str) -> Job:
        job = self._jobs.get(handle)
        if job is None:
            raise NotebookError(f"unknown handle {handle!r} (handles are forgotten after a server restart)")
        return job

    def running(self, path: str) -> list[Job]:
        return [job for job in self._jobs.values() if job.path == path and not job.task.done()]

    def _forget_old(self) -> None:
        finished = [handle for handle, job in self._jobs.items() if job.task.done()]
        for handle in finished[: max(0, len(finished) - MAX_FINISHED_JOBS)]:
            del self._jobs[handle]

    def cancel_all(self) -> None:
        for job in self._jobs.values():
            job.task.cancel()
