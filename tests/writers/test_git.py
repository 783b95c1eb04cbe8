from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from coda_jupyter.agents.writers import ConfigContext, git


def git_get(home: Path, key: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "XDG_CONFIG_HOME"}
    env["HOME"] = str(home)
    result = subprocess.run(["git", "config", "--global", "--get", key], env=env, capture_output=True, text=True)
    return result.stdout.strip()


def test_identity_from_email(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    assert git.write(make_ctx()) == [home / ".gitconfig"]
    assert git_get(home, "user.email") == "jane.doe@example.com"
    assert git_get(home, "user.name") == "Jane Doe"
    assert git.write(make_ctx()) == []


def test_display_name_wins_over_the_email_prefix(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    git.write(make_ctx(user_name="J. Doe"))
    assert git_get(home, "user.name") == "J. Doe"


def test_a_user_set_identity_is_kept_unless_told(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    (home / ".gitconfig").write_text("[user]\n\tname = Me Myself\n\temail = me@home.org\n[core]\n\teditor = vim\n")
    assert git.write(make_ctx()) == []
    assert git_get(home, "user.name") == "Me Myself"
    assert git.write(make_ctx(overwrite_git_identity=True)) == [home / ".gitconfig"]
    assert git_get(home, "user.email") == "jane.doe@example.com"
    assert git_get(home, "core.editor") == "vim"


def test_nothing_known_nothing_written(local_ctx: ConfigContext, home: Path) -> None:
    assert git.write(ConfigContext(home=home)) == []
    assert not (home / ".gitconfig").exists()
