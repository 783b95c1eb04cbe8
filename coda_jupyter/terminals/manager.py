"""Jupyter's terminal manager, with the coda environment applied to every terminal."""

from __future__ import annotations

import os
import select
import time
from typing import Any

from jupyter_server_terminals.terminalmanager import TerminalManager
from traitlets import Float, Integer

from .agent_terminals import SETTINGS_KEY, AgentTerminals
from .flow import ReadGate, use_flow_control
from .shells import account_shell, shell_start


class CodaTerminalManager(TerminalManager):
    """Applies ``AgentTerminals.environment()`` to plain and agent terminals alike.

    The environment is computed when each terminal starts, so it follows the
    server's current configuration; without the coda extension loaded it
    behaves exactly like the stock manager.
    """

    flow_stall_timeout = Float(
        10.0,
        config=True,
        help="""Seconds a flow-controlled browser may hold a terminal's output without
        acknowledging any; after that it is no longer waited for (see terminals/flow.py).""",
    )
    flow_max_unflushed = Integer(
        16 * 1024 * 1024,
        config=True,
        help="""Bytes of output a terminal websocket may leave unread before it is closed
        (code 1013; JupyterLab reconnects), so no client can grow the server without bound.""",
    )

    read_burst = Integer(
        128 * 1024,
        config=True,
        help="""Characters of a terminal's output read in one go when it is readable:
        the PTY is read again while more is waiting, up to this many, and clients get
        it as one message. A PTY read returns about 4 KiB, and the kernel holds at most
        64 KiB: a browser that gets a flood in such pieces draws a frame after each
        one or two messages, however little they hold. 0 reads once, as terminado does.""",
    )
    read_linger = Float(
        0.002,
        config=True,
        help="""Seconds to wait for more output once a burst holds a quarter of
        ``read_burst``, so a flooding program fills the message while the output of
        an interactive one is sent at once. A burst never takes more than five of these,
        as the server does nothing else meanwhile.""",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.read_gate = ReadGate(self, self)

    def _agent_terminals(self) -> AgentTerminals | None:
        web_app = getattr(self.parent, "web_app", None)
        return web_app.settings.get(SETTINGS_KEY) if web_app is not None else None

    def new_terminal(self, **kwargs: Any) -> Any:
        # A plain terminal (no command of its own) runs the server's shell
        # through coda's start-up files, so its login files cannot drop the
        # agents from PATH (see shells.py). Agent terminals bring their own.
        agent_terminals = self._agent_terminals()
        if agent_terminals is not None:
            # The first terminal comes before any websocket can open to one.
            use_flow_control(agent_terminals.server.web_app)
        if "shell_command" not in kwargs and agent_terminals is not None:
            start = shell_start(self.server_shell())
            if start is not None:
                kwargs["shell_command"] = start.argv
                kwargs["extra_env"] = {**start.env, **(kwargs.get("extra_env") or {})}
        return super().new_terminal(**kwargs)

    async def terminate(self, name: str, force: bool = False) -> None:
        # A terminal paused for a slow browser is read to its end once shut down.
        if name in self.terminals:
            self.read_gate.close(self.terminals[name])
        await super().terminate(name, force=force)

    def pty_read(self, fd: int, events: Any = None) -> None:
        """terminado's read, repeated while more output waits (see ``read_burst``)."""
        if not _readable(fd, 0.1):
            return
        terminal = self.ptys_by_fd[fd]
        chunks: list[str] = []
        size = 0
        ended = False
        deadline = time.monotonic() + 5 * self.read_linger
        try:
            self.pre_pty_read_hook(terminal)
            while True:
                text = terminal.ptyproc.read(65536)
                # One replay entry per read, as terminado keeps them: its replay is
                # bounded in entries, so bigger entries would make reconnects bigger.
                terminal.read_buffer.append(text)
                chunks.append(text)
                size += len(text)
                flooding = size >= self.read_burst // 4
                wait = max(0.0, deadline - time.monotonic()) if flooding else 0.0
                if size >= self.read_burst or not _readable(fd, min(wait, self.read_linger)):
                    break
        except EOFError:
            ended = True
        if chunks:
            output = "".join(chunks)
            for client in list(terminal.clients):
                client.on_pty_read(output)
        if ended:
            self.on_eof(terminal)
            for client in list(terminal.clients):
                client.on_pty_died()

    def server_shell(self) -> list[str]:
        """The configured shell; without $SHELL or a configured command, the account's.

        Stock Jupyter falls back to ``sh`` there, which is a poor interactive
        shell (dash on Debian); ``login`` and ``sshd`` use the passwd entry.
        """
        settings = getattr(self.parent, "terminado_settings", None) or {}
        program = account_shell()
        if os.environ.get("SHELL") or "shell_command" in settings or program is None:
            return list(self.shell_command)
        return [program, *self.shell_command[1:]]

    def make_term_env(self, *args: Any, **kwargs: Any) -> dict[str, str]:
        env = super().make_term_env(*args, **kwargs)
        agent_terminals = self._agent_terminals()
        if agent_terminals is not None:
            for name, value in agent_terminals.environment().items():
                if value is None:
                    env.pop(name, None)
                else:
                    env[name] = value
        return env


def _readable(fd: int, timeout: float) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(timeout * 1000))
