"""The server's services, built from the app's options in dependency order.

``ServerServices`` is what ``CodaApp.initialize_settings`` builds: every
service parented to the app (so ``c.<Service>`` configures it and defaults
that follow Apps mode read it there), each added to one ``Lifecycle`` right
after what it uses. The app is passed in as a plain ``Configurable`` and its
options as ``AppOptions``, so this module never imports the app back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traitlets.config import LoggingConfigurable

from .agents import Catalogue
from .agents.probe import AgentProber
from .auth.credentials import CredentialManager
from .auth.gateway_discovery import GatewayResolver
from .auth.metadata import MetadataService, current_token
from .gateway.service import GatewayService
from .handlers.services import Services
from .mcp import McpServer
from .notebooks.service import NotebookService
from .setup.agent_config import AgentConfig
from .setup.service import SetupService
from .tasks import JupyterTerminalLauncher, TaskRunner, TaskStore
from .terminals.activity import AgentActivity
from .terminals.admission import AgentAdmission
from .terminals.agent_terminals import AgentTerminals, jupyter_terminal_manager
from .terminals.culling import TerminalCuller
from .terminals.uploads import UploadStore
from .util.lifecycle import Lifecycle
from .util.places import APP_NAME
from .version import __version__

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp


@dataclass(frozen=True)
class AppOptions:
    """The app-wide options (``CodaApp``'s traits, resolved) the services are built from."""

    apps_mode: bool
    state_dir: Path
    data_dir: Path
    agents: dict[str, Any]
    disabled_agents: list[str]
    version_timeout: float


class ServerServices:
    """Every service of one server; ``lifecycle`` starts them in order and stops them in reverse."""

    def __init__(self, app: LoggingConfigurable, server: ServerApp, options: AppOptions):
        self._app = app
        self._server = server
        self._options = options
        # Added in dependency order; started in this order, stopped in reverse.
        self.lifecycle = Lifecycle(app.log)
        self.notebooks = _notebook_service(server.web_app.settings)
        # Closing cancels the executions still running in kernels.
        self.lifecycle.add("notebook tools", stop=self.notebooks.close)
        self.uploads = UploadStore(parent=app)
        self.lifecycle.add("uploads", self.uploads.start, self.uploads.stop)
        self.catalogue = Catalogue.from_config(options.agents, options.disabled_agents)
        self._databricks()
        self._terminals()
        self._setup_and_tasks()
        # Last: its events (credentials available) go to services already running.
        self.lifecycle.add("Databricks credentials", self.credentials.start, self.credentials.stop)

    def for_handlers(self) -> Services:
        """What handlers reach, through the web app's settings."""
        options = self._options
        return Services(
            __version__, options.apps_mode, options.state_dir, self.catalogue, AgentProber(options.version_timeout),
            self.terminals, self.credentials, self.gateway, self.setup, self.tasks, self.mcp, self.uploads,
            self.notebooks,
        )  # fmt: skip

    def _databricks(self) -> None:
        app, apps_mode, state_dir = self._app, self._options.apps_mode, self._options.state_dir
        # Locally the user's own profiles are theirs: rotated tokens get a profile of their own.
        self.credentials = CredentialManager(
            mode="apps" if apps_mode else "local",
            profile="DEFAULT" if apps_mode else APP_NAME,
            journal=state_dir / "minted-tokens.json",
            parent=app,
        )
        # In an App, SDK clients in terminals follow each rotation through it.
        self.token_service = MetadataService(partial(current_token, self.credentials)) if apps_mode else None
        self.gateway = GatewayService(self.credentials, GatewayResolver(), state_dir / "gateway.key", parent=app)
        # Discovery first: the config writers that the setup event releases read the gateway's endpoints.
        self.credentials.on_available(self.gateway.credentials_available)
        self.lifecycle.add("model gateway", self.gateway.start, self.gateway.stop)
        if self.token_service is not None:
            self.lifecycle.add("token service", self.token_service.start, self.token_service.stop)
        self.agent_config = AgentConfig(
            credentials=self.credentials, gateway=self.gateway,
            workspace_dir=Path(self._server.root_dir).expanduser(), data_dir=self._options.data_dir,
            apps_mode=apps_mode, parent=app,
        )  # fmt: skip

    def _terminals(self) -> None:
        app, server = self._app, self._server
        manager = partial(jupyter_terminal_manager, server)
        # Parented to the app, so their defaults follow apps_mode (on in an App).
        self.admission = AgentAdmission(parent=app, terminals=manager, running_tasks=self._running_tasks)
        self.terminals = AgentTerminals(
            server=server, catalogue=self.catalogue, admission=self.admission, credentials=self.credentials,
            token_service=self.token_service, apps_mode=self._options.apps_mode,
            overlay_home=self.agent_config.overlay_home, parent=app,
        )  # fmt: skip
        culler = TerminalCuller(parent=app, terminals=manager, candidates=self.admission.agent_terminals)
        # Agents' pty output and running tasks count as server activity (a hub's idle culler reads it).
        settings = server.web_app.settings
        activity = AgentActivity(
            parent=app, settings=lambda: settings, terminals=manager,
            agent_terminals=self.admission.agent_terminals, running_tasks=self._running_tasks,
        )  # fmt: skip
        self.lifecycle.add("terminal culler", culler.start, culler.stop)
        self.lifecycle.add("agent activity reporting", activity.start, activity.stop)

    def _setup_and_tasks(self) -> None:
        app, options = self._app, self._options
        self.setup = SetupService(
            self.catalogue, options.state_dir, credentials_present=self.credentials.usable,
            local_mode=not options.apps_mode, terminal_path=self.terminals.path(),
            context=self.agent_config.context, parent=app,
        )  # fmt: skip
        self.credentials.on_available(self.setup.credentials_changed)
        self.lifecycle.add("setup engine", self.setup.start, self.setup.stop)
        self.tasks = TaskRunner(
            store=TaskStore(os.path.join(options.data_dir, "tasks")), launcher=JupyterTerminalLauncher(self.terminals),
            catalogue=self.catalogue, terminals=self.terminals, parent=app,
        )  # fmt: skip
        # Restart recovery (running tasks become "interrupted") and the retention sweep start with the server.
        self.lifecycle.add("background tasks", self.tasks.start, self.tasks.stop)
        self.mcp = McpServer(runner=self.tasks, notebooks=self.notebooks, version=__version__, parent=app)

    def _running_tasks(self) -> int:
        # Admission is built before the task runner, which launches through it.
        return self.tasks.running_count()


def _notebook_service(settings: dict[str, Any]) -> NotebookService:
    """Built on Jupyter's own contents, session and kernel managers, set up before extensions load."""
    contents = settings["contents_manager"]
    root = getattr(contents, "root_dir", None) or settings["server_root_dir"]
    return NotebookService(contents, settings["session_manager"], settings["kernel_manager"], root)
