"""Gemini CLI: ``~/.gemini/.env``, ``settings.json`` and ``trustedFolders.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..models import ModelRole
from .coda_mcp import McpClientSnippet, bearer, dollar_braces, replace_entry, url_from
from .context import ConfigContext, ConfigWriter
from .merge import (
    SECRET_MODE,
    child,
    kept_mode,
    merge_entry,
    update_dotenv,
    update_json,
)

MODEL = ModelRole("gemini", "databricks-gemini-2-5-pro", variable="GEMINI_MODEL")
MODEL_ROLES = (MODEL,)

KEY_VARIABLE = "GEMINI_API_KEY"
TRUST = "TRUST_FOLDER"


def gemini_dir(ctx: ConfigContext) -> Path:
    return ctx.home / ".gemini"


def env_values(ctx: ConfigContext) -> dict[str, str | None]:
    return {
        "GEMINI_MODEL": ctx.models[MODEL],
        "GOOGLE_GEMINI_BASE_URL": ctx.endpoint("gemini"),
        # Must stay unquoted: Gemini keeps quotes literally and then fails auth.
        "GEMINI_API_KEY_AUTH_MECHANISM": "bearer",
        KEY_VARIABLE: ctx.api_key,
    }


def write(ctx: ConfigContext) -> list[Path]:
    changed: list[Path] = []
    folder = gemini_dir(ctx)

    env_path = folder / ".env"
    if ctx.has_model_credentials and update_dotenv(env_path, env_values(ctx), SECRET_MODE):
        changed.append(env_path)

    def merge_settings(data: dict[str, Any]) -> None:
        if ctx.has_model_credentials:
            child(child(data, "security"), "auth")["selectedType"] = "gemini-api-key"
            child(data, "model")["name"] = ctx.models[MODEL]
        for server in ctx.mcp_servers:
            # ``httpUrl`` is streamable HTTP; a plain ``url`` would mean SSE.
            merge_entry(child(data, "mcpServers"), server.name, {"httpUrl": server.url})
        if ctx.coda_mcp is not None:
            replace_entry(child(data, "mcpServers"), ctx.coda_mcp.name, coda_entry(url_from(dollar_braces)), TRANSPORT)

    settings = folder / "settings.json"
    if update_json(settings, merge_settings, kept_mode(settings)):
        changed.append(settings)

    # Gemini silently ignores ~/.gemini/.env in folders it does not trust.
    def merge_trust(data: dict[str, Any]) -> None:
        for trusted in (ctx.real_home, ctx.real_home / "projects"):
            data.setdefault(str(trusted), TRUST)

    trusted_folders = folder / "trustedFolders.json"
    if update_json(trusted_folders, merge_trust, kept_mode(trusted_folders)):
        changed.append(trusted_folders)
    return changed


# Fields that choose how Gemini CLI reaches a server.
TRANSPORT = {"httpUrl", "url", "type", "headers", "command", "args", "env", "cwd"}


def coda_entry(url: str) -> dict[str, Any]:
    """Gemini CLI expands ``${VAR}`` in every string of its settings files when it
    loads them, and saves settings from the unexpanded text."""
    return {"httpUrl": url, "headers": bearer(dollar_braces)}


def _snippet(url: str) -> str:
    return json.dumps({"mcpServers": {"coda": coda_entry(url)}}, indent=2)


MCP_CLIENT = McpClientSnippet("~/.gemini/settings.json", _snippet)

WRITER = ConfigWriter("gemini", write)
