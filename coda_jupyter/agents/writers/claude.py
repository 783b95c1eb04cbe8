"""Claude Code: ``~/.claude/settings.json`` env block and ``~/.claude.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .context import ConfigContext, ConfigWriter
from .merge import SECRET_MODE, child, merge_entry, update_json

TOKEN_KEY = "ANTHROPIC_AUTH_TOKEN"


def settings_path(ctx: ConfigContext) -> Path:
    return ctx.home / ".claude" / "settings.json"


def state_path(ctx: ConfigContext) -> Path:
    return ctx.home / ".claude.json"


def model_env(ctx: ConfigContext) -> dict[str, str]:
    models = ctx.models
    return {
        "ANTHROPIC_MODEL": models.claude,
        "ANTHROPIC_BASE_URL": ctx.endpoint("anthropic"),
        TOKEN_KEY: ctx.api_key or "",
        "ANTHROPIC_DEFAULT_OPUS_MODEL": models.claude_opus,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": models.claude_sonnet,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": models.claude_haiku,
        "ANTHROPIC_CUSTOM_HEADERS": "x-databricks-use-coding-agent-mode: true",
        "CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS": "1",
    }


def write(ctx: ConfigContext) -> list[Path]:
    changed: list[Path] = []
    if ctx.has_model_credentials:
        env = model_env(ctx)
        if update_json(settings_path(ctx), lambda data: child(data, "env").update(env), SECRET_MODE):
            changed.append(settings_path(ctx))

    def merge_state(data: dict[str, Any]) -> None:
        for server in ctx.mcp_servers:
            merge_entry(child(data, "mcpServers"), server.name, {"type": "http", "url": server.url})
        # Onboarding includes choosing a login; skip it only when we provide
        # the credential, otherwise the user's own login flow must run.
        if ctx.has_model_credentials:
            data["hasCompletedOnboarding"] = True

    # ~/.claude.json also holds the user's account state: keep it private.
    if update_json(state_path(ctx), merge_state, SECRET_MODE):
        changed.append(state_path(ctx))
    return changed


def update_token(ctx: ConfigContext) -> list[Path]:
    """Replace the token only where we put one (upstream §3.3 rule)."""
    path = settings_path(ctx)
    if not ctx.api_key or not path.exists():
        return []

    def swap(data: dict[str, Any]) -> None:
        env = data.get("env")
        if isinstance(env, dict) and TOKEN_KEY in env:
            env[TOKEN_KEY] = ctx.api_key

    return [path] if update_json(path, swap, SECRET_MODE) else []


WRITER = ConfigWriter("claude", write, update_token)
