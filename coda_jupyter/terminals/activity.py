"""Reporting agents' work as server activity, so idle culling leaves a busy server alone.

Jupyter Server's activity (``web_app.last_activity()``) is what an idle
shutdown reads, and what ``jupyterhub-singleuser`` posts to the hub's activity
API for the hub's idle culler. It counts API requests, kernels, and terminal
traffic *to and from a connected browser* (``jupyter_server_terminals``
stamps ``terminal_last_activity`` in its websocket handler's
``write_message`` and ``on_message``). An agent working in a terminal whose
tab is closed, and every background task (no browser watches those), only
write into their pty: that is recorded per terminal (``last_activity``, set
by the terminal manager's ``pre_pty_read_hook``) but never reaches the
server-wide stamp, so a hub would stop a server while its agents work.

This service copies that activity into ``last_activity_times``, the place
Jupyter Server gives extensions to register activity: the latest pty
activity of agent terminals, and "now" while a background task runs (a task
waiting on its model may print nothing for minutes; tasks have their own
timeout). Plain terminals stay as Jupyter counts them: they are the user's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from tornado.ioloop import PeriodicCallback
from tornado.web import HTTPError
from traitlets import Float
from traitlets.config import LoggingConfigurable

# Our key in the server's ``last_activity_times``.
ACTIVITY_KEY = "coda_agents"


class AgentActivity(LoggingConfigurable):
    """Every ``interval`` seconds, stamps the server's activity with its agents' latest work."""

    interval = Float(
        30.0,
        help="""Seconds between two looks at agent terminals and background tasks. The
        stamp is read by whoever checks activity (JupyterHub's single-user server posts it
        every JUPYTERHUB_ACTIVITY_INTERVAL, 300 s by default), so it needs to be no finer
        than that. 0 turns the reporting off.""",
    ).tag(config=True)

    def __init__(
        self,
        *,
        settings: Callable[[], dict[str, Any]],
        terminals: Callable[[], Any],
        agent_terminals: Callable[[], list[str]],
        running_tasks: Callable[[], int],
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._settings = settings
        self._terminals = terminals
        self._agent_terminals = agent_terminals
        self._running_tasks = running_tasks
        self._callback: PeriodicCallback | None = None

    def start(self) -> None:
        if self.interval <= 0:
            return
        self._callback = PeriodicCallback(self.check, self.interval * 1000)
        self._callback.start()

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    def check(self) -> None:
        latest = self.latest_activity()
        if latest is None:
            return
        times: dict[str, datetime] = self._settings().setdefault("last_activity_times", {})
        previous = times.get(ACTIVITY_KEY)
        if previous is None or latest > previous:
            times[ACTIVITY_KEY] = latest

    def latest_activity(self) -> datetime | None:
        """When an agent last did something: now while a task runs, else the newest agent terminal's pty activity."""
        if self._running_tasks() > 0:
            return datetime.now(timezone.utc)
        try:
            live = self._terminals().terminals
        except HTTPError:  # terminals are disabled on this server: nothing of ours to report
            return None
        stamps = [getattr(live.get(name), "last_activity", None) for name in self._agent_terminals()]
        known = [stamp for stamp in stamps if isinstance(stamp, datetime)]
        return max(known, default=None)
