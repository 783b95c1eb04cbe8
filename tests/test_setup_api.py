"""coda/api/setup through a real server, with fast stub steps injected through config."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

STEPS = [
    {"id": "fetch", "label": "Fetching things", "command": ["sh", "-c", "echo fetched; sleep 0.2"]},
    {"id": "build", "label": "Building things", "command": ["sh", "-c", "echo built"], "needs": ["fetch"]},
    {"id": "slow", "label": "Slow step", "command": ["sleep", "2"]},
    {
        "id": "broken",
        "label": "Broken step",
        "command": ["sh", "-c", "echo 'npm WARN something'; echo 'real failure' >&2; exit 3"],
    },
    {"id": "after-broken", "label": "Needs broken", "command": ["true"], "needs": ["broken"]},
    {"id": "configure", "label": "Configure agents", "command": ["true"], "requires_credentials": True},
]


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    jp_server_config["SetupService"]["extra_steps"] = STEPS
    return jp_server_config


async def _snapshot(jp_fetch: Any) -> dict[str, Any]:
    return json.loads((await jp_fetch("coda", "api", "setup")).body)


async def _settled(jp_fetch: Any, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        snapshot = await _snapshot(jp_fetch)
        if not any(step["status"] in ("pending", "running") for step in snapshot["steps"]):
            return snapshot
        assert time.monotonic() < deadline, snapshot
        await asyncio.sleep(0.1)


async def test_setup_runs_in_background_and_reports_each_step(jp_fetch: Any) -> None:
    first = await _snapshot(jp_fetch)
    assert {step["id"] for step in first["steps"]} == {s["id"] for s in STEPS}
    assert first["status"] in ("pending", "running", "failed")
    # The server answers while steps run.
    health = await jp_fetch("coda", "api", "health")
    assert health.code == 200

    snapshot = await _settled(jp_fetch)
    steps = {step["id"]: step for step in snapshot["steps"]}
    assert set(steps["fetch"]) >= {
        "id",
        "label",
        "status",
        "needs",
        "started_at",
        "finished_at",
        "duration_s",
        "error",
        "log_tail",
    }
    assert steps["fetch"]["status"] == "done"
    assert "fetched" in steps["fetch"]["log_tail"]
    assert steps["build"]["status"] == "done"
    assert steps["build"]["needs"] == ["fetch"]
    assert steps["build"]["started_at"] >= steps["fetch"]["finished_at"]
    assert steps["broken"]["status"] == "failed"
    assert "status 3" in steps["broken"]["error"] and "real failure" in steps["broken"]["error"]
    assert steps["after-broken"]["status"] == "skipped"
    assert "broken" in steps["after-broken"]["error"]
    assert steps["configure"]["status"] == "skipped"
    assert steps["configure"]["error"] == "no Databricks credentials"
    assert snapshot["status"] == "failed"


async def test_retry_reruns_failed_and_dependants(jp_fetch: Any) -> None:
    await _settled(jp_fetch)
    reply = json.loads(
        (await jp_fetch("coda", "api", "setup", "retry", method="POST", body=json.dumps({"step": "broken"}))).body
    )
    assert set(reply["retried"]) == {"broken", "after-broken"}
    snapshot = await _settled(jp_fetch)
    steps = {step["id"]: step for step in snapshot["steps"]}
    assert steps["broken"]["status"] == "failed"
    assert steps["after-broken"]["status"] == "skipped"


@pytest.mark.parametrize(
    ("body", "code"),
    [(json.dumps({"step": "nope"}), 404), (json.dumps({"step": 3}), 400), ("[1]", 400)],
)
async def test_retry_rejects_bad_input(jp_fetch: Any, body: str, code: int) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("coda", "api", "setup", "retry", method="POST", body=body)
    assert info.value.code == code
    assert json.loads(info.value.response.body)["message"]
