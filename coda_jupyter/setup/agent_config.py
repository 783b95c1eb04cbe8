"""``c.AgentConfig``: what setup writes into every agent's configuration, and where."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from traitlets import Bool, Dict, List, Unicode, default
from traitlets.config import LoggingConfigurable

from ..agents import overlay
from ..agents.catalogue import installed_agents, models_from_environment, unknown_model_roles
from ..agents.writers import DEFAULT_MCP_SERVERS, ConfigContext, MlflowSettings, Models, RemoteMcpServer
from ..auth.credentials import CredentialManager
from ..gateway.service import GatewayService
from ..util.places import APP_NAME


class AgentConfig(LoggingConfigurable):
    """Builds the ``ConfigContext`` the config writers need, from its traits and the live services."""

    models = Dict(
        Unicode(),
        help="""Model names written into agent configs, by role. Each agent in the
        catalogue declares its roles, their defaults and the environment variables
        that set them (the README lists the built-in agents' roles).""",
    ).tag(config=True)

    @default("models")
    def _default_models(self) -> dict[str, str]:
        return models_from_environment(installed_agents(), os.environ)

    mcp_servers = List(
        Dict(),
        help="Remote MCP servers ({name, url}) configured for every agent in its own format. Default: DeepWiki, Exa.",
    ).tag(config=True)

    @default("mcp_servers")
    def _default_mcp_servers(self) -> list[dict[str, str]]:
        return [{"name": server.name, "url": server.url} for server in DEFAULT_MCP_SERVERS]

    skill_dirs = List(
        Unicode(), help="Extra skill folders (each holding <name>/SKILL.md) shared with every agent."
    ).tag(config=True)

    write_user_configs = Bool(
        False,
        help="""Locally, write agent configs into your own HOME (each agent's
        usual config folder) as well as agent instructions and
        skill links. Off: they go to an overlay under data_dir (agent-home) that only
        agents started in this server's terminals read. A Databricks App always
        writes HOME, which it owns.""",
    ).tag(config=True)

    mlflow_tracing = Bool(True, help="Trace Claude Code sessions to MLflow.").tag(config=True)

    mlflow_experiment = Unicode(
        "", help="MLflow experiment for Claude Code traces. Default: /Users/{user}/{app name}."
    ).tag(config=True)

    mlflow_tracking_uri = Unicode(
        "",
        help="MLflow tracking URI. Default: the workspace when credentials exist, else a local store under data_dir.",
    ).tag(config=True)

    def __init__(
        self,
        *,
        credentials: CredentialManager,
        gateway: GatewayService,
        workspace_dir: Path,
        data_dir: Path,
        apps_mode: bool,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.credentials = credentials
        self.gateway = gateway
        self.workspace_dir = workspace_dir
        self.data_dir = data_dir
        self.apps_mode = apps_mode
        # Fail at start, with the option's name, rather than in a setup step later.
        unknown = unknown_model_roles(installed_agents(), self.models)
        if unknown:
            raise ValueError(f"AgentConfig.models: unknown role(s) {unknown}")
        for entry in self.mcp_servers:
            if not isinstance(entry.get("name"), str) or not isinstance(entry.get("url"), str):
                raise ValueError(f"AgentConfig.mcp_servers: each entry needs a 'name' and a 'url': {entry!r}")

    @property
    def overlay_home(self) -> Path | None:
        """Where agent configs go instead of HOME; None when HOME is ours to write."""
        if self.apps_mode or self.write_user_configs:
            return None
        return overlay.overlay_dir(self.data_dir)

    def context(self) -> ConfigContext:
        """What the config writers need, from the current credentials and settings."""
        creds = self.credentials.credentials if self.credentials.usable() else None
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
            models=Models(dict(self.models)),
            mcp_servers=tuple(RemoteMcpServer(str(entry["name"]), str(entry["url"])) for entry in self.mcp_servers),
            skill_dirs=tuple(Path(path).expanduser() for path in self.skill_dirs),
            workspace_dir=self.workspace_dir,
            apps_mode=self.apps_mode,
            overlay_home=self.overlay_home,
            mlflow=MlflowSettings(
                enabled=self.mlflow_tracing,
                tracking_uri=tracking_uri,
                experiment_name=self.mlflow_experiment or None,
                app_name=os.environ.get("DATABRICKS_APP_NAME") or APP_NAME,
            ),
            data_dir=self.data_dir,
        )
