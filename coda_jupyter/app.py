"""The coda-jupyter server extension."""

from __future__ import annotations

import itertools
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from tornado.web import HTTPError
from traitlets import Dict, Float, List, Unicode

from .agents import AgentSpec, Catalogue
from .agents.probe import AgentProber
from .handlers import ROUTES
from .terminals.environment import terminal_env_changes, terminal_path
from .terminals.launch import agent_shell_command
from .terminals.manager import CodaTerminalManager


class CodaApp(ExtensionApp):
    """Coding agents in JupyterLab terminals."""

    name = "coda_jupyter"
    load_other_extensions = True

    agents = Dict(
        per_key_traits=None,
        help="""Add, override or remove agents, keyed by agent id.

        A new id needs at least ``executable``; ``label``, ``argv``,
        ``icon_path`` and ``install_hint`` are optional. An existing id takes
        any of those fields as an override. ``None`` removes the agent.""",
    ).tag(config=True)

    disabled_agents = List(
        Unicode(), help="Agent ids to hide from the launcher and the API."
    ).tag(config=True)

    extra_path = List(
        Unicode(),
        help="Directories put on the terminal PATH after ~/.local/bin, before the server's PATH.",
    ).tag(config=True)

    stripped_env = List(
        Unicode(),
        help="Extra environment variables removed from every terminal (agent or plain).",
    ).tag(config=True)

    version_timeout = Float(
        10.0, help="Seconds to wait for an agent's --version before reporting it as unknown."
    ).tag(config=True)

    def initialize_settings(self) -> None:
        self.catalogue = Catalogue.from_config(self.agents, self.disabled_agents)
        self.prober = AgentProber(timeout=self.version_timeout)
        self.settings["coda_app"] = self
        self.log.info("coda-jupyter: agents %s", ", ".join(self.catalogue.ids()))

    def initialize_handlers(self) -> None:
        self.handlers.extend(ROUTES)

    def _link_jupyter_server_extension(self, serverapp: Any) -> None:
        super()._link_jupyter_server_extension(serverapp)
        # Extensions link in name order, so jupyter_server_terminals reads this
        # after us; a user's own choice of manager class is left alone.
        terminals_config = serverapp.config.TerminalsExtensionApp
        if "terminal_manager_class" not in terminals_config:
            terminals_config.terminal_manager_class = CodaTerminalManager

    def terminal_path(self) -> str:
        return terminal_path(self.extra_path)

    def terminal_env_changes(self) -> dict[str, str | None]:
        """Environment changes for every terminal; ``None`` removes a variable."""
        return terminal_env_changes(self.extra_path, self.stripped_env)

    def terminal_manager(self) -> Any:
        manager = self.serverapp.web_app.settings.get("terminal_manager")
        if manager is None:
            raise HTTPError(503, "terminals are not available on this server")
        return manager

    def launch_agent_terminal(self, spec: AgentSpec, cwd: str) -> str:
        """Create a named Jupyter terminal running ``spec`` in ``cwd``."""
        manager = self.terminal_manager()
        name = next(
            candidate
            for candidate in (f"{spec.id}_{n}" for n in itertools.count(1))
            if candidate not in manager.terminals
        )
        path = self.terminal_path()
        manager.create(
            name=name,
            cwd=cwd,
            shell_command=agent_shell_command(spec, manager.shell_command),
            extra_env={
                **self.terminal_env_changes(),
                "CODA_AGENT": spec.id,
                "CODA_TERMINAL_PATH": path,
            },
        )
        self.log.info("coda-jupyter: started %s in terminal %s", spec.label, name)
        return name
