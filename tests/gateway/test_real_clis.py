"""Real agent CLIs, configured by the real writers, talking through the real gateway to the fake upstream.

The chain under test is the one a user runs: the pinned CLI (installed by
``SPEC.install``, cached, see ``tests/clis.py``) reads the config its writer
generated under a throwaway HOME, sends its one-shot prompt (the catalogue's
``SPEC.headless`` flags) with the gateway's local key, and the gateway swaps
that key for the current Databricks token on the way to the fake upstream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from coda_jupyter.agents import BUILTIN
from coda_jupyter.agents.headless import PERMISSION_LEVELS
from coda_jupyter.agents.writers import ConfigContext
from coda_jupyter.gateway import ModelGateway, Route, upstream_base
from tests.clis import InstalledCli, Ran, RealClis, clean_env, files_containing, real_clis, run_cli_async
from tests.fakes.model_upstream import FakeModelUpstream, Recorded

__all__ = ["real_clis"]  # the session fixture, imported so pytest finds it here

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

ANSWER = "The canned answer is forty-two parsnips."
FIRST_TOKEN = "dapi-e2e-first-5b1c0ffee"
SECOND_TOKEN = "dapi-e2e-second-9d2beef00"
LOCAL_KEY = "coda-local-e2e-key-7f3a"
HOST = "https://adb-123.example.cloud.databricks.com"
PROMPT = "Reply with the canned answer."

# Per agent: the model names its config allows (every role's default), the
# one its main turn must use (its first role).
CONFIGURED_MODELS = {
    spec.id: ({role.default for role in spec.model_roles}, spec.model_roles[0].default) for spec in BUILTIN
}


@dataclass
class Credentials:
    """What the credential manager would hold right now; the test rotates it."""

    token: str = FIRST_TOKEN


@dataclass
class Rig:
    fake: FakeModelUpstream
    gateway: ModelGateway
    credentials: Credentials
    home: Path
    tokens_used: list[str] = field(default_factory=list)

    @property
    def workdir(self) -> Path:
        return self.home / "projects"

    def configure(self, cli: InstalledCli) -> list[Path]:
        gateway = self.gateway
        ctx = ConfigContext(
            home=self.home,
            endpoints={route: gateway.url(route) for route in gateway.routes},
            api_key=gateway.local_key,
            host=HOST,
            user_email="jane@example.com",
        )
        assert cli.spec.config_writer is not None
        return cli.spec.config_writer(ctx)

    def rotate(self, token: str) -> None:
        self.credentials.token = token

    async def prompt(self, cli: InstalledCli) -> Ran:
        self.tokens_used.append(self.credentials.token)
        assert cli.spec.headless is not None
        headless = cli.spec.headless
        # The narrowest permission level the agent's one-shot mode honours.
        level = next(level for level in PERMISSION_LEVELS if level in headless.permission_args)
        # As in a task: the prompt is the agent's stdin (a file); a CLI that
        # cannot read stdin gets it as its prompt argument instead of a pointer.
        prompt_file = self.home / "prompt.txt"
        prompt_file.write_text(PROMPT, encoding="utf-8")
        argv = headless.command([str(cli.executable)], PROMPT, level)
        return await run_cli_async(argv, clean_env(self.home, cli), self.workdir, timeout=240, stdin=prompt_file)


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    fake = FakeModelUpstream(reply_text=ANSWER)
    await fake.start()
    credentials = Credentials()

    def upstream(route: Route) -> str | None:
        # Discovery found an AI Gateway, and it is the fake.
        return upstream_base(route, gateway=fake.url, host=None)

    gateway = ModelGateway(upstream=upstream, token=lambda: credentials.token, local_key=LOCAL_KEY)
    await gateway.start()
    home = tmp_path / "home"
    (home / "projects").mkdir(parents=True)
    yield Rig(fake, gateway, credentials, home)
    await gateway.stop()
    await fake.stop()


def model_calls(fake: FakeModelUpstream) -> list[Recorded]:
    """Requests that asked a model for something (CLIs may also probe other paths)."""
    return [seen for seen in fake.requests if seen.method == "POST" and _model_of(seen)]


def _model_of(seen: Recorded) -> str | None:
    if ":generateContent" in seen.path or ":streamGenerateContent" in seen.path:
        return seen.path.rsplit("/", 1)[-1].split(":", 1)[0]
    try:
        body = seen.json()
    except ValueError:
        return None
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def describe(fake: FakeModelUpstream) -> str:
    lines = [f"{seen.method} {seen.path} auth={seen.headers.get('Authorization', '-')[:16]}…" for seen in fake.requests]
    return "upstream saw:\n  " + "\n  ".join(lines or ["nothing"])


def assert_answered_through_gateway(rig: Rig, cli: InstalledCli, ran: Ran, token: str) -> None:
    context = f"{ran.describe()}\n{describe(rig.fake)}"
    assert ran.returncode == 0, context
    assert ANSWER in ran.stdout, context
    calls = model_calls(rig.fake)
    assert calls, context
    # Every request, model call or not, carried the current token and never the local key.
    assert {seen.headers.get("Authorization") for seen in rig.fake.requests} == {f"Bearer {token}"}, context
    for seen in rig.fake.requests:
        assert LOCAL_KEY not in json.dumps(dict(seen.headers)) + seen.query, context
    # Model calls took the agent's own route (``SPEC.model_route``) to the upstream.
    assert cli.spec.model_route is not None
    suffix = rig.gateway.routes[cli.spec.model_route].gateway_suffix
    assert all(seen.path.startswith(suffix + "/") for seen in calls), context
    allowed, main = CONFIGURED_MODELS[cli.spec.id]
    used = {_model_of(seen) for seen in calls}
    assert main in used and used <= allowed, f"models used: {used}\n{context}"
    # The prompt (read from stdin, or given as argument) reached the model.
    assert any(PROMPT.encode() in seen.body for seen in calls), context


def assert_no_token_on_disk(rig: Rig) -> None:
    for token in set(rig.tokens_used):
        leaked = list(files_containing(rig.home, token))
        assert not leaked, f"the Databricks token was written to {leaked}"
    # The check above can only fail if the configs are there: they hold the local key instead.
    assert list(files_containing(rig.home, LOCAL_KEY)), "no file under HOME holds the local gateway key"


@pytest.mark.asyncio
@pytest.mark.parametrize("agent_id", sorted(CONFIGURED_MODELS))
async def test_one_shot_prompt_goes_through_the_gateway(rig: Rig, real_clis: RealClis, agent_id: str) -> None:
    cli = real_clis.require(agent_id)
    rig.configure(cli)
    ran = await rig.prompt(cli)
    assert_answered_through_gateway(rig, cli, ran, FIRST_TOKEN)
    assert_no_token_on_disk(rig)


@pytest.mark.asyncio
async def test_token_rotated_between_runs_reaches_the_upstream(rig: Rig, real_clis: RealClis) -> None:
    cli = real_clis.require("claude")
    rig.configure(cli)
    first = await rig.prompt(cli)
    assert_answered_through_gateway(rig, cli, first, FIRST_TOKEN)

    # No config is rewritten: the agent keeps the gateway's key, only the token behind it changes.
    rig.rotate(SECOND_TOKEN)
    rig.fake.requests.clear()
    second = await rig.prompt(cli)
    assert_answered_through_gateway(rig, cli, second, SECOND_TOKEN)
    assert_no_token_on_disk(rig)
