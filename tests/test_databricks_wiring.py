"""Credentials, setup release and the model gateway wired together in a real server.

The real databricks-sdk talks to the fake workspace; model traffic goes through
the server's gateway to the fake model upstream.
"""

from __future__ import annotations

import asyncio
import configparser
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from .fakes.model_upstream import FakeModelUpstream
from .fakes.workspace import FakeWorkspace

STEPS = [{"id": "configure", "label": "Configure agents", "command": ["true"], "requires_credentials": True}]


@pytest.fixture
def workspace() -> Iterator[FakeWorkspace]:
    with FakeWorkspace() as fake:
        yield fake


@asynccontextmanager
async def fake_gateway_upstream(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeModelUpstream]:
    """Started inside the test, on the server's loop (pytest-jupyter owns it)."""
    fake = FakeModelUpstream(reply_text="canned answer")
    await fake.start()
    # Discovery trusts DATABRICKS_GATEWAY_HOST: the fake plays the AI Gateway.
    monkeypatch.setenv("DATABRICKS_GATEWAY_HOST", fake.url)
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], workspace: FakeWorkspace, tmp_path: Path) -> dict[str, Any]:
    jp_server_config["CodaApp"]["state_dir"] = str(tmp_path / "state")
    jp_server_config["SetupService"]["extra_steps"] = STEPS
    jp_server_config["CredentialManager"] = {"host": workspace.host}
    return jp_server_config


async def _get(jp_fetch: Any, *path: str) -> Any:
    return json.loads((await jp_fetch(*path)).body)


async def _post_token(jp_fetch: Any, body: dict[str, Any]) -> Any:
    return await jp_fetch("coda", "api", "credentials", method="POST", body=json.dumps(body))


async def _step(jp_fetch: Any, step_id: str, want: str, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        snapshot = await _get(jp_fetch, "coda", "api", "setup")
        step = next(s for s in snapshot["steps"] if s["id"] == step_id)
        if step["status"] == want:
            return step
        assert time.monotonic() < deadline, step
        await asyncio.sleep(0.1)


async def test_pat_releases_setup_and_feeds_the_gateway(
    jp_fetch: Any, workspace: FakeWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fake_gateway_upstream(monkeypatch) as upstream:
        await _pat_flow(jp_fetch, workspace, upstream, tmp_path)


async def _pat_flow(jp_fetch: Any, workspace: FakeWorkspace, upstream: FakeModelUpstream, tmp_path: Path) -> None:
    status = await _get(jp_fetch, "coda", "api", "credentials")
    assert status["state"] == "missing" and status["configured"] is False and status["mode"] == "local"
    skipped = await _step(jp_fetch, "configure", "skipped")
    assert skipped["error"] == "no Databricks credentials"

    with pytest.raises(HTTPClientError) as info:
        await _post_token(jp_fetch, {"token": "dapi-not-a-real-token"})
    assert info.value.code == 400
    assert "dapi-not-a-real-token" not in info.value.response.body.decode()

    reply = await _post_token(jp_fetch, {"token": workspace.bootstrap_token})
    body = reply.body.decode()
    configured = json.loads(body)
    assert configured["state"] == "valid"
    assert configured["user"] == workspace.user_name
    minted = workspace.minted_tokens()[-1]
    assert minted.value not in body and workspace.bootstrap_token not in body

    await _step(jp_fetch, "configure", "done")

    with pytest.raises(HTTPClientError) as conflict:
        await _post_token(jp_fetch, {"token": workspace.bootstrap_token})
    assert conflict.value.code == 409

    # Locally the rotated token gets its own profile; the user's DEFAULT is theirs.
    cfg_path = Path(os.environ["DATABRICKS_CONFIG_FILE"])
    assert oct(cfg_path.stat().st_mode & 0o777) == "0o600"
    parser = configparser.ConfigParser()
    parser.read(cfg_path)
    assert parser["coda-jupyter"]["token"] == minted.value

    gateway = await _get(jp_fetch, "coda", "api", "gateway")
    assert gateway["running"] is True
    assert minted.value not in json.dumps(gateway)
    key = (tmp_path / "state" / "gateway.key").read_text().strip()
    assert oct((tmp_path / "state" / "gateway.key").stat().st_mode & 0o777) == "0o600"

    client = AsyncHTTPClient()
    response = await client.fetch(
        f"http://127.0.0.1:{gateway['port']}/anthropic/v1/messages",
        method="POST",
        headers={"x-api-key": key, "content-type": "application/json"},
        body=json.dumps(
            {"model": "databricks-claude-sonnet-4-6", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        ),
    )
    assert "canned answer" in response.body.decode()
    seen = upstream.last
    assert seen.path.startswith("/anthropic/v1/messages")
    assert seen.headers["Authorization"] == f"Bearer {workspace.minted_tokens()[-1].value}"
    assert key not in str(dict(seen.headers))

    unauthorised = await client.fetch(
        f"http://127.0.0.1:{gateway['port']}/anthropic/v1/messages", method="POST", body="{}", raise_error=False
    )
    assert unauthorised.code == 401


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "token"),
        ({"token": 5}, "token"),
        ({"token": "x", "replace": "yes"}, "replace"),
        ({"token": "x", "host": 3}, "host"),
        # Cannot travel in an Authorization header: refused here, not by the HTTP client later.
        ({"token": "dapi\u2603abc"}, "printable ASCII"),
        ({"token": "dapi abc"}, "printable ASCII"),
        ({"token": "d" * 20000}, "longer than"),
        # The token would be sent to whatever this names, so only a bare workspace URL is taken.
        ({"token": "dapi1", "host": "https://example.com/api/2.0?x=1"}, "no path"),
        ({"token": "dapi1", "host": "ftp://example.com"}, "https://"),
        ({"token": "dapi1", "host": "https://me:pw@example.com"}, "user name"),
    ],
)
async def test_credentials_rejects_bad_input(jp_fetch: Any, body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(HTTPClientError) as info:
        await _post_token(jp_fetch, body)
    assert info.value.code == 400
    assert fragment in json.loads(info.value.response.body)["message"]
