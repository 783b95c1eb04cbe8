"""Git identity from the Databricks user, through ``git config --global``.

An identity the user set is kept unless ``overwrite_git_identity`` is on.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .context import ConfigContext, ConfigWriter

GIT_TIMEOUT_S = 10


def display_name(ctx: ConfigContext) -> str | None:
    if ctx.user_name:
        return ctx.user_name
    if ctx.user_email:
        return ctx.user_email.split("@", 1)[0].replace(".", " ").title()
    return None


def _git_env(ctx: ConfigContext) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["HOME"] = str(ctx.home)
    env.pop("XDG_CONFIG_HOME", None)
    return env


def _git(ctx: ConfigContext, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "config", "--global", *args],
        env=_git_env(ctx),
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
    )


def current(ctx: ConfigContext, key: str) -> str | None:
    result = _git(ctx, "--get", key)
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def write(ctx: ConfigContext) -> list[Path]:
    wanted = {"user.email": ctx.user_email, "user.name": display_name(ctx)}
    changed = False
    for key, value in wanted.items():
        if not value:
            continue
        existing = current(ctx, key)
        if existing == value or (existing and not ctx.overwrite_git_identity):
            continue
        result = _git(ctx, key, value)
        if result.returncode != 0:
            raise RuntimeError(f"git config --global {key} failed: {result.stderr.strip()}")
        changed = True
    return [ctx.home / ".gitconfig"] if changed else []


def _no_token(ctx: ConfigContext) -> list[Path]:
    return []


WRITER = ConfigWriter("git", write, _no_token)
