"""In a Databricks App, git asks gh for github.com credentials; locally nothing changes.

Checked with real git: ``git credential fill`` runs the configured helpers
exactly as ``git push`` over HTTPS does. The fake gh answers ``auth
git-credential get`` the way the real one does after ``gh auth login``
(gh's git-credential command: it reads the request's ``key=value`` lines from
stdin and prints ``protocol``, ``host``, ``username`` and ``password`` lines).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from coda_jupyter.agents.writers import ConfigContext, git
from tests.conftest import write_stub

FAKE_GH = """if [ "$1 $2 $3" != "auth git-credential get" ]; then exit 1; fi
echo "$@" >> "$HOME/gh-calls"
while read -r line && [ -n "$line" ]; do :; done
printf 'protocol=https\\nhost=github.com\\nusername=octo-user\\npassword=gho_faketoken\\n'
"""


def git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "XDG_CONFIG_HOME"}
    # No system gitconfig helper, no prompt: only what the global config says.
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="")
    return env


def credential_fill(home: Path, host: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "credential", "fill"],
        input=f"protocol=https\nhost={host}\n\n",
        env=git_env(home),
        capture_output=True,
        text=True,
        timeout=30,
        cwd=home,
    )


@pytest.fixture
def apps_ctx(make_ctx: Callable[..., ConfigContext]) -> ConfigContext:
    return make_ctx(apps_mode=True)


def test_git_gets_credentials_from_gh(apps_ctx: ConfigContext, home: Path) -> None:
    gh = write_stub(home / ".local" / "bin", "gh", FAKE_GH)
    assert git.write(apps_ctx) == [home / ".gitconfig"]
    filled = credential_fill(home, "github.com")
    assert filled.returncode == 0, filled.stderr
    assert "username=octo-user\n" in filled.stdout and "password=gho_faketoken\n" in filled.stdout, filled.stdout
    assert (home / "gh-calls").read_text() == "auth git-credential get\n"
    helpers = subprocess.run(
        ["git", "config", "--global", "--get-all", "credential.https://gist.github.com.helper"],
        env=git_env(home),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert helpers == f"\n!{gh} auth git-credential\n"
    # Re-runs change nothing.
    assert git.write(apps_ctx) == []


def test_earlier_helpers_are_reset_for_github_only(apps_ctx: ConfigContext, home: Path) -> None:
    """A helper the image configured first would answer before gh; the empty entry drops it."""
    write_stub(home / ".local" / "bin", "gh", FAKE_GH)
    write_stub(home / "bin", "other-helper", 'printf "username=stale\\npassword=stale\\n"')
    (home / ".gitconfig").write_text(f"[credential]\n\thelper = {home / 'bin' / 'other-helper'}\n")
    git.write(apps_ctx)
    assert "password=gho_faketoken" in credential_fill(home, "github.com").stdout
    assert "password=stale" in credential_fill(home, "gitlab.example.com").stdout


def test_helper_points_where_setup_installs_gh_when_it_is_not_there_yet(
    apps_ctx: ConfigContext, home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", f"{empty}{os.pathsep}/usr/bin{os.pathsep}/bin")
    if subprocess.run(["sh", "-c", "command -v gh"], capture_output=True).returncode == 0:
        pytest.skip("a system gh is installed")
    git.write(apps_ctx)
    # Installed later by setup's gh step: the already written helper finds it.
    write_stub(home / ".local" / "bin", "gh", FAKE_GH)
    assert "password=gho_faketoken" in credential_fill(home, "github.com").stdout


def test_local_mode_leaves_the_users_gitconfig_byte_identical(
    make_ctx: Callable[..., ConfigContext], home: Path
) -> None:
    write_stub(home / ".local" / "bin", "gh", FAKE_GH)
    original = b"[user]\n\tname = Me Myself\n\temail = me@home.org\n[credential]\n\thelper = store\n"
    (home / ".gitconfig").write_bytes(original)
    assert git.write(make_ctx(apps_mode=False)) == []
    assert (home / ".gitconfig").read_bytes() == original
