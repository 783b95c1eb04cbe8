"""``kill -9`` of a real server in the middle of a token rotation, then a restart.

The fake workspace holds back the reply to ``token/create`` or
``token/delete`` after acting on it, so the kill lands exactly where the
server cannot know what the workspace did: a token minted whose value and id
never arrived, or a revocation whose answer never came. After the restart the
credentials on disk must still work, and every minted token other than the
current one must end up revoked, none of them twice.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path

import pytest

from coda_jupyter.auth import databrickscfg
from coda_jupyter.auth.minted import MintedTokens, fingerprint
from tests.browser.lab import Lab, running_lab
from tests.fakes.workspace import DEFAULT_USER, FakeWorkspace
from tests.waiting import eventually

CREATE = "/api/2.0/token/create"
DELETE = "/api/2.0/token/delete"
PROFILE = "coda-jupyter"  # the profile a local server rotates
# Long enough for a restart (two server start-ups on a busy 2-core machine);
# the restarted server rotates rarely, so the checks below see a still picture.
LIFETIME_S = 300
FAST_INTERVAL_S = 2
SLOW_INTERVAL_S = 240


def server_args(workspace: FakeWorkspace, interval: int) -> list[str]:
    return [
        f"--CredentialManager.host={workspace.host}",
        f"--CredentialManager.token_lifetime={LIFETIME_S}",
        f"--CredentialManager.rotation_interval={interval}",
        "--SetupService.enabled=False",
        "--CredentialManager.local_profile=",
    ]


def token_on_disk(home: Path) -> str | None:
    values = databrickscfg.profile_values(databrickscfg.read_text(home / ".databrickscfg") or "", PROFILE)
    return (values or {}).get("token")


def kill_hard(lab: Lab) -> None:
    os.killpg(lab.process.pid, signal.SIGKILL)
    lab.process.wait(timeout=10)


def all_but_current_revoked(workspace: FakeWorkspace, home: Path) -> bool:
    current = token_on_disk(home)
    return all(t.revoked for t in workspace.minted_tokens() if t.value != current)


def journal_path(home: Path) -> Path:
    return home / ".local" / "state" / "coda-jupyter" / "minted-tokens.json"


def journal_holds_only_current(home: Path) -> bool:
    """The restarted server is done cleaning up: its journal lists the current token alone.

    Without this the checks below can run between the server reporting
    "valid" and its asking the workspace to revoke what the dead one left,
    while the workspace already shows those tokens revoked.
    """
    entries = MintedTokens(journal_path(home)).entries()
    return [entry.sha256 for entry in entries] == [fingerprint(token_on_disk(home) or "")]


@pytest.mark.parametrize(
    "held",
    [CREATE, DELETE],
    ids=["killed-while-token-create-answers", "killed-while-token-delete-answers"],
)
def test_restart_after_kill_mid_rotation(tmp_path: Path, held: str) -> None:
    with FakeWorkspace() as workspace:
        env = {"DATABRICKS_CONFIG_FILE": str(tmp_path / "home" / ".databrickscfg")}
        with running_lab(tmp_path, extra_env=env, extra_args=server_args(workspace, FAST_INTERVAL_S)) as first:
            home = first.home
            status = first.api(
                "coda/api/credentials", "POST", json.dumps({"token": workspace.bootstrap_token}).encode()
            )
            assert status["state"] == "valid"  # type: ignore[index]
            hold = workspace.hold_next(held, applied=True)
            assert hold.arrived.wait(30), f"no rotation reached {held}"
            kill_hard(first)
            hold.release()

        on_disk_before = token_on_disk(home)
        assert on_disk_before is not None and workspace.is_valid(on_disk_before)
        minted_before = {t.token_id for t in workspace.minted_tokens()}
        if held == CREATE:
            # The workspace made a token the dead server never heard of.
            assert any(t.value != on_disk_before and not t.revoked for t in workspace.minted_tokens())

        with running_lab(tmp_path, extra_env=env, extra_args=server_args(workspace, SLOW_INTERVAL_S)) as second:
            status = eventually(
                lambda: (s := second.api("coda/api/credentials")) and s["state"] == "valid" and s,  # type: ignore[index]
                "the restarted server picking up the token on disk",
            )
            assert status["user"] == DEFAULT_USER and status["source"] == "pat"
            eventually(
                lambda: all_but_current_revoked(workspace, home) and journal_holds_only_current(home),
                "revocation of every leftover token",
            )

            current = token_on_disk(home)
            assert current == on_disk_before, "the restarted server kept the token it found"
            assert workspace.is_valid(current)
            assert {t.token_id for t in workspace.minted_tokens()} == minted_before, "no rotation yet"
            current_id = workspace.token_id_of(current)
            revoked_ids = {t.token_id for t in workspace.minted_tokens() if t.revoked}
            assert revoked_ids == minted_before - {current_id}
            # Every revocation succeeded once. The one repeat allowed is the
            # revocation the dead server sent but never heard back about: the
            # restarted server cannot know it happened, asks again and takes
            # the 404 as done.
            deletes = workspace.calls(DELETE)
            assert len([d for d in deletes if d.status == 200]) == len(revoked_ids)
            assert len([d for d in deletes if d.status == 404]) == (1 if held == DELETE else 0)
            assert len(deletes) == len(revoked_ids) + (1 if held == DELETE else 0)
            assert workspace.is_valid(workspace.bootstrap_token)

            journal = journal_path(home)
            assert stat.S_IMODE(journal.stat().st_mode) == 0o600
            text = journal.read_text()
            assert all(t.value not in text for t in workspace.minted_tokens())
            assert workspace.bootstrap_token not in text
