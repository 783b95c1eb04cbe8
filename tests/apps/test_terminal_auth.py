"""In an App's terminals the Databricks SDK acts as the owner, before and after a rotation.

The platform sets ``DATABRICKS_HOST`` (and the app's service principal) in the
app's environment. With a host in the environment and no credentials, the SDK
never reads ``~/.databrickscfg``; rotated tokens must reach it another way, and
a process that started before a rotation must keep working after it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.workspace import FakeWorkspace

from ..browser.lab import Lab
from ..terminal_io import terminal_input
from .conftest import APP_NAME, OWNER, SERVICE_PRINCIPAL_ENV, Visitor, apps_server
from .proxy import AppsProxy

# A long-lived SDK client, as in a notebook or an agent's Python session: one
# call, then another once the token it first used has been revoked.
PROBE = (
    "import os, sys, time\n"
    "from databricks.sdk import WorkspaceClient\n"
    "w = WorkspaceClient()\n"
    "print('first-' + w.current_user.me().user_name, flush=True)\n"
    "while not os.path.exists(sys.argv[1]): time.sleep(0.1)\n"
    "print('second-' + w.current_user.me().user_name, flush=True)\n"
)
ME = "/api/2.0/preview/scim/v2/Me"


@pytest.fixture(scope="module")
def workspace() -> Iterator[FakeWorkspace]:
    with FakeWorkspace(user_name=OWNER, apps={APP_NAME: OWNER}) as fake:
        yield fake


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, workspace: FakeWorkspace) -> Iterator[tuple[Lab, AppsProxy]]:
    env = {
        "DATABRICKS_APP_NAME": APP_NAME,
        "DATABRICKS_HOST": workspace.host,
        "DATABRICKS_WORKSPACE_ID": "1234567890",
        **SERVICE_PRINCIPAL_ENV,
    }
    workspace.seed_service_principal(
        SERVICE_PRINCIPAL_ENV["DATABRICKS_CLIENT_ID"], SERVICE_PRINCIPAL_ENV["DATABRICKS_CLIENT_SECRET"], "app-sp"
    )
    # Rotation every few seconds, so the test sees one happen.
    args = ["--CredentialManager.token_lifetime=120", "--CredentialManager.rotation_interval=4"]
    with apps_server(tmp_path_factory.mktemp("apps-sdk"), env, args) as server:
        yield server


def _paste_pat(lab: Lab, workspace: FakeWorkspace) -> None:
    pat = workspace.seed_token(user_name=OWNER)
    reply = lab.api("coda/api/credentials", "POST", json.dumps({"token": pat}).encode())
    assert isinstance(reply, dict), reply
    deadline = time.monotonic() + 30
    while not workspace.minted_tokens():
        assert time.monotonic() < deadline, "no token was minted from the PAT"
        time.sleep(0.2)


def _release_after_rotation(workspace: FakeWorkspace, go: Path) -> None:
    """Lets the probe make its second call once the token of its first is revoked."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        first = [call.token_id for call in workspace.calls(ME) if call.status == 200]
        if first and first[-1] and workspace.token(first[-1]).revoked:
            go.touch()
            return
        time.sleep(0.2)


def test_sdk_in_a_terminal_is_the_owner_across_a_rotation(app: tuple[Lab, AppsProxy], workspace: FakeWorkspace) -> None:
    lab, _ = app
    _paste_pat(lab, workspace)
    created = lab.api("api/terminals", "POST", b"{}")
    assert isinstance(created, dict)
    probe, go = lab.home / "probe.py", lab.home / "go"
    probe.write_text(PROBE, encoding="utf-8")
    calls_before = len(workspace.calls(ME))
    releaser = threading.Thread(target=_release_after_rotation, args=(workspace, go), daemon=True)
    releaser.start()
    status, output = Visitor(lab.url, token=lab.token).websocket(
        f"terminals/websocket/{created['name']}",
        send=[terminal_input(f"{sys.executable} {probe} {go} 2>&1 | tail -3")],
        until=f"second-{OWNER}",
        timeout=120,
    )
    releaser.join(1)
    assert status == 101
    assert go.exists(), "the first token was never revoked"
    ids = [call.token_id for call in workspace.calls(ME)[calls_before:] if call.status == 200]
    assert len(set(ids)) >= 2, ids
