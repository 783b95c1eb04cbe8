"""An external MCP client reaches the app's MCP endpoint through the Apps proxy.

The client holds a Databricks OAuth token, never the Jupyter token: the proxy
checks the token against the workspace and forwards the request with the
owner's identity headers (see tests/apps/proxy.py and docs/deployment.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from tests.conftest import write_stub
from tests.fakes.workspace import FakeWorkspace
from tests.mcp.conftest import STUB_AGENT, server_config

from ..browser.lab import Lab
from .conftest import OTHER, OWNER, Visitor, apps_server
from .proxy import AppsProxy

CLIENT_ID, CLIENT_SECRET = "owner-laptop-client", "owner-laptop-secret"
JSON = {"Content-Type": "application/json"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "ext", "version": "1"}},
}


@pytest.fixture(scope="module")
def workspace() -> Iterator[FakeWorkspace]:
    with FakeWorkspace() as fake:
        # The owner's laptop: an OAuth client whose tokens name the owner, as a
        # `databricks auth login` profile would give (U2M needs a browser).
        fake.seed_service_principal(CLIENT_ID, CLIENT_SECRET, OWNER)
        yield fake


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, workspace: FakeWorkspace) -> Iterator[tuple[Lab, AppsProxy]]:
    base = tmp_path_factory.mktemp("apps-mcp")
    write_stub(base / "home" / ".local" / "bin", "stubby-agent", STUB_AGENT)
    (base / "config").mkdir(parents=True, exist_ok=True)
    (base / "config" / "jupyter_server_config.json").write_text(json.dumps(server_config()), encoding="utf-8")
    env = {"DATABRICKS_APP_NAME": "coda", "APP_OWNER_EMAIL": OWNER}
    with apps_server(base, env) as (lab, proxy):
        proxy.workspace_host = workspace.host
        yield lab, proxy


def oauth_token(workspace: FakeWorkspace) -> str:
    from databricks.sdk.core import Config

    config = Config(host=workspace.host, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    return str(config.authenticate()["Authorization"].removeprefix("Bearer "))


def post(url: str, payload: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    reply = Visitor(url).request("", "POST", json.dumps(payload).encode(), {**JSON, **headers})
    return reply.status, json.loads(reply.body) if reply.body else None


def test_oauth_client_reaches_mcp_under_api(app: tuple[Lab, AppsProxy], workspace: FakeWorkspace) -> None:
    _, proxy = app
    token = oauth_token(workspace)
    status, body = post(proxy.url + "api/coda/mcp", INIT, {"Authorization": f"Bearer {token}"})
    assert status == 200, body
    assert body["result"]["serverInfo"]["name"] == "coda-jupyter"


def test_bad_oauth_token_is_stopped_at_the_proxy(app: tuple[Lab, AppsProxy]) -> None:
    _, proxy = app
    status, _ = post(proxy.url + "api/coda/mcp", INIT, {"Authorization": "Bearer not-a-token"})
    assert status == 401


def test_signed_in_owner_needs_no_xsrf_for_json(app: tuple[Lab, AppsProxy]) -> None:
    """A browser-session identity, as the platform's SSO gives, on the JSON endpoint."""
    _, proxy = app
    owner = Visitor(proxy.url, identity=OWNER)
    reply = owner.request("api/coda/mcp", "POST", json.dumps(INIT).encode(), {**JSON, "Origin": owner.origin})
    assert reply.status == 200, reply.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},  # a form a foreign page can send without a preflight
        {**JSON, "Origin": "https://evil.example"},
    ],
    ids=["not-json", "foreign-origin"],
)
def test_requests_a_foreign_page_could_send_are_refused(app: tuple[Lab, AppsProxy], headers: dict[str, str]) -> None:
    _, proxy = app
    owner = Visitor(proxy.url, identity=OWNER)
    reply = owner.request("api/coda/mcp", "POST", json.dumps(INIT).encode(), headers)
    assert reply.status in {403, 415}, reply.text
    assert "message" in reply.json()


def test_other_users_oauth_token_is_refused(app: tuple[Lab, AppsProxy], workspace: FakeWorkspace) -> None:
    _, proxy = app
    other_token = workspace.seed_token(user_name=OTHER)
    status, body = post(proxy.url + "api/coda/mcp", INIT, {"Authorization": f"Bearer {other_token}"})
    assert status == 403
    assert OTHER in body["message"]


def _read_reply(stdout: IO[str], wanted_id: int, deadline: float) -> dict[str, Any]:
    while time.monotonic() < deadline:
        line = stdout.readline()
        if not line:
            raise AssertionError("coda-bridge exited")
        message = json.loads(line)
        if message.get("id") == wanted_id:
            return dict(message)
    raise AssertionError(f"no reply to request {wanted_id}")


def test_coda_bridge_runs_a_task_through_the_proxy(
    app: tuple[Lab, AppsProxy], workspace: FakeWorkspace, tmp_path: Path
) -> None:
    """The Tasks panel's stdio snippet, run on the owner's laptop."""
    _, proxy = app
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(f"[laptop]\nhost = {workspace.host}\nclient_id = {CLIENT_ID}\nclient_secret = {CLIENT_SECRET}\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "JUPYTER_", "CODA_"))},
        "DATABRICKS_CONFIG_FILE": str(cfg),
        "DATABRICKS_CONFIG_PROFILE": "laptop",
        "CODA_MCP_URL": proxy.url + "api/coda/mcp",
    }
    bridge = subprocess.Popen(
        [sys.executable, "-m", "coda_jupyter.mcp.bridge", "--timeout", "30"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert bridge.stdin is not None and bridge.stdout is not None
    deadline = time.monotonic() + 90

    def send(message: dict[str, Any]) -> None:
        assert bridge.stdin is not None
        bridge.stdin.write(json.dumps(message) + "\n")
        bridge.stdin.flush()

    try:
        send(INIT)
        assert _read_reply(bridge.stdout, 1, deadline)["result"]["protocolVersion"] == "2025-11-25"
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "coda_run", "arguments": {"prompt": "write the report"}},
            }
        )
        started = _read_reply(bridge.stdout, 2, deadline)["result"]["structuredContent"]
        task_id = started["task_id"]
        # The OAuth token is revoked (or expires): the proxy answers 401 and
        # the bridge gets a fresh one from the profile by itself.
        workspace.revoke_all()
        result: dict[str, Any] = {}
        request_id = 3
        while result.get("status") not in {"completed", "failed"}:
            assert time.monotonic() < deadline, result
            send(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "method": "tools/call",
                    "params": {"name": "coda_get_result", "arguments": {"task_id": task_id}},
                }
            )
            result = _read_reply(bridge.stdout, request_id, deadline)["result"]["structuredContent"]
            request_id += 1
            time.sleep(0.3)
        assert result["status"] == "completed", result
        assert f"stub did {task_id}" in json.dumps(result)
    finally:
        bridge.stdin.close()
        bridge.wait(10)
        errors = bridge.stderr.read() if bridge.stderr else ""
    assert CLIENT_SECRET not in errors
