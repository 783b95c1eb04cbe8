"""Everything a config writer needs to know, in one immutable value.

Each setup step builds one ``ConfigContext`` from what the server knows at
that moment and hands it to its writers; writers take paths and
credentials from it, never from the process environment, so they run unchanged
under a temporary HOME in tests.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ...util.places import APP_NAME, home_data_dir
from ..models import Models
from .coda_mcp import CodaMcp


@dataclass(frozen=True)
class RemoteMcpServer:
    name: str
    url: str


DEFAULT_MCP_SERVERS: tuple[RemoteMcpServer, ...] = (
    RemoteMcpServer("deepwiki", "https://mcp.deepwiki.com/mcp"),
    RemoteMcpServer("exa", "https://mcp.exa.ai/mcp"),
)


@dataclass(frozen=True)
class MlflowSettings:
    """Claude Code tracing.  ``None`` fields are derived from the context."""

    enabled: bool = True
    # None: ``databricks`` when a Databricks host is known, else a local file
    # store under the data dir.
    tracking_uri: str | None = None
    # None: ``/Users/{owner}/{app_name}``.
    experiment_name: str | None = None
    app_name: str = APP_NAME
    # The interpreter that runs the Stop hook: the server's own, because it is
    # known to have mlflow (the agent's environment may not).
    hook_python: str = sys.executable


@dataclass(frozen=True)
class ConfigContext:
    home: Path
    # Base URL per model route name (``gateway.routes``): the local model
    # gateway's routes, or the upstream's for direct access. Empty: unknown.
    endpoints: Mapping[str, str] = field(default_factory=dict)
    # The upstream behind the endpoints is an AI Gateway (it serves the OpenAI
    # Responses route for every model family).
    upstream_is_ai_gateway: bool = False
    # The credential agent configs hold: the local model gateway's key, which
    # outlives token rotations. None: leave each agent's own login alone.
    api_key: str | None = field(default=None, repr=False)
    host: str | None = None
    user_email: str | None = None
    user_name: str | None = None
    models: Models = field(default_factory=Models)
    mcp_servers: tuple[RemoteMcpServer, ...] = DEFAULT_MCP_SERVERS
    # coda's own endpoint, reached from Jupyter terminals. None: not configured.
    coda_mcp: CodaMcp | None = CodaMcp()
    # Extra skill folders (each holding ``<name>/SKILL.md``); they win over the
    # shipped skills on a name clash.
    skill_dirs: tuple[Path, ...] = ()
    # Skill folders of installed skill packs (``skill_sources``); one not
    # installed yet is skipped quietly. ``skill_dirs`` win over them.
    skill_pack_dirs: tuple[Path, ...] = ()
    # The folder agents work in (the Jupyter root). None: ``~/projects``.
    workspace_dir: Path | None = None
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)
    # None: ``~/.local/share/coda-jupyter`` under the real home (the server always sets it).
    data_dir: Path | None = None
    overwrite_git_identity: bool = False
    # A Databricks App: the app owns HOME, so the global git config is ours
    # to change; locally it is the user's.
    apps_mode: bool = False
    # Locally (unless ``write_user_configs``): the folder coda owns where agent
    # configs go instead of HOME; Jupyter terminals point each agent at it
    # (``agents/overlay.py``). None: agent configs go to ``home``.
    overlay_home: Path | None = None
    # Set while an overlay is being built: ``home`` is then a build folder,
    # ``user_home`` the user's HOME (whose files are the base and stay
    # untouched) and ``published_home`` where the build ends up, so paths
    # written into a file name the folder agents will read.
    user_home: Path | None = None
    published_home: Path | None = None
    # Folders under ``home`` that get a link per shared skill.
    skill_link_dirs: tuple[str, ...] = (".claude/skills", ".agents/skills")

    @property
    def building_overlay(self) -> bool:
        return self.user_home is not None

    @property
    def real_home(self) -> Path:
        """The user's HOME: what trust lists and the guidance name, wherever files go."""
        return self.user_home if self.user_home is not None else self.home

    def published(self, path: Path) -> Path:
        """``path`` (under ``home``) as agents will see it once the build is in place."""
        if self.published_home is None:
            return path
        return self.published_home / path.relative_to(self.home)

    @property
    def has_model_credentials(self) -> bool:
        return bool(self.api_key and self.endpoints)

    @property
    def resolved_data_dir(self) -> Path:
        if self.data_dir is not None:
            return self.data_dir
        return home_data_dir(self.real_home)

    @property
    def resolved_workspace_dir(self) -> Path:
        return self.workspace_dir if self.workspace_dir is not None else self.real_home / "projects"

    @property
    def owner(self) -> str:
        return self.user_email or getpass.getuser()

    def endpoint(self, route: str) -> str:
        """The base URL an agent on model route ``route`` talks to."""
        try:
            return self.endpoints[route]
        except KeyError:
            raise ValueError(f"no endpoint for model route {route!r}") from None


WriteFn = Callable[[ConfigContext], list[Path]]


@dataclass(frozen=True)
class ConfigWriter:
    """What ``AgentSpec.config_writer`` holds: a named ``write``, callable like it.

    ``write`` returns the files it changed (empty when everything was already
    current). A token rotation needs no rewrite: configs hold the local
    gateway's key, and the gateway takes the rotated token itself.
    """

    name: str
    write: WriteFn

    def __call__(self, ctx: ConfigContext) -> list[Path]:
        return self.write(ctx)
