"""Everything a config writer needs to know, in one immutable value.

The setup engine builds one ``ConfigContext`` per run (and again after a
token rotation) and hands it to every writer; writers never read process
environment or global state, which keeps them testable under a temp HOME.
"""

from __future__ import annotations

import getpass
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

SERVING_ENDPOINTS = "/serving-endpoints"

# Per model family: (suffix on an AI Gateway base, suffix on a
# ``{host}/serving-endpoints`` base).  Upstream inventory §2.4.
ROUTE_SUFFIXES: dict[str, tuple[str, str]] = {
    "anthropic": ("/anthropic", "/anthropic"),
    "openai": ("/openai/v1", ""),
    "gemini": ("/gemini", "/google"),
    "mlflow": ("/mlflow/v1", ""),
}


@dataclass(frozen=True)
class McpServer:
    name: str
    url: str


DEFAULT_MCP_SERVERS: tuple[McpServer, ...] = (
    McpServer("deepwiki", "https://mcp.deepwiki.com/mcp"),
    McpServer("exa", "https://mcp.exa.ai/mcp"),
)


@dataclass(frozen=True)
class Models:
    """Model names per agent; defaults follow upstream's latest release."""

    claude: str = "databricks-claude-opus-4-7"
    claude_opus: str = "databricks-claude-opus-4-7"
    claude_sonnet: str = "databricks-claude-sonnet-4-6"
    claude_haiku: str = "databricks-claude-haiku-4-5"
    codex: str = "databricks-gpt-5-5"
    gemini: str = "databricks-gemini-2-5-pro"
    opencode: str = "databricks-claude-sonnet-4-6"
    hermes: str = "databricks-claude-opus-4-7"
    hermes_fallback: str = "databricks-claude-opus-4-6"


@dataclass(frozen=True)
class MlflowSettings:
    """Claude Code tracing.  ``None`` fields are derived from the context."""

    enabled: bool = True
    # None: ``databricks`` when a Databricks host is known, else a local file
    # store under the data dir.
    tracking_uri: str | None = None
    # None: ``/Users/{owner}/{app_name}``.
    experiment_name: str | None = None
    app_name: str = "coda"
    # The interpreter that runs the Stop hook: the server's own, because it is
    # known to have mlflow (the agent's environment may not).
    hook_python: str = sys.executable


@dataclass(frozen=True)
class ConfigContext:
    home: Path
    # Resolved model base: an AI Gateway base, ``{host}/serving-endpoints``,
    # or (later) the local gateway.  Every agent endpoint derives from it.
    model_base: str | None = None
    # The credential agent configs hold (today the Databricks token, later a
    # local gateway key).  None: leave each agent's own login alone.
    api_key: str | None = None
    host: str | None = None
    # The Databricks token for ~/.databrickscfg; it stays the real token even
    # when agents get a local gateway key.
    databricks_token: str | None = None
    user_email: str | None = None
    user_name: str | None = None
    models: Models = field(default_factory=Models)
    mcp_servers: tuple[McpServer, ...] = DEFAULT_MCP_SERVERS
    # Extra skill folders (each holding ``<name>/SKILL.md``); they win over the
    # shipped skills on a name clash.
    skill_dirs: tuple[Path, ...] = ()
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)
    # None: ``~/.local/share/coda``.
    data_dir: Path | None = None
    overwrite_git_identity: bool = False

    @property
    def has_model_credentials(self) -> bool:
        return bool(self.api_key and self.model_base)

    @property
    def resolved_data_dir(self) -> Path:
        if self.data_dir is not None:
            return self.data_dir
        return self.home / ".local" / "share" / "coda"

    @property
    def owner(self) -> str:
        return self.user_email or getpass.getuser()

    def endpoint(self, route: str) -> str:
        """The base URL an agent of model family ``route`` talks to."""
        if self.model_base is None:
            raise ValueError("no model base configured")
        return model_endpoint(self.model_base, route)


def model_endpoint(model_base: str, route: str) -> str:
    """Append the per-family suffix, choosing the serving-endpoints variant
    when the base is a workspace's ``/serving-endpoints``."""
    try:
        gateway_suffix, serving_suffix = ROUTE_SUFFIXES[route]
    except KeyError:
        raise ValueError(f"unknown model route {route!r}") from None
    base = model_base.rstrip("/")
    is_serving = base.endswith(SERVING_ENDPOINTS)
    return base + (serving_suffix if is_serving else gateway_suffix)


def is_serving_endpoints(model_base: str) -> bool:
    return model_base.rstrip("/").endswith(SERVING_ENDPOINTS)


WriteFn = Callable[[ConfigContext], list[Path]]


@dataclass(frozen=True)
class ConfigWriter:
    """What ``AgentSpec.config_writer`` holds: callable like ``write``, plus
    the narrow ``update_token`` used after a token rotation.  Both return the
    files they changed (empty when everything was already current)."""

    name: str
    write: WriteFn
    update_token: WriteFn

    def __call__(self, ctx: ConfigContext) -> list[Path]:
        return self.write(ctx)
