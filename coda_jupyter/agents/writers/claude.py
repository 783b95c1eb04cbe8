"""Claude Code: ``~/.claude/settings.json`` env block and ``~/.claude.json``.

``~/.claude.json`` gets the MCP servers, the workspace folder and HOME as
trusted projects, and (when we provide the model credential) onboarding done.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..models import ModelRole
from . import claude_attention
from .coda_mcp import McpClientSnippet, bearer, dollar_braces, replace_entry, url_from
from .context import ConfigContext, ConfigWriter
from .merge import SECRET_MODE, child, merge_entry, update_json

MODEL = ModelRole("claude", "databricks-claude-opus-4-7", variable="ANTHROPIC_MODEL")
OPUS = ModelRole("claude_opus", "databricks-claude-opus-4-7")
SONNET = ModelRole("claude_sonnet", "databricks-claude-sonnet-4-6")
HAIKU = ModelRole("claude_haiku", "databricks-claude-haiku-4-5")
MODEL_ROLES = (MODEL, OPUS, SONNET, HAIKU)

TOKEN_KEY = "ANTHROPIC_AUTH_TOKEN"  # noqa: S105 -- the name of the variable, not a token


def settings_path(ctx: ConfigContext) -> Path:
    return ctx.home / ".claude" / "settings.json"


def state_path(ctx: ConfigContext) -> Path:
    # With CLAUDE_CONFIG_DIR set (the overlay), Claude Code keeps this file
    # inside that folder instead of beside it.
    if ctx.building_overlay:
        return ctx.home / ".claude" / ".claude.json"
    return ctx.home / ".claude.json"


def trusted_folders(ctx: ConfigContext) -> list[str]:
    """The ``projects`` keys that skip Claude Code's "trust this folder" dialog.

    Claude Code keys a project by its absolute, normalised path and counts a
    folder as trusted when it or any parent has ``hasTrustDialogAccepted``.
    It looks the folder up by the process's working directory, which the
    kernel gives with symlinks resolved: both spellings are written. The
    filesystem root is never trusted, as that would trust every folder.
    """
    keys: list[str] = []
    for folder in (ctx.resolved_workspace_dir, ctx.real_home):
        for spelling in (os.path.normpath(os.path.abspath(folder)), os.path.realpath(folder)):
            if Path(spelling).parent != Path(spelling) and spelling not in keys:
                keys.append(spelling)
    return keys


# A new project entry as Claude Code itself writes one when the dialog is
# accepted: its DEFAULT_PROJECT_CONFIG (in the pinned CLI) plus the flag.
# Claude reads an existing entry as it is, without its defaults, and with only
# the flag it loads no MCP server in that folder.
NEW_PROJECT: dict[str, Any] = {
    "allowedTools": [],
    "mcpContextUris": [],
    "mcpServers": {},
    "enabledMcpjsonServers": [],
    "disabledMcpjsonServers": [],
    "hasTrustDialogAccepted": False,
    "projectOnboardingSeenCount": 0,
    "hasClaudeMdExternalIncludesApproved": False,
    "hasClaudeMdExternalIncludesWarningShown": False,
}


def trust_project(projects: dict[str, Any], folder: str) -> None:
    entry = projects.get(folder)
    if isinstance(entry, dict):
        entry["hasTrustDialogAccepted"] = True
    else:
        projects[folder] = {**NEW_PROJECT, "hasTrustDialogAccepted": True}


def model_env(ctx: ConfigContext) -> dict[str, str]:
    models = ctx.models
    return {
        "ANTHROPIC_MODEL": models[MODEL],
        "ANTHROPIC_BASE_URL": ctx.endpoint("anthropic"),
        TOKEN_KEY: ctx.api_key or "",
        "ANTHROPIC_DEFAULT_OPUS_MODEL": models[OPUS],
        "ANTHROPIC_DEFAULT_SONNET_MODEL": models[SONNET],
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": models[HAIKU],
        "ANTHROPIC_CUSTOM_HEADERS": "x-databricks-use-coding-agent-mode: true",
        "CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS": "1",
    }


def write(ctx: ConfigContext) -> list[Path]:
    changed: list[Path] = []

    def merge_settings(data: dict[str, Any]) -> None:
        if ctx.has_model_credentials:
            child(data, "env").update(model_env(ctx))
        # Always: they tell JupyterLab when Claude needs the user or is done.
        claude_attention.merge_hooks(data)

    if update_json(settings_path(ctx), merge_settings, SECRET_MODE):
        changed.append(settings_path(ctx))

    def merge_state(data: dict[str, Any]) -> None:
        for server in ctx.mcp_servers:
            merge_entry(child(data, "mcpServers"), server.name, {"type": "http", "url": server.url})
        if ctx.coda_mcp is not None:
            replace_entry(child(data, "mcpServers"), ctx.coda_mcp.name, coda_entry(url_from(dollar_braces)), TRANSPORT)
        # Only the dialog: a project's own .claude/settings.json allow rules and
        # .mcp.json servers still need that exact folder trusted in Claude Code.
        projects = child(data, "projects")
        for folder in trusted_folders(ctx):
            trust_project(projects, folder)
        # Onboarding includes choosing a login; skip it only when we provide
        # the credential, otherwise the user's own login flow must run.
        if ctx.has_model_credentials:
            data["hasCompletedOnboarding"] = True

    # ~/.claude.json also holds the user's account state: keep it private.
    if update_json(state_path(ctx), merge_state, SECRET_MODE):
        changed.append(state_path(ctx))
    return changed


# Fields that choose how Claude Code reaches a server.
TRANSPORT = {"type", "url", "headers", "command", "args", "env"}


def coda_entry(url: str) -> dict[str, Any]:
    """Claude Code expands ``${VAR}`` in an MCP server's url and headers at run time, in every scope."""
    return {"type": "http", "url": url, "headers": bearer(dollar_braces)}


def _snippet(url: str) -> str:
    # Single quotes: the shell keeps ${JUPYTER_TOKEN} for Claude Code to expand at run time.
    return f"claude mcp add-json --scope user coda '{json.dumps(coda_entry(url))}'"


MCP_CLIENT = McpClientSnippet("shell", _snippet)

WRITER = ConfigWriter("claude", write)
