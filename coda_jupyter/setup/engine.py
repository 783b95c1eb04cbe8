"""Runs a graph of setup steps in the background with a bounded pool.

The engine lives on the server's asyncio loop: ``start()`` only schedules
tasks, so the server keeps answering while installs run. Blocking work is
done by steps in subprocesses (see ``step.run``), never on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .step import Condition, Step, StepContext, StepError

log = logging.getLogger(__name__)

STEP_STATUSES = ("pending", "waiting", "running", "done", "skipped", "failed")
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|CLIENT_ID|AUTH", re.IGNORECASE)
_MIN_SECRET_CHARS = 8
_TAIL_BYTES = 4096


@dataclass
class _Record:
    step: Step
    status: str = "pending"
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    outcome: str | None = None
    # Why a step is skipped or waiting: ("failed", root step id) or
    # ("condition", condition name). Only condition skips re-evaluate by themselves.
    cause: tuple[str, str] | None = None
    task: asyncio.Task[None] | None = None


def scrubbed_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server environment minus anything that looks like a credential.

    Install steps never need credentials, and a subprocess that echoes its
    environment must not leak one into a step log.
    """
    source = os.environ if environ is None else environ
    return {name: value for name, value in source.items() if not _SECRET_NAME.search(name)}


class SetupEngine:
    """Dependency-ordered, parallel, observable execution of ``Step`` objects."""

    def __init__(
        self,
        steps: Iterable[Step],
        state_dir: Path,
        conditions: Mapping[str, Condition] | None = None,
        max_parallel: int = 4,
        env: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        log_tail_lines: int = 20,
    ) -> None:
        ordered = _topological(list(steps))
        self._records = {step.id: _Record(step) for step in ordered}
        self._dependants = {step.id: [s.id for s in ordered if step.id in s.needs] for step in ordered}
        self._conditions: dict[str, Condition] = dict(conditions or {})
        self.log_dir = Path(state_dir) / "setup"
        self._max_parallel = max(1, max_parallel)
        self._semaphore: asyncio.Semaphore | None = None
        self._env = scrubbed_environ(env)
        self._secrets = {s for s in secrets if len(s) >= _MIN_SECRET_CHARS}
        self._secrets.update(
            value for name, value in os.environ.items() if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_CHARS
        )
        self._tail_lines = log_tail_lines
        self._started = False
        self._listeners: list[Callable[[], None]] = []
        self._changed: asyncio.Condition | None = None
        self.version = 0

    # -- public API -----------------------------------------------------------

    def start(self) -> None:
        """Begin running steps on the current loop and return at once."""
        if self._started:
            return
        asyncio.get_running_loop()  # fail here, not later, when called off-loop
        self._semaphore = asyncio.Semaphore(self._max_parallel)
        self._changed = asyncio.Condition()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._started = True
        self._schedule()

    async def stop(self) -> None:
        """Cancel running steps (killing their process groups) and wait for them."""
        tasks = [r.task for r in self._records.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def condition_changed(self, name: str) -> None:
        """Re-check steps bound to ``name`` (and steps skipped because of them)."""
        for record in self._records.values():
            if record.status in ("waiting", "skipped") and record.cause == ("condition", name):
                self._reset(record)
        self._schedule()

    def retry(self, step_id: str | None = None) -> list[str]:
        """Rerun failed or skipped steps (all, or ``step_id`` and its dependants).

        Returns the ids that were reset; raises ``KeyError`` for an unknown id.
        """
        if step_id is None:
            targets = [r for r in self._records.values() if r.status in ("failed", "skipped")]
        else:
            if step_id not in self._records:
                raise KeyError(step_id)
            root = self._records[step_id]
            if root.status not in ("failed", "skipped"):
                return []
            targets = [self._records[i] for i in self._closure(step_id)]
            targets = [r for r in targets if r.status in ("failed", "skipped")]
        for record in targets:
            self._reset(record)
        self._schedule()
        return [r.step.id for r in targets]

    def snapshot(self) -> dict[str, Any]:
        """The status payload of ``GET coda/api/setup``."""
        now = time.time()
        steps = [self._step_view(record, now) for record in self._records.values()]
        return {"status": self._overall(), "steps": steps}

    def outcome(self, step_id: str) -> str | None:
        """What a finished step reported, e.g. "already installed 0.61.0"."""
        return self._records[step_id].outcome

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the loop) after every state change."""
        self._listeners.append(callback)

    async def wait_changed(self, version: int, timeout: float | None = None) -> int:
        """Wait until ``self.version`` moves past ``version``; return the new version."""
        if self._changed is None:
            raise RuntimeError("the setup engine has not been started")
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.version != version), timeout)
        return self.version

    async def wait_settled(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait until nothing is pending or running; return the snapshot."""
        if self._changed is None:
            raise RuntimeError("the setup engine has not been started")
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: self._started and not self._busy()),
                timeout,
            )
        return self.snapshot()

    # -- scheduling -------------------------------------------------------------

    def _schedule(self) -> None:
        if not self._started:
            return
        for record in self._records.values():  # topological order
            if record.task is not None:
                continue
            if record.status == "pending" or (
                record.status in ("waiting", "skipped") and record.cause and record.cause[0] == "condition"
            ):
                self._evaluate(record)
        self._notify()

    def _evaluate(self, record: _Record) -> None:
        needs = [self._records[n] for n in record.step.needs]
        for need in needs:
            if need.status == "failed" or (need.status == "skipped" and need.cause and need.cause[0] == "failed"):
                root = need.step.id if need.status == "failed" else need.cause[1]  # type: ignore[index]
                self._settle(record, "skipped", f"needs {root}, which failed", ("failed", root))
                return
        for need in needs:
            if need.status in ("skipped", "waiting"):
                self._settle(record, need.status, need.error, need.cause)
                return
        if any(need.status != "done" for need in needs):
            self._settle(record, "pending", None, None)
            return
        for name in record.step.conditions:
            condition = self._conditions.get(name)
            if condition is None:
                self._settle(record, "waiting", f"waiting for {name}", ("condition", name))
                return
            if not self._holds(condition, name):
                if condition.skip_reason is not None:
                    self._settle(record, "skipped", condition.skip_reason, ("condition", name))
                else:
                    self._settle(record, "waiting", condition.waiting_reason, ("condition", name))
                return
        self._settle(record, "pending", None, None)
        record.task = asyncio.get_running_loop().create_task(self._execute(record))

    @staticmethod
    def _holds(condition: Condition, name: str) -> bool:
        try:
            return bool(condition.check())
        except Exception:
            log.exception("coda-jupyter: setup condition %s raised; treating it as unmet", name)
            return False

    def _settle(self, record: _Record, status: str, error: str | None, cause: tuple[str, str] | None) -> None:
        changed = record.status != status
        record.status, record.error, record.cause = status, error, cause
        if changed:
            record.started_at = None
            record.finished_at = time.time() if status == "skipped" else None

    async def _execute(self, record: _Record) -> None:
        assert self._semaphore is not None
        step = record.step
        async with self._semaphore:
            record.status, record.started_at, record.finished_at = "running", time.time(), None
            record.error = record.outcome = None
            log_path = self.log_dir / f"{step.id}.log"
            log_path.write_text(f"# {step.label}: started {time.strftime('%Y-%m-%dT%H:%M:%S')}\n", encoding="utf-8")
            ctx = StepContext(step_id=step.id, log_path=log_path, env=dict(self._env))
            self._notify()
            work = asyncio.ensure_future(step.run(ctx))
            try:
                finished, _ = await asyncio.wait({work}, timeout=step.timeout)
                if not finished:
                    work.cancel()
                    await asyncio.gather(work, return_exceptions=True)
                    raise StepError(f"timed out after {step.timeout:g}s")
                record.outcome = work.result()
                record.status = "done"
                ctx.log(f"# done: {record.outcome or 'ok'}")
            except asyncio.CancelledError:
                work.cancel()
                ctx.kill_process_groups()
                record.status, record.error = "failed", "cancelled"
                raise
            except StepError as exc:
                self._fail(record, ctx, str(exc))
            except Exception as exc:
                ctx.log(traceback.format_exc())
                self._fail(record, ctx, f"{type(exc).__name__}: {exc}")
            finally:
                record.finished_at = time.time()
                record.task = None
        self._schedule()

    def _fail(self, record: _Record, ctx: StepContext, reason: str) -> None:
        ctx.kill_process_groups()
        record.status, record.error = "failed", self._redact(reason)
        ctx.log(f"# failed: {record.error}")

    def _reset(self, record: _Record) -> None:
        record.status, record.error, record.cause, record.outcome = "pending", None, None, None
        record.started_at = record.finished_at = None

    def _closure(self, step_id: str) -> list[str]:
        seen = [step_id]
        for current in seen:
            seen.extend(d for d in self._dependants[current] if d not in seen)
        return seen

    # -- views ------------------------------------------------------------------

    def _busy(self) -> bool:
        return any(r.status in ("pending", "running") for r in self._records.values())

    def _overall(self) -> str:
        if not self._started:
            return "pending"
        statuses = {r.status for r in self._records.values()}
        # A failure is reported at once, even while other steps still run: the
        # step list says what is still moving.
        if "failed" in statuses:
            return "failed"
        if self._busy():
            return "running"
        if "waiting" in statuses:
            return "waiting"
        return "done"

    def _step_view(self, record: _Record, now: float) -> dict[str, Any]:
        duration: float | None = None
        if record.started_at is not None:
            duration = round((record.finished_at or now) - record.started_at, 3)
        return {
            "id": record.step.id,
            "label": record.step.label,
            "status": record.status,
            "needs": list(record.step.needs),
            "started_at": record.started_at,
            "finished_at": record.finished_at,
            "duration_s": duration,
            "error": self._redact(record.error) if record.error else None,
            "log_tail": self._log_tail(record.step.id),
        }

    def _log_tail(self, step_id: str) -> str:
        path = self.log_dir / f"{step_id}.log"
        try:
            with path.open("rb") as handle:
                handle.seek(max(0, path.stat().st_size - _TAIL_BYTES))
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return self._redact("\n".join(text.splitlines()[-self._tail_lines :]))

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "****")
        return text

    def _notify(self) -> None:
        self.version += 1
        for callback in list(self._listeners):
            try:
                callback()
            except Exception:
                log.exception("coda-jupyter: setup listener failed")
        if self._changed is not None:
            asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()


def _topological(steps: list[Step]) -> list[Step]:
    """Order steps so every step follows its needs; reject bad graphs early."""
    by_id: dict[str, Step] = {}
    for step in steps:
        if step.id in by_id:
            raise ValueError(f"duplicate setup step id {step.id!r}")
        by_id[step.id] = step
    for step in steps:
        for need in step.needs:
            if need not in by_id:
                raise ValueError(f"setup step {step.id!r} needs unknown step {need!r}")
    # Depth-first placement keeps the declared order wherever the graph allows,
    # so the status list reads the way the plan was written.
    ordered: list[Step] = []
    state: dict[str, str] = {}

    def place(step: Step, path: tuple[str, ...]) -> None:
        if state.get(step.id) == "placed":
            return
        if step.id in path:
            raise ValueError(f"setup steps form a cycle: {' -> '.join((*path, step.id))}")
        for need in step.needs:
            place(by_id[need], (*path, step.id))
        state[step.id] = "placed"
        ordered.append(step)

    for step in steps:
        place(step, ())
    return ordered
