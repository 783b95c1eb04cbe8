"""Codex CLI: ``~/.codex/config.toml`` and the key in ``~/.codex/.env``."""

from __future__ import annotations

from pathlib import Path

import tomlkit

from .context import ConfigContext, ConfigWriter
from .merge import SECRET_MODE, kept_mode, set_toml_values, toml_table, update_dotenv, update_toml

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
                    "model": ctx.models.codex,
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

    path = config_path(ctx)
    if update_toml(path, merge, kept_mode(path)):
        changed.append(path)
    changed += update_token(ctx)
    return changed


def update_token(ctx: ConfigContext) -> list[Path]:
    if not ctx.has_model_credentials:
        return []
    path = env_path(ctx)
    return [path] if update_dotenv(path, {KEY_VARIABLE: ctx.api_key}, SECRET_MODE) else []


WRITER = ConfigWriter("codex", write, update_token)
