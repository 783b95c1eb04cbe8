"""The coda-jupyter server extension."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import IOLoop
from tornado.web import HTTPError
from traitlets import Bool, Dict, Float, Int, List, Unicode, default

from .agents import AgentSpec, Catalogue
from .agents.probe import AgentProber
from .handlers import ROUTES
from .handlers.uploads import UploadStore
from .setup.service import SetupService
from .terminals.environment import terminal_env_changes, terminal_path
from .terminals.launch import agent_shell_command
from .terminals.manager import CodaTerminalManager


class CodaApp(ExtensionApp):
    """Coding agents in JupyterLab terminals."""

    name = "coda_jupyter"
    load_other_extensions = True
    classes = [UploadStore]

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

    databricks_app = Bool(
        None,
        allow_none=True,
        help="Force Databricks App mode on or off. Default: on when DATABRICKS_APP_NAME is set.",
    ).tag(config=True)

    state_dir = Unicode(
        help="Where setup logs and server state live. Default: ~/.local/state/coda-jupyter."
    ).tag(config=True)

    @default("state_dir")
    def _default_state_dir(self) -> str:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return str(Path(base) / "coda-jupyter")

    setup_enabled = Bool(
        True, help="Run the background setup engine at server start."
    ).tag(config=True)

    setup_builtin = Bool(
        True,
        help="Include the built-in install and configure steps. Turn off to run only setup_extra_steps.",
    ).tag(config=True)

    setup_extra_steps = List(
        Dict(),
        help="""Extra setup steps, each a dict: ``id``, ``command`` (argv list), and
        optionally ``label``, ``needs`` (step ids), ``requires_credentials`` (bool)
        and ``timeout`` (seconds).""",
    ).tag(config=True)

    setup_max_parallel = Int(4, help="Setup steps that may run at the same time.").tag(config=True)

    install_versions = Dict(
        Unicode(),
        help="""Pinned versions by agent or tool id, overriding the catalogue's
        defaults, e.g. ``{"gemini": "0.62.0", "gh": "2.70.0"}``.""",
    ).tag(config=True)

    tools_base_url = Unicode(
        "",
        help="Base URL of release downloads for micro, gh and the Databricks CLI (a mirror of github.com).",
    ).tag(config=True)

    @property
    def apps_mode(self) -> bool:
        """True when running as a Databricks App."""
        if self.databricks_app is not None:
            return bool(self.databricks_app)
        return bool(os.environ.get("DATABRICKS_APP_NAME"))

    def credentials_present(self) -> bool:
        """Whether Databricks credentials are available to configure agents."""
        return False

    def initialize_settings(self) -> None:
        self.catalogue = Catalogue.from_config(self.agents, self.disabled_agents)
        self.prober = AgentProber(timeout=self.version_timeout)
        self.uploads = UploadStore(parent=self)
        self.setup = SetupService(
            self.catalogue,
            Path(self.state_dir),
            builtin=self.setup_builtin,
            versions=self.install_versions,
            extra_steps=self.setup_extra_steps,
            max_parallel=self.setup_max_parallel,
            tools_base_url=self.tools_base_url or None,
            credentials_present=self.credentials_present,
            local_mode=not self.apps_mode,
            terminal_path=self.terminal_path(),
        )
        if self.setup_enabled:
            # Scheduled, not awaited: the server answers while installs run.
            IOLoop.current().add_callback(self.setup.start)
        self.settings["coda_app"] = self
        self.log.info("coda-jupyter: agents %s", ", ".join(self.catalogue.ids()))

    def initialize_handlers(self) -> None:
        self.handlers.extend(ROUTES)

    async def stop_extension(self) -> None:
        await self.setup.stop()

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        await super()._start_jupyter_server_extension(serverapp)
        self.uploads.start()

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
