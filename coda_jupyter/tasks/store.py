"""Background tasks on disk: one folder per task under ``<data dir>/tasks/<id>/``.

``meta.json``       what was asked and the runner's view of the status (atomic rewrites)
``prompt.txt``      the envelope the agent receives
``status.jsonl``    progress lines, appended by the agent and the runner
``result.json``     the outcome, written by the agent or, failing that, by the runner
``transcript.log``  the terminal output, capped

The folder is the source of truth: a restarted server rebuilds everything from it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..util.files import atomic_write, atomic_write_json, read_json

RUNNING = "running"
# Statuses an agent may put in its own result.json.
AGENT_STATUSES = ("completed", "failed", "info_needed", "needs_approval")
# Statuses only the runner assigns.
RUNNER_STATUSES = ("timeout", "cancelled", "interrupted")
STATUSES = (RUNNING, *AGENT_STATUSES, *RUNNER_STATUSES)

TASK_ID = re.compile(r"^[0-9a-f]{12}$")
_TAIL_BYTES = 64 * 1024


class TaskNotFound(KeyError):
    def __str__(self) -> str:
        return f"unknown task id {self.args[0]!r}"


@dataclass(frozen=True)
class TaskPaths:
    root: Path

    @property
    def meta(self) -> Path:
        return self.root / "meta.json"

    @property
    def prompt(self) -> Path:
        return self.root / "prompt.txt"

    @property
    def status(self) -> Path:
        return self.root / "status.jsonl"

    @property
    def result(self) -> Path:
        return self.root / "result.json"

    @property
    def transcript(self) -> Path:
        return self.root / "transcript.log"


def new_task_id() -> str:
    # Hex only, so ``task_<id>`` is a valid Jupyter terminal name (``\w+``).
    return secrets.token_hex(6)


def now() -> float:
    return time.time()


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class TaskStore:
    """Reads and writes task folders; knows nothing about processes."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def paths(self, task_id: str) -> TaskPaths:
        if not TASK_ID.match(task_id):
            raise TaskNotFound(task_id)
        return TaskPaths(self.root / task_id)

    def exists(self, task_id: str) -> bool:
        return TASK_ID.match(task_id) is not None and self.paths(task_id).meta.is_file()

    def create(self, task_id: str, meta: dict[str, Any], envelope: str) -> TaskPaths:
        paths = self.paths(task_id)
        paths.root.mkdir(mode=0o700)
        atomic_write(paths.prompt, envelope)
        self.append_status(task_id, {"status": RUNNING, "message": "task created"})
        atomic_write_json(paths.meta, meta)
        return paths

    def meta(self, task_id: str) -> dict[str, Any]:
        meta = read_json(self.paths(task_id).meta)
        if not isinstance(meta, dict):
            raise TaskNotFound(task_id)
        return meta

    def update_meta(self, task_id: str, **changes: Any) -> dict[str, Any]:
        meta = {**self.meta(task_id), **changes}
        atomic_write_json(self.paths(task_id).meta, meta)
        return meta

    def append_status(self, task_id: str, entry: dict[str, Any]) -> None:
        # One short line per write with O_APPEND: readers never see half a line
        # from us, and the agent appends to the same file concurrently.
        line = json.dumps({"ts": iso(now()), **entry}) + "\n"
        fd = os.open(self.paths(task_id).status, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)

    def last_progress(self, task_id: str) -> str | None:
        """The newest ``message`` in status.jsonl; lines that are not JSON are skipped."""
        for line in reversed(_tail(self.paths(task_id).status, _TAIL_BYTES).splitlines()):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("message"), str):
                return entry["message"]
        return None

    def result(self, task_id: str) -> dict[str, Any] | None:
        result = read_json(self.paths(task_id).result)
        return result if isinstance(result, dict) else None

    def write_result(self, task_id: str, result: dict[str, Any]) -> None:
        atomic_write_json(self.paths(task_id).result, result)

    def transcript_tail(self, task_id: str, max_bytes: int = 4096) -> str:
        return _tail(self.paths(task_id).transcript, max_bytes)

    def ids(self) -> Iterator[str]:
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.is_dir() and TASK_ID.match(entry.name):
                yield entry.name

    def all_meta(self) -> list[dict[str, Any]]:
        metas = []
        for task_id in self.ids():
            meta = read_json(self.paths(task_id).meta)
            if isinstance(meta, dict):
                metas.append(meta)
        return metas

    def mark_interrupted(self) -> list[str]:
        """After a restart nothing is running: tasks left ``running`` were cut off."""
        interrupted = []
        for meta in self.all_meta():
            if meta.get("status") != RUNNING:
                continue
            task_id = meta["task_id"]
            ended = now()
            if self.result(task_id) is None:
                self.write_result(
                    task_id,
                    {
                        "status": "interrupted",
                        "summary": "The server stopped while the task was running.",
                        "files_changed": [],
                        "artifacts": [],
                        "errors": ["server restarted before the agent finished"],
                        "transcript_tail": strip_ansi(self.transcript_tail(task_id)),
                    },
                )
            self.update_meta(task_id, status="interrupted", ended_at=ended, ended_at_iso=iso(ended))
            self.append_status(task_id, {"status": "interrupted", "message": "server restarted"})
            interrupted.append(task_id)
        return interrupted

    def remove_expired(self, older_than: float) -> list[str]:
        """Delete finished tasks created before ``older_than`` (epoch seconds)."""
        removed = []
        for meta in self.all_meta():
            if meta.get("status") == RUNNING:
                continue
            if float(meta.get("created_at", 0)) < older_than:
                shutil.rmtree(self.paths(meta["task_id"]).root, ignore_errors=True)
                removed.append(meta["task_id"])
        return removed


def _tail(path: Path, max_bytes: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except FileNotFoundError:
        return ""
    return data.decode("utf-8", "replace")


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    """Terminal output as plain text: escape sequences and carriage returns removed."""
    return _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "")
