"""CredentialManager.configure / load_profile against the fake workspace and the real SDK."""

from __future__ import annotations

import configparser
import json
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from coda_jupyter.auth.credentials import (
    AlreadyConfigured,
    CredentialManager,
    Credentials,
    InvalidToken,
    MissingHost,
    ProfileUnavailable,
    WorkspaceUnavailable,
    normalise_host,
)
from tests.auth.conftest import FAST
from tests.fakes.workspace import DEFAULT_USER, FakeWorkspace

Make = Callable[..., CredentialManager]


def _profiles(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, default_section="\0none")
    parser.read(path)
    return parser


async def test_status_before_configuration(make_manager: Make, workspace: FakeWorkspace) -> None:
    status = make_manager().status()
    assert status["state"] == "missing"
    assert status["configured"] is False
    assert status["host"] == workspace.host
    assert set(status) >= {"mode", "configured", "state", "user", "host", "expires_at", "last_rotation", "last_error"}


async def test_configure_mints_persists_and_keeps_the_bootstrap_pat(
    make_manager: Make, workspace: FakeWorkspace, private_home: Path
) -> None:
    manager = make_manager()
    seen: list[Credentials] = []
    manager.on_available(seen.append)

    status = await manager.configure(workspace.bootstrap_token)

    assert status["state"] == "valid"
    assert status["user"] == DEFAULT_USER
    assert status["source"] == "pat"
    [minted] = workspace.minted_tokens()
    assert minted.comment is not None and minted.comment.startswith("coda-jupyter ")
    assert minted.expiry_ms is not None
    assert minted.expiry_ms - minted.creation_ms == FAST.lifetime_seconds * 1000
    assert status["expires_at"] == pytest.approx(minted.expiry_ms / 1000)
    # The pasted PAT validated and minted, and nothing else: never revoked.
    bootstrap_id = workspace.token_id_of(workspace.bootstrap_token)
    assert [r.path for r in workspace.requests if r.token_id == bootstrap_id] == [
        "/api/2.0/preview/scim/v2/Me",
        "/api/2.0/token/create",
    ]
    assert workspace.is_valid(workspace.bootstrap_token)
    assert workspace.calls("/api/2.0/token/delete") == []

    cfg = private_home / ".databrickscfg"
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert dict(_profiles(cfg)["DEFAULT"]) == {"host": workspace.host, "token": minted.value}

    [creds] = seen
    assert creds.token == minted.value and creds.token_id == minted.token_id
    assert minted.value not in repr(creds)
    text = json.dumps(status)
    assert minted.value not in text and workspace.bootstrap_token not in text


async def test_invalid_pat_is_rejected_without_echo(make_manager: Make, workspace: FakeWorkspace) -> None:
    manager = make_manager()
    bogus = "dapi" + "f00d" * 8
    with pytest.raises(InvalidToken) as caught:
        await manager.configure(bogus)
    assert caught.value.status == 400
    assert bogus not in str(caught.value)
    assert "f00d" not in str(caught.value)
    assert manager.status()["state"] == "missing"
    assert workspace.minted_tokens() == []

    with pytest.raises(InvalidToken):
        await manager.configure("   ")


async def test_second_configure_is_409_unless_replace(make_manager: Make, workspace: FakeWorkspace) -> None:
    manager = make_manager()
    await manager.configure(workspace.bootstrap_token)
    second_pat = workspace.seed_token(comment="another PAT")

    with pytest.raises(AlreadyConfigured) as caught:
        await manager.configure(second_pat)
    assert caught.value.status == 409
    assert len(workspace.minted_tokens()) == 1

    await manager.configure(second_pat, replace=True)
    first, second = workspace.minted_tokens()
    assert first.revoked, "the token this manager minted earlier is revoked by id"
    assert not second.revoked
    assert manager.credentials is not None and manager.credentials.token_id == second.token_id
    assert workspace.is_valid(workspace.bootstrap_token)
    assert workspace.is_valid(second_pat)


async def test_configure_after_expiry_needs_no_replace(
    make_manager: Make, workspace: FakeWorkspace, eventually: Callable[..., Awaitable[object]]
) -> None:
    manager = make_manager()
    await manager.configure(workspace.bootstrap_token)
    workspace.revoke_all()
    fresh = workspace.seed_token()
    await eventually(lambda: manager.status()["state"] == "expired", what="expired state")
    status = await manager.configure(fresh)
    assert status["state"] == "valid"


async def test_existing_profiles_survive(make_manager: Make, workspace: FakeWorkspace, private_home: Path) -> None:
    cfg = private_home / ".databrickscfg"
    cfg.write_text(
        "[DEFAULT]\nhost = https://old.example.com\nclient_id = abc\nclient_secret = s3cret\ncluster_id = 0101\n\n"
        "[other]\nhost = https://other.example.com\ntoken = other-token-value\n",
        encoding="utf-8",
    )
    cfg.chmod(0o644)
    manager = make_manager()
    await manager.configure(workspace.bootstrap_token)

    profiles = _profiles(cfg)
    assert dict(profiles["other"]) == {"host": "https://other.example.com", "token": "other-token-value"}
    default = dict(profiles["DEFAULT"])
    # Another auth method next to our token would make the SDK refuse the profile.
    assert "client_id" not in default and "client_secret" not in default
    assert default["cluster_id"] == "0101"
    assert default["host"] == workspace.host
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600


async def test_configurable_profile_name(make_manager: Make, workspace: FakeWorkspace, private_home: Path) -> None:
    manager = make_manager(profile="coda")
    await manager.configure(workspace.bootstrap_token)
    profiles = _profiles(private_home / ".databrickscfg")
    assert profiles.sections() == ["coda"]


async def test_workspace_errors_are_502_without_token(make_manager: Make, workspace: FakeWorkspace) -> None:
    manager = make_manager()
    workspace.fail_next("/api/2.0/preview/scim/v2/Me", 500)
    with pytest.raises(WorkspaceUnavailable) as caught:
        await manager.configure(workspace.bootstrap_token)
    assert caught.value.status == 502
    assert workspace.bootstrap_token not in str(caught.value)

    workspace.fail_next("/api/2.0/token/create", 500)
    with pytest.raises(WorkspaceUnavailable):
        await manager.configure(workspace.bootstrap_token)
    assert manager.status()["state"] == "missing"


async def test_missing_host(workspace: FakeWorkspace) -> None:
    manager = CredentialManager(None)
    with pytest.raises(MissingHost):
        await manager.configure(workspace.bootstrap_token)
    status = await manager.configure(workspace.bootstrap_token, host=workspace.host)
    await manager.stop()
    assert status["host"] == workspace.host


def test_normalise_host() -> None:
    assert normalise_host("adb-1.azuredatabricks.net/") == "https://adb-1.azuredatabricks.net"
    assert normalise_host(" http://127.0.0.1:80/ ") == "http://127.0.0.1:80"
    assert normalise_host("") is None


async def test_load_existing_profile_without_rotation(
    make_manager: Make, workspace: FakeWorkspace, private_home: Path
) -> None:
    (private_home / ".databrickscfg").write_text(
        f"[dev]\nhost = {workspace.host}\ntoken = {workspace.bootstrap_token}\n", encoding="utf-8"
    )
    manager = make_manager(mode="local", profile="dev")
    seen: list[Credentials] = []
    manager.on_available(seen.append)

    status = await manager.load_profile()

    assert status["state"] == "valid"
    assert status["source"] == "profile"
    assert status["user"] == DEFAULT_USER
    assert status["expires_at"] is None and status["next_rotation"] is None
    assert seen[0].profile == "dev" and seen[0].token == workspace.bootstrap_token
    assert workspace.calls("/api/2.0/token/create") == []

    with pytest.raises(AlreadyConfigured):
        await manager.load_profile()
    with pytest.raises(ProfileUnavailable):
        await manager.load_profile("nope", replace=True)


async def test_load_profile_with_revoked_token(
    make_manager: Make, workspace: FakeWorkspace, private_home: Path
) -> None:
    (private_home / ".databrickscfg").write_text(
        f"[DEFAULT]\nhost = {workspace.host}\ntoken = {workspace.bootstrap_token}\n", encoding="utf-8"
    )
    workspace.revoke_all()
    manager = make_manager(mode="local")
    with pytest.raises(InvalidToken) as caught:
        await manager.load_profile()
    assert workspace.bootstrap_token not in str(caught.value)
    assert manager.status()["state"] == "missing"
