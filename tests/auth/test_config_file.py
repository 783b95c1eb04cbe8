"""~/.databrickscfg is the user's file: coda edits its own profile and keeps every other byte."""

from __future__ import annotations

import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from coda_jupyter.auth.credentials import (
    ConfigFileUnusable,
    CredentialManager,
    profile_exists,
    write_profile,
)
from tests.fakes.workspace import DEFAULT_USER, FakeWorkspace

Make = Callable[..., CredentialManager]
Eventually = Callable[..., Awaitable[object]]

# Comments everywhere, odd order, odd spacing, a DEFAULT that is not first,
# a key spelt in capitals, a multi-line value, no newline at the very end.
USER_FILE = (
    "# my Databricks profiles, kept in dotfiles\n"
    "; with a semicolon comment too\n"
    "\n"
    "[zeta]\n"
    "host   =   https://zeta.example.com\n"
    "token=zeta-token\n"
    "\n"
    "[coda-jupyter]\n"
    "# a note the user left in our section\n"
    "Host: https://old.example.com\n"
    "cluster_id = 0101\n"
    "token = stale-token\n"
    "client_secret = not-allowed-next-to-a-token\n"
    "  continued-secret-line\n"
    "\n"
    "[DEFAULT]\n"
    "host = https://default.example.com\n"
    "description = first line\n"
    "    second line\n"
    "\n"
    "[alpha]\n"
    "host = https://alpha.example.com\n"
    "token = alpha-token"
)


def expected_file(host: str, token: str) -> str:
    """``USER_FILE`` with only the coda profile's host and token changed."""
    return (
        USER_FILE.replace("Host: https://old.example.com\n", f"Host: {host}\n")
        .replace("token = stale-token\n", f"token = {token}\n")
        .replace("client_secret = not-allowed-next-to-a-token\n  continued-secret-line\n", "")
    )


def test_only_the_coda_profile_changes_byte_for_byte(private_home: Path) -> None:
    cfg = private_home / ".databrickscfg"
    cfg.write_text(USER_FILE, encoding="utf-8")
    for n in range(3):
        write_profile(cfg, "coda-jupyter", "https://ws.example.com", f"dapi-rotated-{n}")
        assert cfg.read_text(encoding="utf-8") == expected_file("https://ws.example.com", f"dapi-rotated-{n}")
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600


def test_a_new_profile_is_appended_and_nothing_else_moves(private_home: Path) -> None:
    cfg = private_home / ".databrickscfg"
    cfg.write_text(USER_FILE, encoding="utf-8")
    write_profile(cfg, "fresh", "https://ws.example.com", "dapi-1")
    write_profile(cfg, "fresh", "https://ws.example.com", "dapi-2")
    assert cfg.read_text(encoding="utf-8") == USER_FILE + "\n\n[fresh]\nhost = https://ws.example.com\ntoken = dapi-2\n"


async def test_rotations_keep_comments_other_profiles_and_order(
    make_manager: Make, workspace: FakeWorkspace, private_home: Path, eventually: Eventually
) -> None:
    cfg = private_home / ".databrickscfg"
    cfg.write_text(USER_FILE, encoding="utf-8")
    manager = make_manager(profile="coda-jupyter")
    await manager.configure(workspace.bootstrap_token)
    await eventually(lambda: len(workspace.minted_tokens()) >= 3, what="two rotations")
    await manager.stop()

    current = manager.credentials
    assert current is not None and current.token is not None
    assert cfg.read_text(encoding="utf-8") == expected_file(workspace.host, current.token)


def test_a_symlinked_config_stays_a_symlink(private_home: Path) -> None:
    dotfiles = private_home / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "databrickscfg"
    target.write_text(USER_FILE, encoding="utf-8")
    target.chmod(0o644)
    cfg = private_home / ".databrickscfg"
    cfg.symlink_to(target)

    write_profile(cfg, "coda-jupyter", "https://ws.example.com", "dapi-1")

    assert cfg.is_symlink() and os.readlink(cfg) == str(target)
    assert target.read_text(encoding="utf-8") == expected_file("https://ws.example.com", "dapi-1")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in dotfiles.iterdir()) == ["databrickscfg"], "no temp file left behind"
    assert sorted(p.name for p in private_home.iterdir()) == [".databrickscfg", "dotfiles"]


LATIN1 = (
    b"[legacy]\n"
    b"host = https://legacy.example.com\n"
    b"token = legacy-token\n"
    b"owner = Jos\xe9 (saved by an old latin-1 editor)\n"
    b"\n"
)


async def test_a_latin1_byte_elsewhere_loads_and_survives_rotation(
    make_manager: Make, workspace: FakeWorkspace, private_home: Path
) -> None:
    cfg = private_home / ".databrickscfg"
    default = f"[DEFAULT]\nhost = {workspace.host}\ntoken = {workspace.bootstrap_token}\n\n".encode()
    cfg.write_bytes(LATIN1 + default)

    assert profile_exists("DEFAULT") and profile_exists("legacy") and not profile_exists("nope")
    local = make_manager(mode="local")
    status = await local.load_profile("DEFAULT")
    assert status["state"] == "valid" and status["user"] == DEFAULT_USER

    rotating = make_manager(profile="coda-jupyter")
    await rotating.configure(workspace.bootstrap_token, host=workspace.host)
    await rotating.stop()
    minted = rotating.credentials
    assert minted is not None and minted.token is not None
    data = cfg.read_bytes()
    assert data == LATIN1 + default + f"\n[coda-jupyter]\nhost = {workspace.host}\ntoken = {minted.token}\n".encode()

    resumed = make_manager(mode="local", profile="coda-jupyter")
    assert (await resumed.load_profile())["state"] == "valid"


async def test_an_unparsable_file_is_refused_never_moved_aside(
    make_manager: Make, workspace: FakeWorkspace, private_home: Path
) -> None:
    cfg = private_home / ".databrickscfg"
    broken = "[mine]\nhost = https://mine.example.com\nthis line is neither a key nor a section\n"
    cfg.write_text(broken, encoding="utf-8")
    cfg.chmod(0o644)

    with pytest.raises(ConfigFileUnusable) as caught:
        write_profile(cfg, "coda-jupyter", "https://ws.example.com", "dapi-1")
    assert str(cfg) in str(caught.value) and "line 3" in str(caught.value)

    manager = make_manager(profile="coda-jupyter")
    with pytest.raises(ConfigFileUnusable) as refused:
        await manager.configure(workspace.bootstrap_token)
    assert 400 <= refused.value.status < 500
    assert "line 3" in str(refused.value) and "dapi" not in str(refused.value)
    assert manager.status()["state"] == "missing"
    # The token minted for the write that never happened is revoked again.
    assert [t.revoked for t in workspace.minted_tokens()] == [True]

    assert cfg.read_text(encoding="utf-8") == broken
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o644
    assert sorted(p.name for p in private_home.iterdir()) == [".databrickscfg"]


@pytest.mark.parametrize("value", ["https://ws.example.com\ntoken = injected", "https://ws.example.com\r[other]"])
def test_values_cannot_add_lines(private_home: Path, value: str) -> None:
    cfg = private_home / ".databrickscfg"
    with pytest.raises(ValueError):
        write_profile(cfg, "coda-jupyter", value, "dapi-1")
    assert not cfg.exists()
