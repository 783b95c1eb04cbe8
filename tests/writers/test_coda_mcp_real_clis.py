"""Every real agent CLI, configured only by coda's writers, calls coda's own MCP endpoint.

The chain is the one a terminal agent runs: the pinned CLI (``tests/clis.py``)
reads the config its writer left in a throwaway HOME, gets the server's URL and
token from the environment a Jupyter terminal gives it (``JUPYTER_SERVER_URL``,
``JUPYTER_TOKEN``), offers coda's tools to the fake model, and runs the
``coda_inbox`` call the fake model asks for against a live Jupyter Server.
What the server's MCP endpoint handled is recorded after authentication, so
every recorded message was an authenticated one. The token is in no file.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from coda_jupyter.agents import BUILTIN
from coda_jupyter.agents.headless import PERMISSION_LEVELS
from coda_jupyter.agents.writers import ConfigContext
from tests.clis import InstalledCli, Ran, RealClis, clean_env, files_containing, real_clis, run_cli_async
from tests.fakes.model_upstream import FakeModelUpstream
from tests.writers.helpers import direct_endpoints

__all__ = ["real_clis"]  # the session fixture, imported so pytest finds it here

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

KEY = "coda-local-mcp-key"
PROMPT = "Check the coda inbox."


@dataclass
class Seen:
    """MCP messages the endpoint handled (it is reached only once authentication passed)."""

    methods: list[str] = field(default_factory=list)
    tools_called: list[str] = field(default_factory=list)


@dataclass
class Rig:
    home: Path
    fake: FakeModelUpstream
    seen: Seen
    server_env: dict[str, str]
    token: str


@asynccontextmanager
async def rig_for(tmp_path: Path, jp_serverapp: Any, jp_http_port: int, jp_base_url: str) -> AsyncIterator[Rig]:
    """Started inside the test: the server and the fake serve on pytest-jupyter's loop."""
    token = jp_serverapp.identity_provider.token
    assert token, "the test server must require a token"
    seen = Seen()
    endpoint = jp_serverapp.web_app.settings["coda_services"].mcp.endpoint
    handle = endpoint.post

    def recording_post(body: bytes, *args: Any) -> Any:
        messages = json.loads(body)
        for message in messages if isinstance(messages, list) else [messages]:
            seen.methods.append(message.get("method", ""))
            if message.get("method") == "tools/call":
                seen.tools_called.append(message["params"]["name"])
        return handle(body, *args)

    endpoint.post = recording_post  # type: ignore[method-assign]

    fake = FakeModelUpstream(reply_text="The inbox is empty.")
    fake.tool_script = [("coda_inbox", {})]
    await fake.start()
    home = tmp_path / "home"
    (home / "projects").mkdir(parents=True)
    # No third-party MCP servers: nothing here may reach the network.
    ctx = ConfigContext(home=home, endpoints=direct_endpoints(gateway=fake.url, host=None), api_key=KEY, mcp_servers=())
    for spec in BUILTIN:
        assert spec.config_writer is not None
        spec.config_writer(ctx)
    # What server_access_env gives every Jupyter terminal.
    server_env = {"JUPYTER_SERVER_URL": f"http://127.0.0.1:{jp_http_port}{jp_base_url}", "JUPYTER_TOKEN": token}
    try:
        yield Rig(home, fake, seen, server_env, token)
    finally:
        await fake.stop()


def model_requests(fake: FakeModelUpstream) -> str:
    return "\n".join(seen.body.decode("utf-8", "replace") for seen in fake.requests)


@pytest.mark.parametrize("agent_id", [spec.id for spec in BUILTIN])
async def test_cli_calls_coda_tools_on_the_server_it_runs_in(
    tmp_path: Path,
    jp_serverapp: Any,
    http_server_client: Any,
    jp_http_port: int,
    jp_base_url: str,
    real_clis: RealClis,
    agent_id: str,
) -> None:
    cli = real_clis.require(agent_id)
    async with rig_for(tmp_path, jp_serverapp, jp_http_port, jp_base_url) as rig:
        ran = await run_headless(rig, cli)
        sent = model_requests(rig.fake)
    context = f"{ran.describe()}\n--- server saw ---\n{rig.seen}\n--- model requests ---\n{sent[-4000:]}"

    assert "tools/list" in rig.seen.methods, context
    assert [name.endswith("coda_inbox") for name in rig.fake.tools_called] == [True], context
    assert rig.seen.tools_called == ["coda_inbox"], context
    # The tool's answer went back to the model: coda_inbox reports its counts.
    assert '\\"counts\\"' in sent or '"counts"' in sent, context
    leaks = [str(path) for path in files_containing(rig.home, rig.token)]
    assert not leaks, f"the Jupyter token was written to {leaks}"


async def run_headless(rig: Rig, cli: InstalledCli) -> Ran:
    headless = cli.spec.headless
    assert headless is not None
    # A tool call runs unasked only at the widest level; Claude Code allows it as root in a sandbox only.
    level = "bypass" if "bypass" in headless.permission_args else PERMISSION_LEVELS[0]
    prompt = rig.home / "prompt.txt"
    prompt.write_text(PROMPT, encoding="utf-8")
    argv = headless.command([str(cli.executable)], PROMPT, level)
    env = clean_env(rig.home, cli, {**rig.server_env, "IS_SANDBOX": "1"})
    return await run_cli_async(argv, env, rig.home / "projects", 240, prompt)
