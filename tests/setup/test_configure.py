"""The configure steps of the built-in plan, run by the real engine with the real writers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coda_jupyter.agents import BUILTIN
from coda_jupyter.agents.writers import ConfigContext, guidance
from coda_jupyter.setup import SetupEngine
from coda_jupyter.setup.configure import CONNECT_STEP, configure_steps
from coda_jupyter.setup.plan import DATABRICKS_CREDENTIALS, credentials_condition

LOCAL_KEY = "local-gateway-key-0123456789"
ENDPOINTS = {
    "anthropic": "http://127.0.0.1:9999/anthropic",
    "openai": "http://127.0.0.1:9999/openai",
    "gemini": "http://127.0.0.1:9999/gemini",
    "mlflow": "http://127.0.0.1:9999/mlflow",
    "mlflow-filtered": "http://127.0.0.1:9999/mlflow-filtered",
}


@pytest.mark.asyncio
async def test_agents_configured_locally_then_connected_when_credentials_appear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # `git config --global` writes here
    state = {"credentials": False}

    def context() -> ConfigContext:
        if not state["credentials"]:
            return ConfigContext(home=home, data_dir=tmp_path / "data")
        return ConfigContext(
            home=home,
            endpoints=ENDPOINTS,
            api_key=LOCAL_KEY,
            host="https://adb-1.cloud.databricks.com",
            user_email="jane.doe@example.com",
            data_dir=tmp_path / "data",
        )

    steps = configure_steps(BUILTIN, context, installs=set())
    engine = SetupEngine(
        steps,
        tmp_path / "state",
        conditions={DATABRICKS_CREDENTIALS: credentials_condition(lambda: state["credentials"], local_mode=True)},
    )
    engine.start()
    snapshot = await engine.wait_settled(timeout=60)
    status = {step["id"]: step for step in snapshot["steps"]}
    assert {s for s, v in status.items() if v["status"] != "done"} == {CONNECT_STEP}, snapshot
    assert status[CONNECT_STEP]["status"] == "skipped"
    assert status[CONNECT_STEP]["error"] == "no Databricks credentials"
    assert status["tracing"]["needs"] == ["configure-claude"]
    assert snapshot["status"] == "done"

    claude = json.loads((home / ".claude.json").read_text())
    assert set(claude["mcpServers"]) == {"deepwiki", "exa", "coda"}
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    assert "ANTHROPIC_BASE_URL" not in settings.get("env", {}), "local mode leaves Claude's own login alone"
    assert (home / ".claude" / "skills").is_dir() and (home / ".agents" / "skills").is_dir()
    for spec in BUILTIN:
        assert spec.instructions_file and guidance.BEGIN in (home / spec.instructions_file).read_text()
    assert (home / ".claude" / "agents" / "reviewer.md").is_file()
    assert "<your email>" in (home / ".codex" / "AGENTS.md").read_text()

    state["credentials"] = True
    engine.condition_changed(DATABRICKS_CREDENTIALS)
    snapshot = await engine.wait_settled(timeout=60)
    assert {step["id"]: step["status"] for step in snapshot["steps"]}[CONNECT_STEP] == "done", snapshot

    settings = json.loads((home / ".claude" / "settings.json").read_text())
    assert settings["env"]["ANTHROPIC_BASE_URL"] == ENDPOINTS["anthropic"]
    assert settings["env"]["ANTHROPIC_AUTH_TOKEN"] == LOCAL_KEY
    opencode = json.loads((home / ".config" / "opencode" / "opencode.json").read_text())
    assert opencode["provider"]["databricks"]["options"]["baseURL"] == ENDPOINTS["mlflow-filtered"]
    assert "/Workspace/Users/jane.doe@example.com/projects/" in (home / ".gemini" / "GEMINI.md").read_text()
    gitconfig = (home / ".gitconfig").read_text()
    assert "jane.doe@example.com" in gitconfig
    assert "hooksPath" in gitconfig
