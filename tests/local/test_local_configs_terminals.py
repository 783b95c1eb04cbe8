"""Jupyter terminals point agents at coda's overlay; outside Jupyter nothing changed.

A real Jupyter Server with coda-jupyter in local mode: the configure steps
build the overlay, an agent terminal and a plain terminal get each agent's
config-home variable (read from the terminal process's own environment), and
the real Claude Code typed into a Jupyter terminal answers through the model
gateway, while the same ``claude`` run outside Jupyter with the user's
environment still has no gateway at all.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from coda_jupyter.agents.writers import ConfigContext
from coda_jupyter.gateway import ModelGateway, Route, upstream_base
from coda_jupyter.setup import SetupEngine
from coda_jupyter.setup.configure import configure_steps
from coda_jupyter.setup.plan import DATABRICKS_CREDENTIALS, credentials_condition
from tests.clis import QUIET_ENV, RealClis, clean_env, real_clis, run_cli_async
from tests.conftest import TerminalReader
from tests.fakes.model_upstream import FakeModelUpstream
from tests.terminals.conftest import coda_app

from .test_local_configs import CONFIG_HOME_VARIABLES, USER_MCP, fingerprint, populate_user_home, user_changes

__all__ = ["real_clis"]  # the session fixture, imported so pytest finds it here

TOKEN = "dapi-local-e2e-6c6c6c"
ANSWER = "The canned answer is forty-two parsnips."
PROMPT = "Reply with the canned answer."


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    coda = dict(jp_server_config["CodaApp"])
    # coda's own folders outside HOME, so HOME can be compared byte for byte.
    coda.update({"data_dir": str(tmp_path / "coda-data"), "state_dir": str(tmp_path / "coda-state")})
    return {**jp_server_config, "CodaApp": coda}


async def build_overlay(app: Any, endpoints: dict[str, str], key: str) -> None:
    """The configure steps as setup runs them once credentials are there."""

    def context() -> ConfigContext:
        # No third-party MCP servers: nothing here may reach the network.
        return replace(
            app.services.agent_config.context(),
            endpoints=endpoints,
            api_key=key,
            host="https://adb-1.cloud.databricks.com",
            user_email="jane.doe@example.com",
            mcp_servers=(),
        )

    engine = SetupEngine(
        configure_steps(list(app.services.catalogue), context, installs=set()),
        Path(app.state_dir) / "test-setup",
        conditions={DATABRICKS_CREDENTIALS: credentials_condition(lambda: True, local_mode=True)},
    )
    engine.start()
    snapshot = await engine.wait_settled(timeout=120)
    await engine.stop()
    assert {step["status"] for step in snapshot["steps"]} == {"done"}, snapshot


def terminal_environ(jp_serverapp: Any, name: str) -> dict[str, str]:
    manager = jp_serverapp.web_app.settings["terminal_manager"]
    pid = manager.terminals[name].ptyproc.pid
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(entry.split("=", 1) for entry in raw.decode().split("\0") if "=" in entry)


async def test_agent_and_plain_terminals_point_agents_at_the_overlay(
    jp_serverapp: Any, jp_fetch: Callable[..., Any], jp_home_dir: Path
) -> None:
    home = Path(jp_home_dir)
    populate_user_home(home)
    before = fingerprint(home)
    app = coda_app(jp_serverapp)
    agent_home = app.services.agent_config.overlay_home
    routes = ("anthropic", "openai", "gemini", "mlflow", "mlflow-filtered")
    endpoints = {route: f"http://127.0.0.1:9/{route}" for route in routes}
    await build_overlay(app, endpoints, "local-key")

    response = await jp_fetch("coda", "api", "agents", "claude", "terminals", method="POST", body="{}")
    agent_terminal = json.loads(response.body)["name"]
    response = await jp_fetch("api", "terminals", method="POST", body="{}")
    plain_terminal = json.loads(response.body)["name"]

    expected = {name: os.path.normpath(agent_home / folder) for name, folder in CONFIG_HOME_VARIABLES.items()}
    for name in (agent_terminal, plain_terminal):
        env = terminal_environ(jp_serverapp, name)
        assert {key: env.get(key) for key in expected} == expected, name
    state = json.loads((agent_home / ".claude" / ".claude.json").read_text())
    assert state["mcpServers"]["mine"] == USER_MCP and "coda" in state["mcpServers"]
    settings = json.loads((agent_home / ".claude" / "settings.json").read_text())
    assert settings["env"]["ANTHROPIC_BASE_URL"] == endpoints["anthropic"]
    assert not user_changes(before, fingerprint(home))


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_claude_in_a_jupyter_terminal_answers_through_the_gateway_and_outside_it_is_untouched(
    jp_serverapp: Any,
    jp_fetch: Callable[..., Any],
    jp_home_dir: Path,
    user_bin: Path,
    read_terminal: TerminalReader,
    real_clis: RealClis,
    tmp_path: Path,
) -> None:
    cli = real_clis.require("claude")
    home = Path(jp_home_dir)
    populate_user_home(home)
    (user_bin / "claude").symlink_to(cli.executable)
    fake = FakeModelUpstream(reply_text=ANSWER)
    await fake.start()

    def upstream(route: Route) -> str | None:
        return upstream_base(route, gateway=fake.url, host=None)

    gateway = ModelGateway(upstream=upstream, token=lambda: TOKEN, local_key="coda-local-key-5e5e")
    await gateway.start()
    try:
        app = coda_app(jp_serverapp)
        await build_overlay(app, {route: gateway.url(route) for route in gateway.routes}, gateway.local_key)
        before = fingerprint(home)
        prompt = tmp_path / "prompt.txt"
        prompt.write_text(PROMPT, encoding="utf-8")

        # Typed into a plain Jupyter terminal, as a user would.
        response = await jp_fetch("api", "terminals", method="POST", body="{}")
        name = json.loads(response.body)["name"]
        quiet = " ".join(f"{key}={shlex.quote(value)}" for key, value in QUIET_ENV.items())
        command = f"env {quiet} claude -p < {shlex.quote(str(prompt))}; echo CLAUDE-'EXIT'-$?\r"
        output = await read_terminal(name, until="CLAUDE-EXIT-", send=command, timeout=240)
        context = f"terminal said: {output!r}\nupstream saw: {[seen.path for seen in fake.requests]}"
        assert ANSWER in output, context
        assert fake.requests, context
        assert all(seen.headers.get("Authorization") == f"Bearer {TOKEN}" for seen in fake.requests), context
        # Running an agent in Jupyter changed no file of the user's; its caches
        # (XDG_CACHE_HOME: Claude Code's MCP logs) are not settings.
        changed = user_changes(before, fingerprint(home))
        assert not {key for key in changed if not key.startswith(".cache")}, changed

        # The same claude outside Jupyter: the user's own environment and config, no gateway.
        seen_before = len(fake.requests)
        ran = await run_cli_async(
            [str(cli.executable), "-p"], clean_env(home, cli), home / "projects", timeout=120, stdin=prompt
        )
        assert ANSWER not in ran.stdout, ran.describe()
        assert len(fake.requests) == seen_before, ran.describe()
        assert "ANTHROPIC_BASE_URL" not in (home / ".claude" / "settings.json").read_text()
    finally:
        await gateway.stop()
        await fake.stop()
