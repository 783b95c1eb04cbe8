"""Hermes Agent: ``~/.hermes/config.yaml`` (model, fallback, skills, MCP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..models import ModelRole
from .coda_mcp import McpClientSnippet, bearer, dollar_braces, replace_entry, url_from
from .context import ConfigContext, ConfigWriter
from .merge import SECRET_MODE, child, update_yaml
from .skills import shared_skills_dir

MODEL = ModelRole("hermes", "databricks-claude-opus-4-7", variable="HERMES_MODEL")
FALLBACK = ModelRole("hermes_fallback", "databricks-claude-opus-4-6", variable="HERMES_FALLBACK_MODEL")
MODEL_ROLES = (MODEL, FALLBACK)

HEADER = "# Hermes Agent config. coda-jupyter merges its keys into this file; your other keys are kept.\n"
MCP_TIMEOUT_S = 60


def config_path(ctx: ConfigContext) -> Path:
    return ctx.home / ".hermes" / "config.yaml"


def _is_ours(entry: Any, ctx: ConfigContext, base_url: str) -> bool:
    return (
        isinstance(entry, dict)
        and entry.get("provider") == "custom"
        and (entry.get("base_url") == base_url or entry.get("model") == ctx.models[FALLBACK])
    )


def _skill_folders(ctx: ConfigContext) -> list[str]:
    """The shared skills, and in an overlay the user's own: Hermes then reads
    its skills from the overlay's HERMES_HOME, so ``~/.hermes/skills`` is
    listed as an external folder (read, never written by Hermes)."""
    folders = [str(ctx.published(shared_skills_dir(ctx)))]
    own = ctx.real_home / ".hermes" / "skills"
    if ctx.building_overlay and own.is_dir():
        folders.append(str(own))
    return folders


def write(ctx: ConfigContext) -> list[Path]:
    def merge(data: dict[str, Any]) -> None:
        if ctx.has_model_credentials:
            base_url = ctx.endpoint("mlflow")
            child(data, "model").update(
                {"default": ctx.models[MODEL], "provider": "custom", "base_url": base_url, "api_key": ctx.api_key}
            )
            fallback = {
                "provider": "custom",
                "model": ctx.models[FALLBACK],
                "base_url": base_url,
                "api_key": ctx.api_key,
            }
            current = data.get("fallback_providers")
            others = [e for e in current if not _is_ours(e, ctx, base_url)] if isinstance(current, list) else []
            data["fallback_providers"] = [fallback, *others]

        skills = child(data, "skills")
        external = skills.get("external_dirs")
        external = list(external) if isinstance(external, list) else ([external] if external else [])
        for folder in _skill_folders(ctx):
            if folder not in external:
                external.append(folder)
        skills["external_dirs"] = external

        for server in ctx.mcp_servers:
            entry = child(child(data, "mcp_servers"), server.name)
            entry["url"] = server.url
            entry.setdefault("timeout", MCP_TIMEOUT_S)
        if ctx.coda_mcp is not None:
            replace_entry(child(data, "mcp_servers"), ctx.coda_mcp.name, coda_entry(url_from(dollar_braces)), TRANSPORT)

    path = config_path(ctx)
    return [path] if update_yaml(path, merge, SECRET_MODE, header=HEADER) else []


# Fields that choose how Hermes reaches a server.
TRANSPORT = {"url", "headers", "command", "args", "env"}


def coda_entry(url: str) -> dict[str, Any]:
    """Hermes resolves ``${VAR}`` in every string of an MCP server entry when it loads them."""
    return {"url": url, "headers": bearer(dollar_braces)}


def _snippet(url: str) -> str:
    return yaml.safe_dump({"mcp_servers": {"coda": coda_entry(url)}}, sort_keys=False).strip()


MCP_CLIENT = McpClientSnippet("~/.hermes/config.yaml", _snippet)

WRITER = ConfigWriter("hermes", write)
