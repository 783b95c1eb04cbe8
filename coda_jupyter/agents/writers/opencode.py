"""OpenCode: ``~/.config/opencode/opencode.json`` and the key in
``~/.local/share/opencode/auth.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..models import ModelRole
from . import codex
from .coda_mcp import McpClientSnippet, bearer, replace_entry, url_from
from .context import ConfigContext, ConfigWriter
from .merge import SECRET_MODE, child, kept_mode, merge_entry, update_json

MODEL = ModelRole("opencode", "databricks-claude-sonnet-4-6", variable="OPENCODE_MODEL")
# Titles and summaries; unset, OpenCode picks one from its own catalogue.
SMALL = ModelRole("opencode_small", "databricks-claude-haiku-4-5")
MODEL_ROLES = (MODEL, SMALL)

PROVIDER_ID = "databricks"
OPENAI_PROVIDER_ID = "databricks-openai"
SCHEMA = "https://opencode.ai/config.json"

# Context and output limits OpenCode needs per model (upstream's values).
KNOWN_LIMITS: dict[str, tuple[int, int]] = {
    "databricks-claude-opus-4-7": (200_000, 16_384),
    "databricks-claude-opus-4-6": (200_000, 16_384),
    "databricks-claude-sonnet-4-6": (200_000, 8_192),
    "databricks-claude-haiku-4-5": (200_000, 8_192),
    "databricks-gemini-2-5-flash": (1_000_000, 8_192),
    "databricks-gemini-2-5-pro": (1_000_000, 8_192),
}
DEFAULT_LIMIT = (200_000, 16_384)


def config_path(ctx: ConfigContext) -> Path:
    return ctx.home / ".config" / "opencode" / "opencode.json"


def auth_path(ctx: ConfigContext) -> Path:
    return ctx.home / ".local" / "share" / "opencode" / "auth.json"


def _models(names: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name in names:
        context, output = KNOWN_LIMITS.get(name, DEFAULT_LIMIT)
        result[name] = {"limit": {"context": context, "output": output}}
    return result


def provider_ids(ctx: ConfigContext) -> list[str]:
    """GPT models get their own OpenAI provider only on an AI Gateway, which
    serves the OpenAI Responses route (upstream behaviour)."""
    ids = [PROVIDER_ID]
    if ctx.upstream_is_ai_gateway and "openai" in ctx.endpoints:
        ids.append(OPENAI_PROVIDER_ID)
    return ids


def write(ctx: ConfigContext) -> list[Path]:
    changed: list[Path] = []

    def merge(data: dict[str, Any]) -> None:
        data.setdefault("$schema", SCHEMA)
        if ctx.has_model_credentials:
            providers = child(data, "provider")
            # The default models are always part of the provider's list
            # (upstream pointed OpenCode at a model its provider did not declare).
            names = list(dict.fromkeys([ctx.models[MODEL], ctx.models[SMALL], *KNOWN_LIMITS]))
            _merge_provider(
                providers,
                PROVIDER_ID,
                "@ai-sdk/openai-compatible",
                "Databricks",
                ctx.endpoint("mlflow-filtered"),
                names,
            )
            if OPENAI_PROVIDER_ID in provider_ids(ctx):
                _merge_provider(
                    providers,
                    OPENAI_PROVIDER_ID,
                    "@ai-sdk/openai",
                    "Databricks (OpenAI models)",
                    ctx.endpoint("openai"),
                    [ctx.models[codex.MODEL]],
                )
            if ctx.building_overlay:
                # auth.json sits under XDG_DATA_HOME, which the overlay does
                # not move: the key goes beside the provider, in a 0600 file.
                for provider_id in provider_ids(ctx):
                    child(child(providers, provider_id), "options")["apiKey"] = ctx.api_key
            data["model"] = f"{PROVIDER_ID}/{ctx.models[MODEL]}"
            data["small_model"] = f"{PROVIDER_ID}/{ctx.models[SMALL]}"
        for server in ctx.mcp_servers:
            merge_entry(child(data, "mcp"), server.name, {"type": "remote", "url": server.url, "enabled": True})
        if ctx.coda_mcp is not None:
            replace_entry(child(data, "mcp"), ctx.coda_mcp.name, coda_entry(url_from(env_reference)), TRANSPORT)

    path = config_path(ctx)
    mode = SECRET_MODE if ctx.building_overlay else kept_mode(path)
    if update_json(path, merge, mode):
        changed.append(path)
    if ctx.has_model_credentials and not ctx.building_overlay:
        changed += _write_keys(ctx, provider_ids(ctx))
    return changed


def _merge_provider(
    providers: dict[str, Any], provider_id: str, npm: str, name: str, base_url: str, models: list[str]
) -> None:
    provider = child(providers, provider_id)
    provider["npm"] = npm
    provider.setdefault("name", name)
    child(provider, "options")["baseURL"] = base_url
    declared = child(provider, "models")
    for model, spec in _models(models).items():
        declared.setdefault(model, spec)


def _write_keys(ctx: ConfigContext, ids: list[str]) -> list[Path]:
    def merge(data: dict[str, Any]) -> None:
        for provider_id in ids:
            data[provider_id] = {"type": "api", "key": ctx.api_key}

    path = auth_path(ctx)
    return [path] if update_json(path, merge, SECRET_MODE) else []


# Fields that choose how OpenCode reaches a server.
TRANSPORT = {"type", "url", "headers", "command", "environment", "oauth"}


def env_reference(name: str) -> str:
    """OpenCode substitutes ``{env:VAR}`` in its config text when it loads it."""
    return "{env:" + name + "}"


def coda_entry(url: str) -> dict[str, Any]:
    return {"type": "remote", "url": url, "headers": bearer(env_reference), "enabled": True}


def _snippet(url: str) -> str:
    return json.dumps({"mcp": {"coda": coda_entry(url)}}, indent=2)


MCP_CLIENT = McpClientSnippet("~/.config/opencode/opencode.json", _snippet)

WRITER = ConfigWriter("opencode", write)
