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
import math
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ..util.files import atomic_write, atomic_write_json

RUNNING = "running"
# Statuses an agent may put in its own result.json.
AGENT_STATUSES = ("completed", "failed", "info_needed", "needs_approval")
# Statuses only the runner assigns.
RUNNER_STATUSES = ("timeout", "cancelled", "interrupted")
STATUSES = (RUNNING, *AGENT_STATUSES, *RUNNER_STATUSES)
# Set while the runner waits for the agent to exit; concluded once it has.
_STOPPING = ("cancelled", "timeout")

TASK_ID = re.compile(r"^[0-9a-f]{12}$")
_TAIL_BYTES = 64 * 1024


class TaskNotFound(KeyError):
    def __str__(self) -> str:
        return f"unknown task id {self.args[0]!r}"


class BadTaskFolder(TaskNotFound):
    """A task folder whose meta.json cannot be used: skipped, reported, left on disk."""

    def __init__(self, task_id: str, reason: str):
        super().__init__(task_id, reason)
        self.task_id = task_id
        self.reason = reason

    def __str__(self) -> str:
        return f"task {self.task_id!r} cannot be read: {self.reason}"


@dataclass(frozen=True)
class Scan:
    """Every task folder: the usable metas, and the folders skipped with why."""

    metas: list[dict[str, Any]]
    skipped: list[dict[str, str]]


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
        """The task's meta.json; ``BadTaskFolder`` when it exists but cannot be used."""
        paths = self.paths(task_id)
        try:
            raw = paths.meta.read_bytes()
        except FileNotFoundError:
            if paths.root.is_dir():
                raise BadTaskFolder(task_id, "meta.json is missing") from None
            raise TaskNotFound(task_id) from None
        except OSError as err:
            raise BadTaskFolder(task_id, f"meta.json cannot be read ({err.strerror})") from None
        try:
            meta = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise BadTaskFolder(task_id, "meta.json is not UTF-8 text") from None
        except ValueError:
            raise BadTaskFolder(task_id, "meta.json is not valid JSON") from None
        problem = _meta_problem(task_id, meta)
        if problem is not None:
            raise BadTaskFolder(task_id, problem)
        return cast("dict[str, Any]", meta)  # _meta_problem checked that it is an object

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
            message = entry.get("message") if isinstance(entry, dict) else None
            if isinstance(message, str):
                return message
        return None

    def result(self, task_id: str) -> dict[str, Any] | None:
        """result.json when it holds a JSON object; anything else (the agent writes it) is no result."""
        try:
            result = json.loads(self.paths(task_id).result.read_bytes().decode("utf-8"))
        except (OSError, ValueError):
            return None
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

    def scan(self) -> Scan:
        metas: list[dict[str, Any]] = []
        skipped: list[dict[str, str]] = []
        for task_id in sorted(self.ids()):
            try:
                metas.append(self.meta(task_id))
            except BadTaskFolder as bad:
                skipped.append({"folder": task_id, "reason": bad.reason})
            except TaskNotFound:
                continue  # removed since the listing
        return Scan(metas, skipped)

    def all_meta(self) -> list[dict[str, Any]]:
        return self.scan().metas

    def mark_interrupted(self) -> list[str]:
        """After a restart nothing is running: conclude the tasks the previous server left open.

        A ``running`` task was cut off and becomes ``interrupted``. A task
        already marked ``cancelled`` or ``timeout`` but never concluded (no
        ``ended_at``) was being stopped when the server died: it keeps that
        status and gets its end. Returns both kinds, whose agents may still run.
        """
        concluded = []
        for meta in self.all_meta():
            status = meta.get("status")
            if status == RUNNING:
                status, summary = "interrupted", "The server stopped while the task was running."
            elif status in _STOPPING and meta.get("ended_at") is None:
                summary = f"The server stopped while the task was being stopped ({status})."
            else:
                continue
            task_id = meta["task_id"]
            ended = now()
            if self.result(task_id) is None:
                self.write_result(
                    task_id,
                    {
                        "status": status,
                        "summary": summary,
                        "files_changed": [],
                        "artifacts": [],
                        "errors": ["server restarted before the agent finished"],
                        "transcript_tail": strip_ansi(self.transcript_tail(task_id)),
                    },
                )
            self.update_meta(task_id, status=status, ended_at=ended, ended_at_iso=iso(ended))
            self.append_status(task_id, {"status": status, "message": "server restarted"})
            concluded.append(task_id)
        return concluded

    def remove_expired(self, older_than: float) -> list[str]:
        """Delete finished tasks created before ``older_than`` (epoch seconds)."""
        removed = []
        for meta in self.all_meta():
            if meta.get("status") == RUNNING:
                continue
            if meta["created_at"] < older_than:
                shutil.rmtree(self.paths(meta["task_id"]).root, ignore_errors=True)
                removed.append(meta["task_id"])
        return removed


def _meta_problem(task_id: str, meta: Any) -> str | None:
    """Why a parsed meta.json cannot be used, or None. Every later read relies on these fields."""
    if not isinstance(meta, dict):
        return "meta.json does not hold a JSON object"
    if meta.get("task_id") != task_id:
        return "task_id is missing or is not the folder's name"
    if meta.get("status") not in STATUSES:
        return "status is missing or unknown"
    if not _is_time(meta.get("created_at")):
        return "created_at is not a number"
    if meta.get("ended_at") is not None and not _is_time(meta["ended_at"]):
        return "ended_at is not a number"
    return None


def _is_time(value: Any) -> bool:
    # bool is an int to Python, and json.loads accepts NaN and Infinity.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _tail(path: Path, max_bytes: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return ""
    return data.decode("utf-8", "replace")


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    """Terminal output as plain text: escape sequences and carriage returns removed."""
    return _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "")
