"""Token rotation on a ~1.5 s interval against the fake workspace and the real SDK."""

from __future__ import annotations

import asyncio
import configparser
import logging
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from coda_jupyter.auth.credentials import CredentialManager, InvalidToken, RotationSettings
from tests.fakes.workspace import FakeWorkspace

Make = Callable[..., CredentialManager]
Eventually = Callable[..., Awaitable[object]]
CREATE = "/api/2.0/token/create"


def _token_in_file(path: Path, profile: str = "DEFAULT") -> str:
    parser = configparser.ConfigParser(interpolation=None, default_section="\0none")
    parser.read(path)
    return parser[profile]["token"]


async def test_rotation_mints_then_revokes_previous_by_id(
    make_manager: Make, workspace: FakeWorkspace, private_home: Path, eventually: Eventually
) -> None:
    cfg = private_home / ".databrickscfg"
    cfg.write_text("[other]\nhost = https://other.example.com\ntoken = keep-me\n", encoding="utf-8")
    manager = make_manager()

    await manager.configure(workspace.bootstrap_token)
    await eventually(lambda: len(workspace.minted_tokens()) >= 3, what="two rotations")
    await eventually(lambda: len([t for t in workspace.minted_tokens() if t.revoked]) >= 2, what="two revocations")

    minted = workspace.minted_tokens()
    assert minted[0].revoked and minted[1].revoked
    # Each revocation names the previous token by id, authenticated with the newer one.
    deletes = workspace.calls("/api/2.0/token/delete")
    assert [d.token_id for d in deletes[:2]] == [minted[1].token_id, minted[2].token_id]
    assert all(d.status == 200 for d in deletes[:2])
    assert workspace.is_valid(workspace.bootstrap_token), "the pasted PAT is never revoked"

    current = manager.credentials
    assert current is not None and current.token is not None
    assert workspace.is_valid(current.token)
    assert _token_in_file(cfg) == current.token
    assert _token_in_file(cfg, "other") == "keep-me"
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    status = manager.status()
    assert status["state"] == "valid"
    assert status["last_rotation"] is not None and status["next_rotation"] > status["last_rotation"]


@pytest.mark.parametrize("status_code", [500, 503])
async def test_server_errors_are_retried_and_recover(
    make_manager: Make, workspace: FakeWorkspace, eventually: Eventually, status_code: int
) -> None:
    manager = make_manager()
    await manager.configure(workspace.bootstrap_token)
    first = manager.credentials
    assert first is not None
    workspace.fail_next(CREATE, status_code, times=3)

    await eventually(lambda: manager.status()["last_error"], what="a failed rotation")
    # A success needs two more failed attempts first, so this cannot race it.
    assert manager.credentials == first
    assert workspace.is_valid(first.token)

    await eventually(lambda: len(workspace.minted_tokens()) >= 2, what="recovery after faults")
    failed = [r for r in workspace.calls(CREATE) if r.status == status_code]
    assert len(failed) == 3
    await eventually(lambda: workspace.token(first.token_id or "").revoked, what="old token revoked after recovery")
    status = manager.status()
    assert status["state"] == "valid"
    assert status["last_error"] is None


async def test_slow_reply_times_out_and_recovers(
    make_manager: Make, workspace: FakeWorkspace, eventually: Eventually
) -> None:
    manager = make_manager()
    await manager.configure(workspace.bootstrap_token)
    workspace.slow_next(CREATE, seconds=3.0, times=2)

    await eventually(lambda: manager.status()["last_error"], what="a rotation error from the slow reply")
    assert manager.status()["state"] == "error"
    assert "Timed out" in manager.status()["last_error"]
    await eventually(lambda: manager.status()["state"] == "valid" and manager.status()["last_error"] is None)
    assert len([t for t in workspace.minted_tokens() if not t.revoked]) >= 1


async def test_revoked_tokens_reach_expired_and_stop(
    make_manager: Make, workspace: FakeWorkspace, eventually: Eventually
) -> None:
    manager = make_manager()
    await manager.configure(workspace.bootstrap_token)
    workspace.revoke_all()

    await eventually(lambda: manager.status()["state"] == "expired", what="expired state")
    status = manager.status()
    assert status["next_rotation"] is None
    assert "paste a new token" in status["last_error"]
    attempts = len(workspace.calls(CREATE))
    await asyncio.sleep(3)
    assert len(workspace.calls(CREATE)) == attempts, "rotation stops until a new PAT is configured"

    fresh = workspace.seed_token()
    assert (await manager.configure(fresh))["state"] == "valid"


def short_lived(lifetime_seconds: int) -> RotationSettings:
    """Tokens that die within seconds, rotated every second, with quick bounded backoff."""
    return RotationSettings(
        lifetime_seconds=lifetime_seconds,
        interval_seconds=1.0,
        backoff_initial_seconds=0.2,
        backoff_max_seconds=0.5,
        sdk_retry_timeout_seconds=1,
        sdk_http_timeout_seconds=1.0,
    )


async def test_persistent_failures_go_expiring_then_expired(
    make_manager: Make, workspace: FakeWorkspace, eventually: Eventually
) -> None:
    settings = short_lived(4)
    manager = make_manager(settings=settings)
    await manager.configure(workspace.bootstrap_token)
    workspace.fail_next(CREATE, 500, times=1000)

    await eventually(lambda: manager.status()["state"] == "expiring", what="expiring state")
    await eventually(lambda: manager.status()["state"] == "expired", what="expired state")
    # Backoff is bounded: some retries, but no tight loop hammering the workspace.
    failed = len([r for r in workspace.calls(CREATE) if r.status == 500])
    assert 2 <= failed <= 30


async def test_keeps_rotating_when_idle_past_the_lifetime(
    make_manager: Make, workspace: FakeWorkspace, eventually: Eventually
) -> None:
    """Upstream skipped rotation while idle until the token died (deadlock)."""
    settings = short_lived(3)
    manager = make_manager(settings=settings)
    await manager.configure(workspace.bootstrap_token)
    started = time.monotonic()
    await eventually(lambda: time.monotonic() - started > 2 * settings.lifetime_seconds, timeout=30)

    current = manager.credentials
    assert current is not None
    assert manager.status()["state"] == "valid"
    assert workspace.is_valid(current.token)
    assert len(workspace.minted_tokens()) >= 4


async def test_tokens_never_reach_the_logs(
    make_manager: Make, workspace: FakeWorkspace, eventually: Eventually, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    manager = make_manager()
    second_pat = workspace.seed_token()
    await manager.configure(workspace.bootstrap_token)
    workspace.fail_next(CREATE, 500)
    await eventually(lambda: len(workspace.minted_tokens()) >= 3, what="rotations")
    await manager.configure(second_pat, replace=True)
    bogus = "dapi" + "0badc0de" * 4
    with pytest.raises(InvalidToken):
        await manager.configure(bogus, replace=True)
    workspace.revoke_all()
    await eventually(lambda: manager.status()["state"] == "expired")

    text = caplog.text
    assert "rotated Databricks token" in text, "the cycle was logged at all"
    assert "/api/2.0/token/create" in text, "SDK debug logging was captured too"
    secrets = [workspace.bootstrap_token, second_pat, bogus] + [t.value for t in workspace.minted_tokens()]
    for secret in secrets:
        assert secret not in text
