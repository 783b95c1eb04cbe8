"""One setup step: its declaration, its per-run context and the subprocess helper."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

StepFunc = Callable[["StepContext"], Awaitable[str | None]]

# Subprocess output kept in a failure reason: enough to name the cause, short
# enough for a status line.
_REASON_CHARS = 500


class StepError(Exception):
    """A step failed for a reason that is shown to the user as-is.

    ``output`` holds the full output of the failed command, when there was one.
    """

    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output


@dataclass(frozen=True)
class Step:
    """A unit of setup work.

    ``run`` returns an optional one-line outcome (for example "installed
    0.61.0" or "already installed"); any exception marks the step failed.
    ``needs`` names other steps that must be done first; ``conditions``
    names caller-supplied conditions (see ``Condition``) that must hold.
    """

    id: str
    label: str
    run: StepFunc
    needs: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    timeout: float = 600.0


@dataclass(frozen=True)
class Condition:
    """A named precondition supplied by the caller.

    While ``check()`` is false a step that needs it is ``waiting`` with
    ``waiting_reason``; when ``skip_reason`` is set the step is ``skipped``
    with that reason instead, so overall setup can still reach ``done``.
    Either way the step runs once the caller reports the change through
    ``SetupEngine.condition_changed``.
    """

    check: Callable[[], bool]
    waiting_reason: str
    skip_reason: str | None = None


@dataclass
class StepContext:
    """What a running step gets: its log file, environment and process groups."""

    step_id: str
    log_path: Path
    env: dict[str, str]
    process_groups: set[int] = field(default_factory=set)

    def log(self, message: str) -> None:
        with self.log_path.open("a", encoding="utf-8") as handle:
            handle.write(message.rstrip("\n") + "\n")

    def kill_process_groups(self) -> None:
        for pgid in list(self.process_groups):
            _kill_group(pgid)
        self.process_groups.clear()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def run(
    ctx: StepContext,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run ``argv`` in its own session, logging to the step log; return its output.

    Output goes straight to the log file rather than a pipe so that a
    background grandchild holding the descriptor cannot hang the step. A
    non-zero exit raises ``StepError`` with the tail of the output. When the
    calling task is cancelled (engine timeout or shutdown) the whole process
    group is killed.
    """
    ctx.log(f"$ {' '.join(argv)}")
    start = ctx.log_path.stat().st_size
    with ctx.log_path.open("ab") as out:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                env=dict(ctx.env if env is None else env),
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise StepError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    ctx.process_groups.add(proc.pid)
    try:
        returncode = await proc.wait()
    except asyncio.CancelledError:
        _kill_group(proc.pid)
        ctx.process_groups.discard(proc.pid)
        raise
    # A clean exit leaves any background children alone (they are the step's
    # business) and stops tracking the group so a reused pid is never killed.
    ctx.process_groups.discard(proc.pid)
    with ctx.log_path.open("rb") as handle:
        handle.seek(start)
        output = handle.read().decode("utf-8", "replace")
    if returncode != 0:
        _kill_group(proc.pid)
        tail = output.strip()[-_REASON_CHARS:]
        message = f"{Path(argv[0]).name} exited with status {returncode}"
        raise StepError(f"{message}: {tail}" if tail else message, output=output)
    return output
