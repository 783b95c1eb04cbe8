"""Jupyter's terminal manager, with the coda environment applied to every terminal."""

from __future__ import annotations

from typing import Any

from jupyter_server_terminals.terminalmanager import TerminalManager


class CodaTerminalManager(TerminalManager):
    """Applies ``CodaApp.terminal_env_changes()`` to plain and agent terminals alike.

    The environment is computed when each terminal starts, so it follows the
    server's current configuration; without the coda extension loaded it
    behaves exactly like the stock manager.
    """

    def make_term_env(self, *args: Any, **kwargs: Any) -> dict[str, str]:
        env = super().make_term_env(*args, **kwargs)
        web_app = getattr(self.parent, "web_app", None)
        coda = web_app.settings.get("coda_app") if web_app is not None else None
        if coda is not None:
            for name, value in coda.terminal_env_changes().items():
                if value is None:
                    env.pop(name, None)
                else:
                    env[name] = value
        return env
