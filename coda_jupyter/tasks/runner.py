"""Runs background tasks: one agent, headless, in a named Jupyter terminal ``task_<id>``."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
from dataclasses import dataclass
from typing import IO, Any

from tornado.ioloop import IOLoop, PeriodicCallback
from traitlets import Float, Integer, Unicode, default
from traitlets.config import LoggingConfigurable

from ..agents import AgentSpec, Catalogue
from ..agents.headless import DEFAULT_PERMISSIONS, GENERIC, HeadlessUnsupported
from ..terminals.admission import AdmissionRefused
from ..terminals.agent_terminals import AgentTerminals, CwdRefused, Launch
from .orphans import signal_all, task_processes
from .store import (
    AGENT_STATUSES,
    RUNNING,
    TaskNotFound,
    TaskPaths,
    TaskStore,
    iso,
    new_task_id,
    now,
    strip_ansi,
)
from .terminals import ExitStatus, TerminalLauncher

# A login shell sees the user's profile (API keys, proxies) like an agent
# terminal does; /etc/profile resets PATH, so the terminal PATH is put back.
# The task reaches the agent on stdin, from its 0600 prompt file: on the
# command line any local user would read it with ps, and the kernel would cap
# its size (E2BIG).
_WRAPPER = 'export PATH="$CODA_TERMINAL_PATH"; exec "$@" < "$CODA_TASK_PROMPT_FILE"'
_TAIL_CHARS = 64 * 1024
_SUMMARY_CHARS = 2000
MAX_PROMPT_CHARS = 1_000_000


class TaskError(Exception):
    """A request the runner refuses; the message is shown to the caller as is."""


@dataclass(frozen=True)
class TaskRequest:
    prompt: str
    agent: str | None = None
    cwd: str | None = None
    context: dict[str, Any] | None = None
    previous_task_id: str | None = None
    timeout_s: int | None = None
    permissions: str = DEFAULT_PERMISSIONS


class _ActiveTask:
    """A running task: receives its terminal's output and exit."""

    def __init__(self, runner: TaskRunner, task_id: str, terminal: str, paths: TaskPaths, cap: int):
        self.runner = runner
        self.task_id = task_id
        self.terminal = terminal
        self.stop_reason: str | None = None
        self.timer: object | None = None
        self._cap = cap
        self._written = 0
        self._seen = 0
        self._tail = ""
        # Created 0600, never readable by others even for an instant: it holds
        # whatever the agent printed (and is kept until retention).
        fd = os.open(paths.transcript, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        self._transcript: IO[bytes] = os.fdopen(fd, "ab")

    def on_output(self, text: str) -> None:
        data = text.encode("utf-8", "replace")
        self._seen += len(data)
        self._tail = (self._tail + text)[-_TAIL_CHARS:]
        room = self._cap - self._written
        if room <= 0:
            return
        chunk = data[:room]
        self._transcript.write(chunk)
        self._written += len(chunk)
        if len(data) > room:
            note = f"\r\n[coda: transcript capped at {self._cap} bytes; its end is appended when the task ends]\r\n"
            self._transcript.write(note.encode())
        self._transcript.flush()

    def on_exit(self, status: ExitStatus) -> None:
        try:
            self.runner._finish(self, status)
        except Exception:  # terminado calls us from its read loop: never break it
            self.runner.log.exception("coda-jupyter: finishing task %s failed", self.task_id)

    def tail(self) -> str:
        return self._tail

    def close_transcript(self) -> None:
        if self._seen > self._written:
            omitted = max(0, self._seen - self._written - len(self._tail.encode("utf-8", "replace")))
            self._transcript.write(f"\r\n[coda: {omitted} bytes omitted]\r\n".encode())
            self._transcript.write(self._tail.encode("utf-8", "replace"))
        self._transcript.close()


class TaskRunner(LoggingConfigurable):
    """Starts, watches, times out, cancels and cleans up background tasks."""

    default_agent = Unicode(
        help="Agent id used by coda_run when the caller names none. Default: the catalogue's first agent."
    ).tag(config=True)

    @default("default_agent")
    def _default_default_agent(self) -> str:
        ids = self.catalogue.ids()
        return ids[0] if ids else ""

    max_concurrent = Integer(4, help="Tasks allowed to run at the same time.").tag(config=True)

    retention_hours = Float(24.0, help="Finished tasks older than this are listed no more and deleted.").tag(
        config=True
    )

    cleanup_interval_s = Float(3600.0, help="Seconds between two sweeps of expired task folders.").tag(config=True)

    default_timeout_s = Integer(3600, help="Task timeout when the caller gives none.").tag(config=True)

    max_timeout_s = Integer(24 * 3600, help="Largest timeout a caller may ask for.").tag(config=True)

    kill_grace_s = Float(5.0, help="Seconds between SIGTERM and SIGKILL when a task is cancelled or times out.").tag(
        config=True
    )

    transcript_max_bytes = Integer(
        5 * 1024 * 1024,
        help="Size cap of transcript.log; beyond it only the last 64 KiB are kept, at the end.",
    ).tag(config=True)

    def __init__(
        self,
        *,
        store: TaskStore,
        launcher: TerminalLauncher,
        catalogue: Catalogue,
        terminals: AgentTerminals,
        **kwargs: Any,
    ):
        """``terminals`` gives the cwd rule and the PATH; ``launcher`` starts through it."""
        super().__init__(**kwargs)
        self.store = store
        self.launcher = launcher
        self.catalogue = catalogue
        self.terminals = terminals
        self._active: dict[str, _ActiveTask] = {}
        self._cleanup: PeriodicCallback | None = None

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Recover from a previous run and schedule the retention sweep."""
        # A broken folder costs only itself: it is left on disk for its owner,
        # named here and in every listing, and the other tasks carry on.
        for bad in self.store.scan().skipped:
            self.log.warning("coda-jupyter: skipped task folder %s: %s", bad["folder"], bad["reason"])
        interrupted = self.store.mark_interrupted()
        if interrupted:
            self.log.info("coda-jupyter: %d task(s) concluded after the restart", len(interrupted))
            self._stop_survivors(interrupted)
        self.cleanup()
        self._cleanup = PeriodicCallback(self._scheduled_cleanup, self.cleanup_interval_s * 1000)
        self._cleanup.start()

    def _scheduled_cleanup(self) -> None:
        # PeriodicCallback takes a callback without a result.
        self.cleanup()

    def _stop_survivors(self, task_ids: list[str]) -> None:
        """Stop agents of interrupted tasks that outlived the previous server (see orphans.py)."""
        survivors = task_processes(task_ids)
        if not survivors:
            return
        self.log.warning(
            "coda-jupyter: stopping %d process(es) of interrupted task(s) that outlived the previous server",
            len(survivors),
        )
        signal_all(survivors, signal.SIGTERM)
        # Looked up again: only what is still there (and still one of ours) gets SIGKILL.
        IOLoop.current().call_later(self.kill_grace_s, lambda: signal_all(task_processes(task_ids), signal.SIGKILL))

    def stop(self) -> None:
        if self._cleanup is not None:
            self._cleanup.stop()

    def cleanup(self) -> list[str]:
        removed = self.store.remove_expired(now() - self.retention_hours * 3600)
        if removed:
            self.log.info("coda-jupyter: removed %d expired task folder(s)", len(removed))
        return removed

    # -- operations ------------------------------------------------------------

    def running_count(self) -> int:
        return len(self._active)

    def submit(self, request: TaskRequest) -> dict[str, Any]:
        spec, prompt, cwd = self._checked(request)
        headless = spec.headless or GENERIC
        timeout_s = self._timeout(request.timeout_s)
        previous = self._previous(request.previous_task_id)
        executable = shutil.which(spec.argv[0], path=self.terminals.path())
        if executable is None:
            hint = f" It is installed from the {spec.install_hint}." if spec.install_hint else ""
            raise TaskError(f"{spec.label} is not installed: {spec.argv[0]!r} is not on PATH.{hint}")
        task_id = new_task_id()
        paths = self.store.paths(task_id)
        envelope = _envelope(task_id, prompt, cwd, paths, request.context, previous)
        try:
            command = headless.command(spec.argv, _pointer(task_id, paths), request.permissions)
        except HeadlessUnsupported as err:
            raise TaskError(f"{spec.label}: {err}") from None
        if len(self._active) >= self.max_concurrent:
            raise TaskError(
                f"Concurrency limit reached: {len(self._active)} task(s) running, at most "
                f"{self.max_concurrent}. Try again when one finishes, or cancel one with coda_cancel."
            )
        bypasses = request.permissions in headless.bypassing_levels()
        meta = _new_meta(task_id, spec, request, cwd, prompt, timeout_s, previous, command, bypasses)
        self.store.create(task_id, meta, envelope)
        self._launch(spec, meta, paths, timeout_s)
        return meta

    def _checked(self, request: TaskRequest) -> tuple[AgentSpec, str, str]:
        """The agent, the stripped prompt and the working directory, or ``TaskError``."""
        spec = self._agent(request.agent)
        prompt = request.prompt.strip()
        if not prompt:
            raise TaskError("prompt must not be empty")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise TaskError(f"prompt is longer than {MAX_PROMPT_CHARS} characters")
        try:
            cwd = self.terminals.resolve_cwd(request.cwd)
        except CwdRefused as err:
            raise TaskError(err.message) from None
        return spec, prompt, cwd

    def _launch(self, spec: AgentSpec, meta: dict[str, Any], paths: TaskPaths, timeout_s: int) -> None:
        """Start the task's terminal; the task leaves no trace when admission refuses it."""
        task_id, terminal = meta["task_id"], meta["terminal"]
        active = _ActiveTask(self, task_id, terminal, paths, self.transcript_max_bytes)
        env = {
            "CODA_TASK_ID": task_id,
            "CODA_TASK_DIR": str(paths.root),
            "CODA_TASK_PROMPT_FILE": str(paths.prompt),
            "CODA_TASK_STATUS_FILE": str(paths.status),
            "CODA_TASK_RESULT_FILE": str(paths.result),
        }
        launch = Launch(
            spec,
            meta["cwd"],
            name=terminal,
            argv=["bash", "-l", "-c", _WRAPPER, "coda-task", *meta["command"]],
            env=env,
            what=f"a background task with {spec.label}",
            track=False,
        )
        try:
            self.launcher.create(launch, active)
        except AdmissionRefused as err:
            # Refused before anything ran: the task leaves no trace, as if never submitted.
            active.close_transcript()
            shutil.rmtree(paths.root, ignore_errors=True)
            raise TaskError(err.message) from None
        except Exception as err:
            active.close_transcript()
            message = getattr(err, "log_message", None) or str(err)
            self._conclude(task_id, "failed", {"summary": "The task could not start.", "errors": [message]})
            raise TaskError(f"could not start the task: {message}") from None
        # Counted as running only once started, so admission judged it against the others alone.
        self._active[task_id] = active
        active.timer = IOLoop.current().call_later(timeout_s, self._expire, task_id)
        started = f"{spec.label} started in terminal {terminal}"
        self.store.append_status(task_id, {"status": RUNNING, "message": started})
        self.log.info("coda-jupyter: task %s started (%s) in terminal %s", task_id, spec.id, terminal)

    def cancel(self, task_id: str) -> dict[str, Any]:
        meta = self.store.meta(task_id)
        active = self._active.get(task_id)
        if active is None:
            return meta
        return self._stop(active, "cancelled", "cancelled by the caller")

    def get(self, task_id: str) -> dict[str, Any]:
        """Everything about one task, for coda_get_result and the Agent tasks panel."""
        meta = self.store.meta(task_id)
        return {
            **_public(meta),
            "result": self.store.result(task_id),
            "progress": self.store.last_progress(task_id),
            "transcript_tail": strip_ansi(self.store.transcript_tail(task_id)),
        }

    def list(self, status: str | None = None, limit: int = 50) -> dict[str, Any]:
        since = now() - self.retention_hours * 3600
        scan = self.store.scan()
        metas = [m for m in scan.metas if m["created_at"] >= since]
        metas.sort(key=lambda m: m["created_at"], reverse=True)
        counts: dict[str, int] = {}
        for meta in metas:
            counts[meta["status"]] = counts.get(meta["status"], 0) + 1
        chosen = [m for m in metas if status is None or m["status"] == status][:limit]
        return {
            "tasks": [self._entry(meta) for meta in chosen],
            "counts": counts,
            "retention_hours": self.retention_hours,
            "skipped": scan.skipped,
        }

    # -- internals -------------------------------------------------------------

    def _entry(self, meta: dict[str, Any]) -> dict[str, Any]:
        task_id = meta["task_id"]
        entry = _public(meta)
        if meta.get("status") == RUNNING:
            entry["progress"] = self.store.last_progress(task_id)
        else:
            result = self.store.result(task_id) or {}
            entry["summary"] = _summary(str(result.get("summary", "")), 300)
        return entry

    def _agent(self, agent_id: str | None) -> AgentSpec:
        chosen = agent_id or self.default_agent
        spec = self.catalogue.get(chosen)
        if spec is None:
            which = "agent" if agent_id else "default agent (TaskRunner.default_agent)"
            raise TaskError(f"unknown {which} {chosen!r}; known: {self.catalogue.ids()}")
        return spec

    def _timeout(self, timeout_s: int | None) -> int:
        if timeout_s is None:
            return self.default_timeout_s
        if timeout_s < 1 or timeout_s > self.max_timeout_s:
            raise TaskError(f"timeout_s must be between 1 and {self.max_timeout_s}")
        return timeout_s

    def _previous(self, task_id: str | None) -> dict[str, Any] | None:
        if not task_id:
            return None
        try:
            meta = self.store.meta(task_id)
        except TaskNotFound:
            raise TaskError(f"previous_task_id {task_id!r} is not a known task") from None
        return {**meta, "dir": str(self.store.paths(task_id).root), "result": self.store.result(task_id)}

    def _expire(self, task_id: str) -> None:
        active = self._active.get(task_id)
        if active is not None:
            meta = self.store.meta(task_id)
            self._stop(active, "timeout", f"timed out after {meta.get('timeout_s')} s")

    def _stop(self, active: _ActiveTask, reason: str, message: str) -> dict[str, Any]:
        if active.stop_reason is None:
            active.stop_reason = reason
            self.store.append_status(active.task_id, {"status": reason, "message": message})
            self.launcher.kill(active.terminal, signal.SIGTERM)
            IOLoop.current().call_later(self.kill_grace_s, self.launcher.kill, active.terminal, signal.SIGKILL)
        return self.store.update_meta(active.task_id, status=active.stop_reason)

    def _finish(self, active: _ActiveTask, exit_status: ExitStatus) -> None:
        task_id = active.task_id
        self._active.pop(task_id, None)
        if active.timer is not None:
            IOLoop.current().remove_timeout(active.timer)
        active.close_transcript()
        tail = _summary(strip_ansi(active.tail()).strip(), _SUMMARY_CHARS, keep="end")
        exit_info = {"exit_code": exit_status.code, "signal": exit_status.signal, "transcript_tail": tail}
        agent_result = self.store.result(task_id)
        hung_up = exit_status.signal == signal.SIGHUP or exit_status.code == 128 + signal.SIGHUP
        reason = active.stop_reason or ("interrupted" if hung_up else None)
        if reason is not None:
            messages = {
                "cancelled": "The task was cancelled.",
                "timeout": "The task timed out.",
                "interrupted": "The task's terminal was closed before the agent finished.",
            }
            extra: dict[str, Any] = {"summary": messages[reason], "errors": [messages[reason]], **exit_info}
            if agent_result is not None:
                extra["agent_result"] = agent_result
            self._conclude(task_id, reason, extra)
        elif agent_result is not None:
            status = agent_result.get("status")
            if status not in AGENT_STATUSES:
                status = "completed" if exit_status.code == 0 else "failed"
            self._conclude(task_id, status, {**agent_result, "exit_code": exit_status.code})
        elif exit_status.code == 0:
            self._conclude(task_id, "completed", {"summary": tail or "The agent exited without output.", **exit_info})
        else:
            how = f"exit code {exit_status.code}" if exit_status.code is not None else f"signal {exit_status.signal}"
            self._conclude(
                task_id,
                "failed",
                {"summary": f"The agent ended with {how} without writing result.json.", "errors": [how], **exit_info},
            )
        self.log.info("coda-jupyter: task %s ended %s", task_id, self.store.meta(task_id).get("status"))

    def _conclude(self, task_id: str, status: str, fields: dict[str, Any]) -> None:
        result = {"files_changed": [], "artifacts": [], "errors": [], **fields, "status": status}
        result.setdefault("summary", "")
        self.store.write_result(task_id, result)
        ended = now()
        self.store.update_meta(
            task_id,
            status=status,
            ended_at=ended,
            ended_at_iso=iso(ended),
            exit_code=fields.get("exit_code"),
        )
        self.store.append_status(task_id, {"status": status, "message": str(result["summary"])[:200]})


def _public(meta: dict[str, Any]) -> dict[str, Any]:
    """The meta fields shown to callers, plus elapsed time."""
    end = meta.get("ended_at") or now()
    keys = (
        "task_id",
        "status",
        "agent",
        "terminal",
        "cwd",
        "permissions",
        "bypasses_approvals",
        "timeout_s",
        "previous_task_id",
        "prompt_summary",
        "created_at_iso",
        "ended_at_iso",
        "exit_code",
    )
    entry = {key: meta.get(key) for key in keys}
    entry["elapsed_s"] = round(float(end) - float(meta.get("created_at", end)), 1)
    return entry


def _new_meta(
    task_id: str,
    spec: AgentSpec,
    request: TaskRequest,
    cwd: str,
    prompt: str,
    timeout_s: int,
    previous: dict[str, Any] | None,
    command: list[str],
    bypasses_approvals: bool,
) -> dict[str, Any]:
    """meta.json of a task about to start, in the order its fields are written."""
    created = now()
    return {
        "task_id": task_id,
        "agent": spec.id,
        "agent_label": spec.label,
        "status": RUNNING,
        "terminal": f"task_{task_id}",
        "cwd": cwd,
        "permissions": request.permissions,
        "bypasses_approvals": bypasses_approvals,
        "timeout_s": timeout_s,
        "previous_task_id": previous["task_id"] if previous else None,
        "prompt_summary": _summary(prompt, 100),
        "context": request.context,
        "command": command,
        "created_at": created,
        "created_at_iso": iso(created),
        "ended_at": None,
        "exit_code": None,
    }


def _summary(text: str, limit: int, keep: str = "start") -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + "…" if keep == "start" else "…" + text[-limit:]


def _pointer(task_id: str, paths: TaskPaths) -> str:
    """The prompt argument of an agent that cannot read stdin: one line naming the task's file."""
    return (
        f"CODA background task {task_id}: your task is in the file {paths.prompt} "
        "(also on standard input). Read that file and do what it says."
    )


def _envelope(
    task_id: str,
    prompt: str,
    cwd: str,
    paths: TaskPaths,
    context: dict[str, Any] | None,
    previous: dict[str, Any] | None,
) -> str:
    """The text the agent receives. It starts with a letter so that no CLI reads it as a flag."""
    parts = [
        f"CODA background task {task_id}",
        "You run unattended: nobody can answer questions or approve prompts during this run.",
        f"Working directory: {cwd}",
        "",
        "TASK:",
        prompt,
    ]
    if context:
        parts += ["", "CONTEXT (JSON):", json.dumps(context, indent=2, sort_keys=True)]
    if previous:
        parts += [
            "",
            f"FOLLOW-UP of task {previous['task_id']}: its folder is {previous['dir']}.",
            f"Read {previous['dir']}/prompt.txt for what was asked"
            f" and {previous['dir']}/result.json for what was done.",
        ]
        summary = (previous.get("result") or {}).get("summary")
        if summary:
            parts.append(f"Its summary: {_summary(str(summary), 1000)}")
    example_progress = json.dumps({"step": "plan", "message": "Reading the project layout"})
    example_result = json.dumps(
        {"status": "completed", "summary": "What was done", "files_changed": ["path"], "artifacts": [], "errors": []}
    )
    parts += [
        "",
        "REPORTING:",
        f"- While you work, append one JSON object per line to {paths.status}, for example:",
        f"  {example_progress}",
        f"- When you are done, write one JSON object to {paths.result} (write a temporary file, then rename it):",
        f"  {example_result}",
        "  status is completed, failed, info_needed or needs_approval; for the last two put what you",
        '  need from the user in a "feedback" field.',
        f"The same paths are in the environment: {shlex.join(['CODA_TASK_STATUS_FILE', 'CODA_TASK_RESULT_FILE'])}.",
    ]
    return "\n".join(parts) + "\n"
