"""The coda-jupyter server extension: the app-wide options, and the services it declares.

Each service owns its configuration (``c.AgentTerminals``, ``c.SetupService``, ...).
In ``initialize_settings`` the app has ``wiring.ServerServices`` build them all;
they start in one place in the order they were added and stop in reverse
(``util.lifecycle``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import IOLoop
from traitlets import Bool, Dict, Float, List, Unicode, default

from .auth.credentials import CredentialManager
from .auth.identity import apps_mode_from_env, use_owner_access
from .gateway.service import GatewayService
from .handlers import ROUTES
from .handlers.services import SETTINGS_KEY as SERVICES_KEY
from .mcp import McpServer
from .setup.agent_config import AgentConfig
from .setup.service import SetupService
from .tasks import TaskRunner
from .terminals.activity import AgentActivity
from .terminals.admission import AgentAdmission
from .terminals.agent_terminals import SETTINGS_KEY as AGENT_TERMINALS_KEY
from .terminals.agent_terminals import AgentTerminals
from .terminals.culling import TerminalCuller
from .terminals.manager import CodaTerminalManager
from .terminals.uploads import UploadStore
from .util.places import default_data_dir, default_state_dir
from .wiring import AppOptions, ServerServices

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp


class CodaApp(ExtensionApp):
    """Coding agents in JupyterLab terminals."""

    name = "coda_jupyter"
    load_other_extensions = True
    classes = [
        *(CredentialManager, GatewayService, AgentConfig, SetupService, AgentTerminals),
        *(AgentAdmission, TerminalCuller, AgentActivity, TaskRunner, McpServer, UploadStore),
    ]

    agents = Dict(
        per_key_traits=None,
        help="""Add, override or remove agents, keyed by agent id. A new id needs at least
        ``executable``; ``label``, ``argv``, ``icon_path`` and ``install_hint`` are optional.
        An existing id takes any of those fields as an override. ``None`` removes the agent.""",
    ).tag(config=True)
    disabled_agents = List(Unicode(), help="Agent ids to hide from the launcher and the API.").tag(config=True)
    version_timeout = Float(10.0, help="Seconds to wait for an agent's --version before reporting it as unknown.").tag(
        config=True
    )
    databricks_app = Bool(
        None, allow_none=True, help="Force Databricks App mode on or off. Default: on when DATABRICKS_APP_NAME is set."
    ).tag(config=True)
    state_dir = Unicode(help="Setup logs, the gateway key, sync state. Default: ~/.local/state/coda-jupyter.").tag(
        config=True
    )
    data_dir = Unicode(help="Tasks, the agent-config overlay, local MLflow. Default: ~/.local/share/coda-jupyter.").tag(
        config=True
    )

    @default("state_dir")
    def _default_state_dir(self) -> str:
        return str(default_state_dir())

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return str(default_data_dir())

    @property
    def apps_mode(self) -> bool:
        """True when running as a Databricks App."""
        return bool(self.databricks_app) if self.databricks_app is not None else apps_mode_from_env()

    @property
    def server(self) -> ServerApp:
        """The server this extension is loaded into: set before any handler or task runs."""
        if self.serverapp is None:
            raise RuntimeError("coda-jupyter is not loaded into a Jupyter server")
        return self.serverapp

    def initialize_settings(self) -> None:
        options = AppOptions(
            apps_mode=self.apps_mode, state_dir=Path(self.state_dir), data_dir=Path(self.data_dir),
            agents=dict(self.agents), disabled_agents=list(self.disabled_agents), version_timeout=self.version_timeout,
        )  # fmt: skip
        self.services = ServerServices(self, self.server, options)
        self.settings[SERVICES_KEY] = self.services.for_handlers()
        self.settings[AGENT_TERMINALS_KEY] = self.services.terminals
        # Scheduled, not awaited: the server answers while installs run.
        IOLoop.current().add_callback(self.services.lifecycle.start)
        self.log.info("coda-jupyter: agents %s", ", ".join(self.services.catalogue.ids()))

    def initialize_handlers(self) -> None:
        self.handlers.extend(ROUTES)

    async def stop_extension(self) -> None:
        await self.services.lifecycle.stop()

    def _link_jupyter_server_extension(self, serverapp: Any) -> None:
        super()._link_jupyter_server_extension(serverapp)
        # Extensions link in name order, so jupyter_server_terminals reads this
        # after us; a user's own choice of manager class is left alone.
        terminals_config = serverapp.config.TerminalsExtensionApp
        if "terminal_manager_class" not in terminals_config:
            terminals_config.terminal_manager_class = CodaTerminalManager
        # Linking runs before the ServerApp builds its identity provider, so
        # Apps mode can install owner-only access here as well as in app.yaml.
        use_owner_access(serverapp, self.databricks_app)
