"""Git identity from the Databricks user, and gh as git's credential helper.

Both go through ``git config --global``, so both are written only when the
global git config is coda's to change: in a Databricks App, where the app
owns HOME, or locally when the user opted in with
``AgentConfig.write_user_configs``. Otherwise the user's ``~/.gitconfig`` (and
git's XDG config) is never touched: their identity is theirs, and
``gh auth setup-git`` is theirs to run. An identity the user set is kept
unless ``overwrite_git_identity`` is on. With the credential helper, after
``gh auth login`` in a terminal ``git push`` over HTTPS uses gh's login.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from .context import ConfigContext, ConfigWriter

GIT_TIMEOUT_S = 10
# The hosts ``gh auth setup-git`` configures for github.com.
GH_CREDENTIAL_HOSTS = ("github.com", "gist.github.com")


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


def _git_checked(ctx: ConfigContext, *args: str) -> None:
    result = _git(ctx, *args)
    if result.returncode != 0:
        raise RuntimeError(f"git config --global {' '.join(args[:2])} failed: {result.stderr.strip()}")


def current(ctx: ConfigContext, key: str) -> str | None:
    result = _git(ctx, "--get", key)
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def gh_path(ctx: ConfigContext) -> Path:
    """gh as setup leaves it: ours in ``~/.local/bin``, else a system one, else
    where setup is about to install it."""
    ours = ctx.home / ".local" / "bin" / "gh"
    if ours.exists():
        return ours
    system = shutil.which("gh")
    return Path(system) if system else ours


def credential_helpers(ctx: ConfigContext) -> dict[str, list[str]]:
    """What ``gh auth setup-git`` writes: an empty entry that drops helpers
    configured before it (system or global), then gh."""
    # git runs a "!" helper through the shell: a path with a space stays one word.
    helper = f"!{shlex.quote(str(gh_path(ctx)))} auth git-credential"
    return {f"credential.https://{host}.helper": ["", helper] for host in GH_CREDENTIAL_HOSTS}


def _all_values(ctx: ConfigContext, key: str) -> list[str]:
    result = _git(ctx, "--get-all", key)
    return result.stdout.splitlines() if result.returncode == 0 else []


def write_credential_helpers(ctx: ConfigContext) -> bool:
    changed = False
    for key, values in credential_helpers(ctx).items():
        if _all_values(ctx, key) == values:
            continue
        first, *rest = values
        _git_checked(ctx, "--replace-all", key, first)
        for value in rest:
            _git_checked(ctx, "--add", key, value)
        changed = True
    return changed


def owns_global_config(ctx: ConfigContext) -> bool:
    """Whether the global git config of ``ctx.home`` is coda's to change.

    Setup names an overlay exactly when HOME is not coda's to write (local
    mode without ``write_user_configs``); git's own config has no overlay,
    so then it is left alone.
    """
    return ctx.apps_mode or ctx.overlay_home is None


def write(ctx: ConfigContext) -> list[Path]:
    if not owns_global_config(ctx):
        return []
    wanted = {"user.email": ctx.user_email, "user.name": display_name(ctx)}
    changed = False
    for key, value in wanted.items():
        if not value:
            continue
        existing = current(ctx, key)
        if existing == value or (existing and not ctx.overwrite_git_identity):
            continue
        _git_checked(ctx, key, value)
        changed = True
    if ctx.apps_mode and write_credential_helpers(ctx):
        changed = True
    return [ctx.home / ".gitconfig"] if changed else []


WRITER = ConfigWriter("git", write)
