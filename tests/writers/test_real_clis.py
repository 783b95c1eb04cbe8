"""Each real agent CLI reads the generated config cleanly and lists what we wrote.

The CLIs are the pinned ones, installed and cached by ``tests/clis.py``; a
failed install fails these tests. The configs point at ``FakeModelUpstream``
so that nothing a CLI does at start-up can reach a real model. The prompt
round trip (through the local gateway) is in ``tests/gateway/test_real_clis.py``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from coda_jupyter.agents import BUILTIN
from coda_jupyter.agents.writers import SHARED_WRITERS, ConfigContext
from coda_jupyter.gateway.routes import direct_endpoints
from tests.clis import InstalledCli, Ran, RealClis, clean_env, real_clis, run_cli_async
from tests.fakes.model_upstream import FakeModelUpstream

__all__ = ["real_clis"]  # the session fixture, imported so pytest finds it here

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

KEY = "coda-local-listing-key"
SHIPPED_SKILLS = {"coda-task-reporting", "databricks-cli-sdk", "databricks-workspace-sync"}


@dataclass
class Configured:
    home: Path
    fake: FakeModelUpstream

    async def run(self, cli: InstalledCli, *args: str) -> Ran:
        return await run_cli_async([str(cli.executable), *args], clean_env(self.home, cli), self.home / "projects")


@pytest_asyncio.fixture
async def configured(tmp_path: Path) -> AsyncIterator[Configured]:
    """Every writer's output for one HOME, as the setup engine would leave it."""
    fake = FakeModelUpstream()
    await fake.start()
    home = tmp_path / "home"
    (home / "projects").mkdir(parents=True)
    ctx = ConfigContext(
        home=home,
        endpoints=direct_endpoints(gateway=fake.url, host=None),
        api_key=KEY,
        user_email="jane@example.com",
    )
    for spec in BUILTIN:
        assert spec.config_writer is not None
        spec.config_writer(ctx)
    for writer in SHARED_WRITERS:
        if writer.name == "skills":
            writer(ctx)
    yield Configured(home, fake)
    await fake.stop()


def assert_ok(ran: Ran) -> None:
    assert ran.returncode == 0, ran.describe()


@pytest.mark.asyncio
async def test_claude_lists_our_http_mcp_servers(configured: Configured, real_clis: RealClis) -> None:
    ran = await configured.run(real_clis.require("claude"), "mcp", "list")
    assert_ok(ran)
    assert "deepwiki: https://mcp.deepwiki.com/mcp (HTTP)" in ran.stdout, ran.describe()
    assert "exa: https://mcp.exa.ai/mcp (HTTP)" in ran.stdout, ran.describe()


@pytest.mark.asyncio
async def test_codex_lists_our_mcp_servers(configured: Configured, real_clis: RealClis) -> None:
    ran = await configured.run(real_clis.require("codex"), "mcp", "list", "--json")
    assert_ok(ran)
    listed = json.loads(ran.stdout[ran.stdout.index("[") :])
    urls = {entry["name"]: entry["transport"].get("url") for entry in listed}
    assert urls == {"deepwiki": "https://mcp.deepwiki.com/mcp", "exa": "https://mcp.exa.ai/mcp"}, ran.describe()


@pytest.mark.asyncio
async def test_gemini_config_is_valid_and_each_skill_appears_once(configured: Configured, real_clis: RealClis) -> None:
    gemini = real_clis.require("gemini")
    ran = await configured.run(gemini, "mcp", "list")
    assert_ok(ran)
    output = ran.stdout + ran.stderr
    assert "Invalid configuration" not in output, ran.describe()
    assert "deepwiki: https://mcp.deepwiki.com/mcp (http)" in output, ran.describe()
    ran = await configured.run(gemini, "skills", "list")
    assert_ok(ran)
    output = ran.stdout + ran.stderr
    assert "conflict" not in output.lower(), ran.describe()
    for name in SHIPPED_SKILLS:
        assert output.count(f"{name} [Enabled]") == 1, ran.describe()


@pytest.mark.asyncio
async def test_opencode_lists_mcp_servers_and_each_skill_once(configured: Configured, real_clis: RealClis) -> None:
    opencode = real_clis.require("opencode")
    ran = await configured.run(opencode, "mcp", "list")
    assert_ok(ran)
    assert "deepwiki" in ran.stdout and "exa" in ran.stdout, ran.describe()
    ran = await configured.run(opencode, "debug", "skill")
    assert_ok(ran)
    names = [skill["name"] for skill in json.loads(ran.stdout[ran.stdout.index("[") :])]
    assert all(names.count(name) == 1 for name in SHIPPED_SKILLS), ran.describe()


@pytest.mark.asyncio
async def test_hermes_lists_mcp_servers_and_each_skill_once(configured: Configured, real_clis: RealClis) -> None:
    hermes = real_clis.require("hermes")
    ran = await configured.run(hermes, "mcp", "list")
    assert_ok(ran)
    assert "https://mcp.deepwiki.com/mcp" in ran.stdout and "https://mcp.exa.ai/mcp" in ran.stdout, ran.describe()
    ran = await configured.run(hermes, "skills", "list")
    assert_ok(ran)
    for name in SHIPPED_SKILLS:
        assert ran.stdout.count(name) == 1, ran.describe()
