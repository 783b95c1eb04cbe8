"""Codex CLI: ``~/.codex/config.toml`` and the key in ``~/.codex/.env``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tomlkit

from ..models import ModelRole
from .coda_mcp import TOKEN_VARIABLE, CodaMcp, McpClientSnippet
from .context import ConfigContext, ConfigWriter
from .merge import SECRET_MODE, kept_mode, set_toml_values, toml_table, update_dotenv, update_toml

MODEL = ModelRole("codex", "databricks-gpt-5-5", variable="CODEX_MODEL")
MODEL_ROLES = (MODEL,)

PROVIDER_ID = "databricks"
KEY_VARIABLE = "OPENAI_API_KEY"


def config_path(ctx: ConfigContext) -> Path:
    return ctx.home / ".codex" / "config.toml"


def env_path(ctx: ConfigContext) -> Path:
    return ctx.home / ".codex" / ".env"


def write(ctx: ConfigContext) -> list[Path]:
    changed: list[Path] = []

    def merge(document: tomlkit.TOMLDocument) -> None:
        if ctx.has_model_credentials:
            set_toml_values(
                document,
                {
                    "model": ctx.models[MODEL],
                    "model_provider": PROVIDER_ID,
                    # The Databricks Responses API rejects the web search tool.
                    "web_search": "disabled",
                },
            )
            providers = toml_table(document, "model_providers")
            set_toml_values(
                toml_table(providers, PROVIDER_ID),
                {
                    "name": "Databricks",
                    "base_url": ctx.endpoint("openai"),
                    "env_key": KEY_VARIABLE,
                    "wire_api": "responses",
                },
            )
        if ctx.mcp_servers:
            servers = toml_table(document, "mcp_servers")
            for server in ctx.mcp_servers:
                set_toml_values(toml_table(servers, server.name), {"url": server.url})
        if ctx.coda_mcp is not None:
            entry = toml_table(toml_table(document, "mcp_servers"), ctx.coda_mcp.name)
            ours = bridge_entry(ctx.coda_mcp)
            for stale in TRANSPORT - set(ours):
                entry.pop(stale, None)
            set_toml_values(entry, ours)

    path = config_path(ctx)
    if update_toml(path, merge, kept_mode(path)):
        changed.append(path)
    changed += _write_key(ctx)
    return changed


def _write_key(ctx: ConfigContext) -> list[Path]:
    if not ctx.has_model_credentials:
        return []
    path = env_path(ctx)
    return [path] if update_dotenv(path, {KEY_VARIABLE: ctx.api_key}, SECRET_MODE) else []


BRIDGE_STARTUP_TIMEOUT_S = 60

# Fields that choose how Codex reaches a server.
TRANSPORT = {
    *("url", "bearer_token_env_var", "http_headers", "env_http_headers"),
    *("command", "args", "env", "env_vars", "cwd"),
}


def bridge_entry(coda: CodaMcp) -> dict[str, Any]:
    """Codex reads a bearer token from a variable but takes its url only
    literally, so it runs coda-bridge, which reads both variables. Codex hands a
    stdio server only a few variables of its own unless ``env_vars`` names more.

    Codex gives up on an MCP server that has not answered within 10 s, and
    drops its tools for the session; starting the bridge's interpreter takes
    about a second idle but several on a loaded machine (a small App
    container, agents running beside it), hence a longer wait."""
    command, *args = coda.bridge
    return {
        "command": command,
        "args": args,
        "env_vars": list(coda.bridge_variables),
        "startup_timeout_sec": BRIDGE_STARTUP_TIMEOUT_S,
    }


def _snippet(url: str) -> str:
    # Imported here: the snippet is built on request, and server start-up reads no TOML.
    import tomlkit

    document = tomlkit.document()
    entry = tomlkit.table()
    entry.update({"url": url, "bearer_token_env_var": TOKEN_VARIABLE})
    servers = tomlkit.table(is_super_table=True)
    servers.add("coda", entry)
    document.add("mcp_servers", servers)
    return tomlkit.dumps(document).strip()


MCP_CLIENT = McpClientSnippet("~/.codex/config.toml", _snippet)

WRITER = ConfigWriter("codex", write)
