"""Local mode: the sync hook reaches git through Jupyter terminals, never through the user's git config.

A real Jupyter server with coda-jupyter, real terminals typed into over their
websocket, real git, the real hook and ``coda-sync`` against the fake
workspace. The hooks folder is written by the shared config writers, as the
setup engine's connect step runs them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from coda_jupyter.agents.writers import ConfigContext
from coda_jupyter.agents.writers import git as git_writer
from coda_jupyter.sync import hooks as sync_hooks
from coda_jupyter.sync.hooks import hooks_dir
from tests.conftest import TerminalReader
from tests.fakes.workspace import FakeWorkspace
from tests.sync.test_sync import git, make_repo, remote_files, repo_status, wait_synced

USER_GITCONFIG = b"[user]\n\tname = Ada Lovelace\n[alias]\n\tst = status --short\n"


def run_setup_writers(home: Path, *, apps_mode: bool, write_user_configs: bool = False) -> list[Path]:
    """The git writers of setup's connect step, with a Databricks user known.

    Locally, unless ``write_user_configs``, the server's context names the
    overlay folder agent configs go to instead of HOME.
    """
    overlay = None if apps_mode or write_user_configs else home.parent / "data" / "agent-home"
    ctx = ConfigContext(home=home, user_email="ada.lovelace@example.com", apps_mode=apps_mode, overlay_home=overlay)
    return [*git_writer.WRITER(ctx), *sync_hooks.WRITER(ctx)]


def user_git_files(home: Path) -> dict[str, bytes | None]:
    """Every file git reads as the user's own configuration."""
    paths = {"~/.gitconfig": home / ".gitconfig", "XDG git config": home / ".config" / "git" / "config"}
    return {name: path.read_bytes() if path.exists() else None for name, path in paths.items()}


def test_local_setup_leaves_the_users_git_config_byte_identical(home: Path) -> None:
    # No git config at all: none appears.
    assert run_setup_writers(home, apps_mode=False)
    assert user_git_files(home) == {"~/.gitconfig": None, "XDG git config": None}

    # A config of the user's (a name but no email, so an identity writer
    # would want to add one): byte for byte the same afterwards.
    (home / ".gitconfig").write_bytes(USER_GITCONFIG)
    run_setup_writers(home, apps_mode=False)
    assert user_git_files(home) == {"~/.gitconfig": USER_GITCONFIG, "XDG git config": None}
    # The hooks folder is there, ready for Jupyter terminals to point git at.
    assert (hooks_dir(home) / "post-commit").stat().st_mode & 0o111


@pytest.mark.parametrize("apps_mode", [True, False], ids=["databricks-app", "local-write-user-configs"])
def test_apps_mode_and_the_opt_in_still_set_the_global_hooks_path_and_identity(home: Path, apps_mode: bool) -> None:
    changed = run_setup_writers(home, apps_mode=apps_mode, write_user_configs=not apps_mode)
    assert home / ".gitconfig" in changed

    def global_value(key: str) -> str:
        return subprocess.run(
            ["git", "config", "--global", key], capture_output=True, text=True, check=True
        ).stdout.strip()

    assert global_value("core.hooksPath") == str(hooks_dir(home))
    assert global_value("user.email") == "ada.lovelace@example.com"


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], home: Path, workspace: FakeWorkspace) -> dict[str, Any]:
    # ``home`` is pytest-jupyter's HOME too (both are tmp_path/"home"); the
    # fake workspace's profile is in place before the server starts.
    coda = {**jp_server_config["CodaApp"], "databricks_app": False}
    # coda-sync uses the DEFAULT profile itself; the server need not mint tokens here.
    return {**jp_server_config, "CodaApp": coda, "CredentialManager": {"local_profile": ""}}


async def open_terminal(jp_fetch: Any) -> str:
    reply = await jp_fetch("api", "terminals", method="POST", body=json.dumps({}))
    return str(json.loads(reply.body)["name"])


async def in_terminal(read_terminal: TerminalReader, name: str, command: str, step: int) -> str:
    """Type ``command`` and wait until it has finished.

    Each step prints its own marker, computed by the shell so that the echoed
    command line cannot match it: a reconnect replays earlier output.
    """
    said = await read_terminal(
        name, f"step-{1000 + step}", send=f'{command}; echo "step-$((1000+{step}))"\r', timeout=60
    )
    return said


async def test_commits_in_jupyter_terminals_sync_only_under_projects_and_repo_hooks_still_run(
    home: Path,
    workspace: FakeWorkspace,
    state_dir: Path,
    jp_serverapp: Any,
    jp_fetch: Any,
    read_terminal: TerminalReader,
) -> None:
    (home / ".gitconfig").write_bytes(USER_GITCONFIG)
    run_setup_writers(home, apps_mode=False)
    assert user_git_files(home)["~/.gitconfig"] == USER_GITCONFIG

    inside = make_repo(home / "projects" / "inside", {"a.txt": "a\n"})
    outside = make_repo(home / "elsewhere" / "outside", {"private.txt": "private\n"})
    # A repository's own hooks: a post-commit one in .git/hooks, and a
    # husky-style local core.hooksPath with its own post-commit.
    for repo in (inside, outside):
        own = repo / ".git" / "hooks" / "post-commit"
        own.write_text(f"#!/bin/sh\necho ran >> {home / (repo.name + '-own-hook')}\n")
        own.chmod(0o755)
    husky = make_repo(home / "projects" / "husky", {"b.txt": "b\n"})
    (husky / ".husky").mkdir()
    husky_hook = husky / ".husky" / "post-commit"
    husky_hook.write_text(f"#!/bin/sh\necho ran >> {home / 'husky-own-hook'}\n")
    husky_hook.chmod(0o755)
    git(husky, "config", "core.hooksPath", ".husky")

    terminal = await open_terminal(jp_fetch)
    for step, repo in enumerate((inside, outside, husky)):
        command = f"cd {repo} && git add -A && git commit -q -m by-terminal && echo committed-$((2000+{step}))"
        said = await in_terminal(read_terminal, terminal, command, step)
        assert f"committed-{2000 + step}" in said, said

    inside_head = git(inside, "rev-parse", "HEAD").stdout.strip()
    husky_head = git(husky, "rev-parse", "HEAD").stdout.strip()
    wait_synced(state_dir, inside, inside_head)
    wait_synced(state_dir, husky, husky_head)
    assert remote_files(workspace, "inside") == {"a.txt": b"a\n"}
    assert remote_files(workspace, "husky") == {"b.txt": b"b\n", ".husky/post-commit": husky_hook.read_bytes()}

    # Outside ~/projects: the repository's own hook ran, nothing was synced.
    assert (home / "outside-own-hook").read_text().split() == ["ran"]
    assert repo_status(state_dir, outside) is None
    assert not [path for path in workspace.files() if "private" in path]
    assert (home / "inside-own-hook").read_text().split() == ["ran"]
    assert (home / "husky-own-hook").read_text().split() == ["ran"]

    # Outside Jupyter (another shell, an editor: this process's environment)
    # git knows no hooks folder of ours, and the repository's own hook runs.
    assert git(inside, "config", "--get", "core.hooksPath", check=False).returncode == 1
    (inside / "a.txt").write_text("a, from a plain shell\n")
    git(inside, "commit", "-q", "-am", "from a plain shell")
    assert (home / "inside-own-hook").read_text().split() == ["ran", "ran"]

    assert user_git_files(home) == {"~/.gitconfig": USER_GITCONFIG, "XDG git config": None}


def test_terminal_git_env_appends_to_entries_the_server_already_has(home: Path) -> None:
    assert sync_hooks.terminal_git_env(home, environ={}) == {}  # nothing written yet: git keeps its own hooks
    sync_hooks.write_hooks(home)
    assert sync_hooks.terminal_git_env(home, environ={"GIT_CONFIG_COUNT": "1"}) == {
        "GIT_CONFIG_KEY_1": "core.hooksPath",
        "GIT_CONFIG_VALUE_1": str(hooks_dir(home)),
        "GIT_CONFIG_COUNT": "2",
    }
