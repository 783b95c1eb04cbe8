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
import yaml

from coda_jupyter.agents import BUILTIN
from coda_jupyter.agents.headless import PERMISSION_LEVELS
from coda_jupyter.agents.writers import SHARED_WRITERS, ConfigContext, guidance
from coda_jupyter.agents.writers.skills import SHIPPED_SKILLS as SHIPPED_SKILLS_DIR
from tests.clis import InstalledCli, Ran, RealClis, clean_env, real_clis, run_cli_async
from tests.fakes.model_upstream import FakeModelUpstream
from tests.writers.helpers import direct_endpoints

__all__ = ["real_clis"]  # the session fixture, imported so pytest finds it here

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

KEY = "coda-local-listing-key"
# Every skill the package ships, whatever their number.
SHIPPED_SKILLS = {path.parent.name for path in SHIPPED_SKILLS_DIR.glob("*/SKILL.md")}
# Subagent name to the start of its description (names alone are common words).
SUBAGENTS = {
    name.removesuffix(".md"): yaml.safe_load(text.split("\n---\n", 1)[0][4:])["description"][:60]
    for name, text in guidance.shipped_subagents().items()
}
# A sentence of the guidance text: in the model request only if the CLI read its instructions file.
GUIDANCE_SENTENCE = "You run in a terminal of coda-jupyter"


@dataclass
class Configured:
    home: Path
    fake: FakeModelUpstream

    async def run(self, cli: InstalledCli, *args: str) -> Ran:
        return await run_cli_async([str(cli.executable), *args], clean_env(self.home, cli), self.home / "projects")

    async def run_to_file(self, cli: InstalledCli, stdout: Path, *args: str) -> Ran:
        """Run with stdout going to a file, for CLIs that drop piped output past the pipe buffer."""
        script = 'out="$1"; shift; exec "$@" > "$out"'
        argv = ["sh", "-c", script, "sh", str(stdout), str(cli.executable), *args]
        return await run_cli_async(argv, clean_env(self.home, cli), self.home / "projects")


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
    guidance.writer(BUILTIN)(ctx)
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
    # coda's own endpoint is a stdio server (coda-bridge): it has no url.
    assert urls == {"deepwiki": "https://mcp.deepwiki.com/mcp", "exa": "https://mcp.exa.ai/mcp", "coda": None}, (
        ran.describe()
    )


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
    # opencode exits before draining a pipe: its stdout stops at 64 KiB, so it writes to a file here.
    listing = configured.home / "skills.json"
    ran = await configured.run_to_file(opencode, listing, "debug", "skill")
    assert_ok(ran)
    text = listing.read_text()
    names = [skill["name"] for skill in json.loads(text[text.index("[") :])]
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


def request_text(fake: FakeModelUpstream) -> str:
    """Every model request body the CLI sent, JSON-decoded so escapes do not hide names."""
    texts = []
    for seen in fake.requests:
        try:
            texts.append(json.dumps(seen.json(), ensure_ascii=False))
        except ValueError:
            texts.append(seen.body.decode("utf-8", "replace"))
    return "\n".join(texts)


@pytest.mark.asyncio
@pytest.mark.parametrize("agent_id", [spec.id for spec in BUILTIN])
async def test_cli_sends_its_instructions_and_every_skill_to_the_model(
    configured: Configured, real_clis: RealClis, agent_id: str
) -> None:
    """One headless prompt: what the CLI discovered is in what it asks the model."""
    cli = real_clis.require(agent_id)
    headless = cli.spec.headless
    assert headless is not None
    level = next(level for level in PERMISSION_LEVELS if level in headless.permission_args)
    prompt = configured.home / "prompt.txt"
    prompt.write_text("Say hello.", encoding="utf-8")
    argv = headless.command([str(cli.executable)], "Say hello.", level)
    ran = await run_cli_async(argv, clean_env(configured.home, cli), configured.home / "projects", 240, prompt)
    sent = request_text(configured.fake)
    context = f"{ran.describe()}\n--- requests ---\n{sent[:4000]}"
    assert configured.fake.requests, context
    # The instructions file was read: its text is in the request, not blocked by a scanner.
    assert sent.count(GUIDANCE_SENTENCE) >= 1, context
    assert "BLOCKED" not in sent, context
    missing = sorted(name for name in SHIPPED_SKILLS if name not in sent)
    assert not missing, f"skills the model was not told about: {missing}\n{context}"
    if cli.spec.subagents_dir:
        missing = sorted(name for name, description in SUBAGENTS.items() if f"{name}: {description}" not in sent)
        assert not missing, f"subagents the model was not told about: {missing}\n{context}"
