"""Named Jupyter terminals for background tasks, behind a small interface.

The runner only needs: start a named terminal running an argv, be told about
its output and its exit, signal its process group, and ask whether it still
runs. ``JupyterTerminalLauncher`` does that with Jupyter's terminado manager,
so every task is an ordinary terminal the owner can open in JupyterLab.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ExitStatus:
    code: int | None
    signal: int | None


class TerminalWatcher(Protocol):
    def on_output(self, text: str) -> None: ...

    def on_exit(self, status: ExitStatus) -> None: ...


class TerminalLauncher(Protocol):
    def create(
        self,
        name: str,
        cwd: str,
        argv: Sequence[str],
        env: Mapping[str, str | None],
        watcher: TerminalWatcher,
    ) -> None:
        """Start ``argv`` in a new terminal ``name``; ``None`` in ``env`` removes a variable."""

    def kill(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Signal the terminal's whole process group; a finished terminal is ignored."""

    def is_running(self, name: str) -> bool: ...


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
    """``TerminalLauncher`` on Jupyter's terminal manager (terminado ``NamedTermManager``).

    ``manager`` is a getter: the terminals extension loads after ours, so the
    manager exists only once the server runs.
    """

    def __init__(self, manager: Callable[[], Any]):
        self._manager = manager
        self._groups: dict[str, int] = {}

    def create(
        self,
        name: str,
        cwd: str,
        argv: Sequence[str],
        env: Mapping[str, str | None],
        watcher: TerminalWatcher,
    ) -> None:
        manager = self._manager()
        if name in manager.terminals:
            raise ValueError(f"terminal {name!r} already exists")
        manager.create(name=name, cwd=cwd, shell_command=list(argv), extra_env=dict(env))
        term = manager.terminals[name]
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

    def is_running(self, name: str) -> bool:
        term = self._manager().terminals.get(name)
        return term is not None and term.ptyproc.isalive()
