"""One real JupyterHub with two users, alice and bob, each with a running coda-jupyter server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ..mcp.conftest import STUB_AGENT
from .hub import Hub, running_hub

# A setting given the admin's way, through c.Spawner.environment; the test checks it arrived.
ADMIN_HOST = "https://hub-test.cloud.databricks.com"
# In a terminal (stdin is a tty) the stub says which server it reaches, then waits as an
# agent at its prompt does; headless (tasks, --version) it is the MCP tests' stub.
STUBBY = (
    r"""if [ -t 0 ] && [ "$1" != "--version" ]; then
  echo "stubby reaches $JUPYTER_SERVER_URL"
  exec sleep 100000
fi
"""
    + STUB_AGENT
)


@dataclass
class TwoUsers:
    hub: Hub
    password: str
    tokens: dict[str, str]


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop that is never made current: these tests run their own loops (asyncio.run, Playwright's sync API)."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


# Shared by every module of the package: starting a hub and two servers is the slow part.
@pytest.fixture(scope="package")
def two_users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoUsers]:
    base = tmp_path_factory.mktemp("hub")
    with running_hub(base, {"stubby-agent": STUBBY}, environment={"DATABRICKS_HOST": ADMIN_HOST}) as (hub, password):
        for user in ("alice", "bob"):
            hub.start_server(user)
        yield TwoUsers(hub, password, {user: hub.new_token(user) for user in ("alice", "bob")})
