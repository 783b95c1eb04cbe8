"""Closing agent terminals nobody has used for a long time, after a warning in the terminal.

An agent left open in a forgotten tab holds hundreds of MiB for nothing; in a
Databricks App that memory is what the next agent needs. Activity is what
Jupyter already records per terminal (``last_activity``: output from the
program, input and resizes from a browser). Only agent terminals opened from
the launcher are culled: background tasks have their own timeout, and plain
terminals are the user's.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from tornado.ioloop import PeriodicCallback
from traitlets import Float, default
from traitlets.config import LoggingConfigurable


class TerminalCuller(LoggingConfigurable):
    """Warns, then shuts down, agent terminals idle for ``idle_timeout`` seconds."""

    idle_timeout = Float(
        help="""Seconds without input or output after which an agent terminal is shut
        down. 0: never. Default: 24 hours in Databricks App mode, else 0.""",
    ).tag(config=True)

    @default("idle_timeout")
    def _default_idle_timeout(self) -> float:
        return 24 * 3600.0 if bool(getattr(self.parent, "apps_mode", False)) else 0.0

    warning_before = Float(
        15 * 60.0,
        help="""Seconds before the shutdown that a warning is written into the terminal.
        The terminal is never shut down sooner than this after its warning.""",
    ).tag(config=True)

    check_interval = Float(60.0, help="Seconds between two looks at the terminals' activity.").tag(config=True)

    def __init__(
        self,
        *,
        terminals: Callable[[], Any] | None = None,
        candidates: Callable[[], list[str]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._terminals = terminals
        self._candidates = candidates or list
        self._callback: PeriodicCallback | None = None
        # name -> (last_activity when warned, when it will be shut down)
        self._warned: dict[str, tuple[datetime, datetime]] = {}

    def start(self) -> None:
        if self.idle_timeout <= 0 or self._terminals is None:
            return
        self.log.info(
            "coda-jupyter: agent terminals idle for %s are shut down (warned %s before)",
            _duration(self.idle_timeout),
            _duration(self.warning_before),
        )
        self._callback = PeriodicCallback(self.check, self.check_interval * 1000)
        self._callback.start()

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    async def check(self) -> None:
        """Warn or shut down each idle agent terminal; one failure leaves the others checked."""
        assert self._terminals is not None
        manager = self._terminals()
        names = self._candidates()
        self._warned = {name: warned for name, warned in self._warned.items() if name in names}
        for name in names:
            term = manager.terminals.get(name)
            last_activity = getattr(term, "last_activity", None)
            if last_activity is None:
                continue
            try:
                await self._check_one(manager, name, term, last_activity)
            except Exception:
                self.log.exception("coda-jupyter: checking whether terminal %s is idle failed", name)

    async def _check_one(self, manager: Any, name: str, term: Any, last_activity: datetime) -> None:
        now = datetime.now(timezone.utc)
        warned = self._warned.get(name)
        if warned is not None and warned[0] != last_activity:
            # Used since the warning: it starts over.
            del self._warned[name]
            warned = None
        deadline = last_activity + timedelta(seconds=self.idle_timeout)
        if warned is None:
            if now < deadline - timedelta(seconds=self.warning_before):
                return
            shutdown_at = max(deadline, now + timedelta(seconds=self.warning_before))
            self._warned[name] = (last_activity, shutdown_at)
            idle = (now - last_activity).total_seconds()
            self._say(manager, term, _warning(idle, (shutdown_at - now).total_seconds()))
            self.log.info("coda-jupyter: warned idle agent terminal %s", name)
        elif now >= warned[1]:
            idle = (now - last_activity).total_seconds()
            self.log.warning("coda-jupyter: shutting down agent terminal %s, idle for %s", name, _duration(idle))
            del self._warned[name]
            stopped = manager.terminate(name, force=True)
            if inspect.isawaitable(stopped):
                await stopped

    @staticmethod
    def _say(manager: Any, term: Any, text: str) -> None:
        """Show ``text`` in the terminal's browsers (and to any that attach later), not to its program.

        Jupyter counts every message sent to a browser as activity; our own
        warning is not, so the activity stamps are put back afterwards.
        """
        settings = getattr(getattr(manager.parent, "web_app", None), "settings", {})
        before = (term.last_activity, settings.get("terminal_last_activity"))
        term.read_buffer.append(text)
        for client in list(term.clients):
            client.on_pty_read(text)
        term.last_activity = before[0]
        if before[1] is not None:
            settings["terminal_last_activity"] = before[1]


def _warning(idle_s: float, remaining_s: float) -> str:
    # Yellow, on lines of its own, so it stands apart from the program's output.
    return (
        f"\r\n\x1b[33m[coda] This agent terminal has been idle for {_duration(idle_s)}: it will be "
        f"closed in {_duration(remaining_s)} to free memory for other agents. "
        "Type in it to keep it open.\x1b[0m\r\n"
    )


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"
