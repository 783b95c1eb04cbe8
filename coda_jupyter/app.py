"""The coda-jupyter server extension."""

from __future__ import annotations

import inspect
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import IOLoop
from tornado.web import HTTPError
from traitlets import Bool, Dict, Float, Int, List, Unicode, default

from .agents import AgentSpec, Catalogue, overlay
from .agents.probe import AgentProber
from .agents.writers import ConfigContext, MlflowSettings, Models, RemoteMcpServer
from .auth.credentials import (
    CredentialError,
    CredentialManager,
    Credentials,
    RotationSettings,
    profile_exists,
)
from .auth.gateway_discovery import GatewayResolver
from .auth.identity import (
    apps_mode_from_env,
    server_access_env,
    service_principal_removals,
    use_owner_access,
)
from .auth.metadata import MetadataService, ServedToken, sdk_auth_env, served_token
from .gateway.service import GatewayService
from .handlers import ROUTES
from .handlers.uploads import UploadStore
from .mcp import McpServer
from .notebooks import SETTINGS_KEY as NOTEBOOKS_KEY
from .setup.service import SetupService
from .sync.hooks import terminal_git_env
from .tasks import SETTINGS_KEY as TASKS_KEY
from .tasks import TaskRunner, setup_tasks
from .terminals.activity import AgentActivity
from .terminals.admission import AgentAdmission
from .terminals.culling import TerminalCuller
from .terminals.environment import terminal_env_changes, terminal_path
from .terminals.launch import agent_shell_command
from .terminals.manager import CodaTerminalManager

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp

    from .notebooks.service import NotebookService


class CodaApp(ExtensionApp):
    """Coding agents in JupyterLab terminals."""

    name = "coda_jupyter"
    load_other_extensions = True
    classes = [UploadStore, TaskRunner, McpServer, AgentAdmission, TerminalCuller, AgentActivity, SetupService]

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
        help="""Base URL of release downloads for micro, gh and the Databricks CLI (a
        mirror of github.com). It changes where a file comes from, never which file:
        downloads are checked against pinned or configured SHA-256s.""",
    ).tag(config=True)

    tool_checksums = Dict(
        Dict(Unicode()),
        help="""SHA-256 of a tool's release archive by tool id and platform, e.g.
        ``{"gh": {"linux-amd64": "<sha256>"}}``, for the version being installed.
        Required for a tool version overridden in install_versions, and for a
        platform without a pinned checksum.""",
    ).tag(config=True)

    databricks_host = Unicode(
        help="Workspace URL. Default: DATABRICKS_HOST (set by Databricks Apps)."
    ).tag(config=True)

    @default("databricks_host")
    def _default_databricks_host(self) -> str:
        return os.environ.get("DATABRICKS_HOST", "").strip()

    databricks_profile = Unicode(
        "DEFAULT",
        help="""Locally, the ~/.databrickscfg profile used at start when it holds
        working credentials (never rewritten). Empty to ignore the file.""",
    ).tag(config=True)

    token_lifetime = Int(900, help="Lifetime in seconds of each minted workspace token.").tag(config=True)

    rotation_interval = Float(
        600.0, help="Seconds between token rotations; must be shorter than token_lifetime."
    ).tag(config=True)

    gateway_port = Int(
        0,
        help="""Loopback port of the local model gateway. 0: a free port chosen once,
        recorded in state_dir/gateway-port and bound again at each start (a new one
        when another program holds it).""",
    ).tag(config=True)

    gateway_max_body = Int(
        32 * 1024 * 1024, help="Largest request body the model gateway forwards, in bytes."
    ).tag(config=True)

    gateway_pool_size = Int(
        16,
        help="Idle connections the model gateway keeps open per upstream host, reused by later requests.",
    ).tag(config=True)

    data_dir = Unicode(
        help="Where tasks, the local MLflow store and other data live. Default: ~/.local/share/coda-jupyter."
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self) -> str:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return str(Path(base) / "coda-jupyter")

    models = Dict(
        Unicode(),
        help="""Model names written into agent configs, by role: claude, claude_opus,
        claude_sonnet, claude_haiku, codex, gemini, opencode, opencode_small, hermes,
        hermes_fallback. Defaults come from ANTHROPIC_MODEL, CODEX_MODEL, GEMINI_MODEL,
        OPENCODE_MODEL, HERMES_MODEL and HERMES_FALLBACK_MODEL when set.""",
    ).tag(config=True)

    @default("models")
    def _default_models(self) -> dict[str, str]:
        from_env = {
            "claude": "ANTHROPIC_MODEL",
            "codex": "CODEX_MODEL",
            "gemini": "GEMINI_MODEL",
            "opencode": "OPENCODE_MODEL",
            "hermes": "HERMES_MODEL",
            "hermes_fallback": "HERMES_FALLBACK_MODEL",
        }
        return {role: os.environ[name] for role, name in from_env.items() if os.environ.get(name)}

    mcp_servers = List(
        Dict(),
        default_value=[
            {"name": "deepwiki", "url": "https://mcp.deepwiki.com/mcp"},
            {"name": "exa", "url": "https://mcp.exa.ai/mcp"},
        ],
        help="Remote MCP servers ({name, url}) configured for every agent in its own format.",
    ).tag(config=True)

    skill_dirs = List(
        Unicode(), help="Extra skill folders (each holding <name>/SKILL.md) shared with every agent."
    ).tag(config=True)

    mlflow_tracing = Bool(True, help="Trace Claude Code sessions to MLflow.").tag(config=True)

    write_user_configs = Bool(
        False,
        help="""Locally, write agent configs into your own HOME (~/.claude, ~/.codex,
        ~/.gemini, ~/.config/opencode, ~/.hermes) as well as agent instructions and
        skill links. Off: they go to an overlay under data_dir (agent-home) that only
        agents started in this server's terminals read. A Databricks App always
        writes HOME, which it owns.""",
    ).tag(config=True)

    mlflow_experiment = Unicode(
        "", help="MLflow experiment for Claude Code traces. Default: /Users/{user}/{app name}."
    ).tag(config=True)

    mlflow_tracking_uri = Unicode(
        "",
        help="MLflow tracking URI. Default: the workspace when credentials exist, else a local store under data_dir.",
    ).tag(config=True)

    @property
    def overlay_home(self) -> Path | None:
        """Where agent configs go instead of HOME; None when HOME is ours to write."""
        if self.apps_mode or self.write_user_configs:
            return None
        return overlay.overlay_dir(Path(self.data_dir))

    @property
    def apps_mode(self) -> bool:
        """True when running as a Databricks App."""
        if self.databricks_app is not None:
            return bool(self.databricks_app)
        return apps_mode_from_env()

    def credentials_present(self) -> bool:
        """Whether usable Databricks credentials are available to configure agents."""
        return self.credentials.credentials is not None and self.credentials.state() != "expired"

    def initialize_settings(self) -> None:
        self._check_settings()
        self.catalogue = Catalogue.from_config(self.agents, self.disabled_agents)
        self.prober = AgentProber(timeout=self.version_timeout)
        self.uploads = UploadStore(parent=self)
        # Parented here, so their defaults follow apps_mode (on in an App).
        self.admission = AgentAdmission(
            parent=self, terminals=self.terminal_manager, running_tasks=self._running_tasks
        )
        self.culler = TerminalCuller(
            parent=self, terminals=self.terminal_manager, candidates=self.admission.agent_terminals
        )
        # Agents' pty output and running tasks count as server activity (a hub's idle culler reads it).
        self.activity = AgentActivity(
            parent=self,
            settings=lambda: self.server.web_app.settings,
            terminals=self.terminal_manager,
            agent_terminals=self.admission.agent_terminals,
            running_tasks=self._running_tasks,
        )
        self.credentials = CredentialManager(
            self.databricks_host or None,
            mode="apps" if self.apps_mode else "local",
            # Locally the user's own profiles are theirs: rotated tokens get a
            # profile of their own. In an App the container HOME is ours.
            profile="DEFAULT" if self.apps_mode else "coda-jupyter",
            settings=RotationSettings(
                lifetime_seconds=self.token_lifetime, interval_seconds=self.rotation_interval
            ),
            log=self.log,
            journal=Path(self.state_dir) / "minted-tokens.json",
        )
        self.credentials.on_available(self._credentials_available)
        # In an App, SDK clients in terminals follow each rotation through it.
        self.token_service = MetadataService(self._served_token) if self.apps_mode else None
        self.gateway = GatewayService(
            self.credentials,
            GatewayResolver(),
            Path(self.state_dir) / "gateway.key",
            port=self.gateway_port,
            max_body_size=self.gateway_max_body,
            pool_size=self.gateway_pool_size,
        )
        self.setup = SetupService(
            self.catalogue,
            Path(self.state_dir),
            builtin=self.setup_builtin,
            versions=self.install_versions,
            extra_steps=self.setup_extra_steps,
            max_parallel=self.setup_max_parallel,
            tools_base_url=self.tools_base_url or None,
            tool_checksums=self.tool_checksums,
            credentials_present=self.credentials_present,
            local_mode=not self.apps_mode,
            terminal_path=self.terminal_path(),
            context=self.config_context,
            parent=self,
        )
        # Scheduled, not awaited: the server answers while installs run.
        IOLoop.current().add_callback(self._start_services)
        self.settings["coda_app"] = self
        self.log.info("coda-jupyter: agents %s", ", ".join(self.catalogue.ids()))

    def initialize_handlers(self) -> None:
        self.handlers.extend(ROUTES)

    def _check_settings(self) -> None:
        """Fail at start, with the option's name, rather than in a setup step later."""
        unknown = set(self.models) - set(Models.__dataclass_fields__)
        if unknown:
            raise ValueError(f"CodaApp.models: unknown role(s) {sorted(unknown)}")
        for entry in self.mcp_servers:
            if not isinstance(entry.get("name"), str) or not isinstance(entry.get("url"), str):
                raise ValueError(f"CodaApp.mcp_servers: each entry needs a 'name' and a 'url': {entry!r}")

    def config_context(self) -> ConfigContext:
        """What the config writers need, from the current credentials and settings."""
        creds = self.credentials.credentials if self.credentials_present() else None
        tracking_uri = self.mlflow_tracking_uri or None
        profile = (creds.profile or self.credentials.profile) if creds else None
        if tracking_uri is None and profile and profile != "DEFAULT":
            # MLflow's plain "databricks" URI reads the DEFAULT profile only.
            tracking_uri = f"databricks://{profile}"
        return ConfigContext(
            home=Path.home(),
            endpoints=self.gateway.endpoints() if creds else {},
            upstream_is_ai_gateway=self.gateway.upstream_is_ai_gateway,
            api_key=self.gateway.local_key if creds else None,
            host=creds.host if creds else None,
            user_email=creds.user if creds else None,
            models=Models(**self.models),
            mcp_servers=tuple(RemoteMcpServer(str(entry["name"]), str(entry["url"])) for entry in self.mcp_servers),
            skill_dirs=tuple(Path(path).expanduser() for path in self.skill_dirs),
            workspace_dir=Path(self.server.root_dir).expanduser(),
            apps_mode=self.apps_mode,
            overlay_home=self.overlay_home,
            mlflow=MlflowSettings(
                enabled=self.mlflow_tracing,
                tracking_uri=tracking_uri,
                experiment_name=self.mlflow_experiment or None,
                app_name=os.environ.get("DATABRICKS_APP_NAME") or "coda-jupyter",
            ),
            data_dir=Path(self.data_dir),
        )

    async def _start_services(self) -> None:
        # Each service starts on its own: one that fails is logged and the
        # others still come up (a broken task folder must not cost the gateway).
        # Restart recovery (running tasks become "interrupted") and the
        # retention sweep start with the server, not with the first MCP call.
        await self._start_service("background tasks", lambda: setup_tasks(self))
        await self._start_service("model gateway", self.gateway.start)
        if self.token_service is not None:
            await self._start_service("token service", self.token_service.start)
        await self._start_service("terminal culler", self.culler.start)
        await self._start_service("agent activity reporting", self.activity.start)
        if self.setup_enabled:
            await self._start_service("setup engine", self.setup.start)
        await self._start_service("Databricks credentials", self._start_credentials)

    async def _start_service(self, name: str, start: Callable[[], Any]) -> None:
        try:
            started = start()
            if inspect.isawaitable(started):
                await started
        except Exception:
            self.log.exception("coda-jupyter: the %s failed to start; the other services carry on", name)

    async def _start_credentials(self) -> None:
        # A restart (even after a crash) carries on with the token it minted
        # last; the profile the user configured is the fallback.
        if await self.credentials.resume():
            return
        if not self.apps_mode and self.databricks_profile and profile_exists(self.databricks_profile):
            try:
                await self.credentials.load_profile(self.databricks_profile)
            except CredentialError as err:
                self.log.info("coda-jupyter: no usable Databricks profile (%s)", err)

    async def _credentials_available(self, creds: Credentials) -> None:
        await self.gateway.discover(creds.host)
        self.setup.credentials_changed()

    def _served_token(self) -> ServedToken | None:
        creds = self.credentials.credentials
        return served_token(self.credentials.status(), creds.token if creds else None)

    def _running_tasks(self) -> int:
        runner: TaskRunner | None = self.server.web_app.settings.get(TASKS_KEY)
        return runner.running_count() if runner is not None else 0

    async def stop_extension(self) -> None:
        self.culler.stop()
        self.activity.stop()
        await self.setup.stop()
        await self.credentials.stop()
        await self.gateway.stop()
        if self.token_service is not None:
            await self.token_service.stop()
        # Created on first use by a notebook tool; running executions are cancelled.
        notebooks: NotebookService | None = self.server.web_app.settings.get(NOTEBOOKS_KEY)
        if notebooks is not None:
            notebooks.close()

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
        # Linking runs before the ServerApp builds its identity provider, so
        # Apps mode can install owner-only access here as well as in app.yaml.
        use_owner_access(serverapp, self.databricks_app)

    @property
    def server(self) -> ServerApp:
        """The server this extension is loaded into: set before any handler or task runs."""
        if self.serverapp is None:
            raise RuntimeError("coda-jupyter is not loaded into a Jupyter server")
        return self.serverapp

    def terminal_path(self) -> str:
        return terminal_path(self.extra_path)

    def terminal_env_changes(self) -> dict[str, str | None]:
        """Environment changes for every terminal; ``None`` removes a variable."""
        return {
            **terminal_env_changes(self.extra_path, self.stripped_env),
            **service_principal_removals(self.apps_mode),
            **sdk_auth_env(self.token_service, self.credentials.status()["host"]),
            # What local processes (agents, coda-bridge) need to call this server.
            **server_access_env(self.serverapp),
            # Locally the sync hook reaches git through the terminal, not ~/.gitconfig.
            **({} if self.apps_mode or self.write_user_configs else terminal_git_env()),
            **self._config_home_env(),
        }

    def _config_home_env(self) -> dict[str, str | None]:
        """Point each agent at the overlay, so the user's own configs stay as they are."""
        home = self.overlay_home
        if home is None:
            return {}
        return dict(overlay.terminal_variables(self.catalogue, home))

    def terminal_manager(self) -> Any:
        manager = self.server.web_app.settings.get("terminal_manager")
        if manager is None:
            raise HTTPError(503, "terminals are not available on this server")
        return manager

    def launch_agent_terminal(self, spec: AgentSpec, cwd: str) -> str:
        """Create a named Jupyter terminal running ``spec`` in ``cwd``."""
        manager = self.terminal_manager()
        self.admission.admit(spec.label)
        name = next(
            candidate
            for candidate in (f"{spec.id}_{n}" for n in itertools.count(1))
            if candidate not in manager.terminals
        )
        path = self.terminal_path()
        shell = (
            manager.server_shell()
            if isinstance(manager, CodaTerminalManager)
            else manager.shell_command
        )
        manager.create(
            name=name,
            cwd=cwd,
            shell_command=agent_shell_command(spec, shell),
            extra_env={
                **self.terminal_env_changes(),
                "CODA_AGENT": spec.id,
                "CODA_TERMINAL_PATH": path,
            },
        )
        self.admission.track(name)
        self.log.info("coda-jupyter: started %s in terminal %s", spec.label, name)
        return name
