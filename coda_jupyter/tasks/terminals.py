"""Named Jupyter terminals for background tasks, behind a small interface.

The runner only needs: start a named terminal running an argv, be told about
its output and its exit, signal its process group, and ask whether it still
runs. ``JupyterTerminalLauncher`` does that through ``AgentTerminals`` (the same
path, cwd rule and environment as the launcher's agent tabs), so every task is
an ordinary terminal the owner can open in JupyterLab.

Transcript capture: we register a listener next to the websocket clients of
terminado's ``PtyWithClients``. terminado hands every chunk it reads from the
PTY to each client (``on_pty_read``) and tells them when it hits EOF
(``on_pty_died``). Compared with wrapping the agent in ``script -f`` or a
``tee`` this adds no second PTY or process (the agent still sees the one real
terminal the user watches), the cap is enforced in Python without killing the
agent (``script --output-limit`` stops the child), and the exit status comes
from the same hook.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Any, Protocol

from ..terminals.agent_terminals import AgentTerminals, Launch


@dataclass(frozen=True)
class ExitStatus:
    code: int | None
    signal: int | None


class TerminalWatcher(Protocol):
    def on_output(self, text: str) -> None: ...

    def on_exit(self, status: ExitStatus) -> None: ...


class TerminalLauncher(Protocol):
    def create(self, launch: Launch, watcher: TerminalWatcher) -> None:
        """Start ``launch`` in a new terminal and tell ``watcher`` about its output and exit."""

    def kill(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Signal the terminal's whole process group; a finished terminal is ignored."""


class _Listener:
    """Poses as a terminado client so the manager feeds it output and EOF."""

    # terminado sizes the PTY to its smallest client; we have no size.
    size = (None, None)

    def __init__(self, term: Any, watcher: TerminalWatcher):
        self._term = term
        self._watcher = watcher

    def on_pty_read(self, text: str) -> None:
        self._watcher.on_output(text)

    def on_pty_died(self) -> None:
        proc = self._term.ptyproc
        # terminado's on_eof closed the PTY (which reaps the child) before
        # calling the clients, so the statuses are final here.
        self._watcher.on_exit(ExitStatus(code=proc.exitstatus, signal=proc.signalstatus))


class JupyterTerminalLauncher:
    """``TerminalLauncher`` on the server's ``AgentTerminals``: the launcher's own path, plus a watcher."""

    def __init__(self, terminals: AgentTerminals):
        self._terminals = terminals
        self._groups: dict[str, int] = {}

    def create(self, launch: Launch, watcher: TerminalWatcher) -> None:
        name = self._terminals.launch(launch)
        term = self._terminals.terminal_manager().terminals[name]
        # The PTY child calls setsid(), so its pid is also its process group;
        # remembered now because getpgid() fails once the leader is reaped.
        self._groups[name] = term.ptyproc.pid
        # Registered before the event loop runs again, so no output is missed.
        term.clients.append(_Listener(term, watcher))

    def kill(self, name: str, sig: int = signal.SIGTERM) -> None:
        group = self._groups.get(name)
        if group is None:
            return
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            self._groups.pop(name, None)
