"""A live server with the MCP stub agent, where admission and culling are configured per test module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..conftest import write_stub
from ..mcp.conftest import mcp_session, mcp_url, server_config, stub_agent

__all__ = ["coda_app", "mcp_session", "mcp_url", "server_config", "stub_agent"]

# An agent that prints once and exits, leaving an idle shell; and one that
# keeps printing, as an agent at work does.
IDLER = 'echo "idler ready"'
TICKER = 'echo "ticker ready"; while true; do echo tick; sleep 0.2; done'


def coda_app(jp_serverapp: Any) -> Any:
    """The live server's ``CodaApp``: tests swap its memory reader, never the server."""
    return next(iter(jp_serverapp.extension_manager.extension_apps["coda_jupyter"]))


def idler_and_ticker_config(max_concurrent: int = 2) -> dict[str, Any]:
    """``server_config`` with the idler and ticker agents in the catalogue."""
    config = server_config(max_concurrent=max_concurrent)
    config["CodaApp"]["agents"].update(
        {
            "idler": {"executable": "idler-agent", "label": "Idler"},
            "ticker": {"executable": "ticker-agent", "label": "Ticker"},
        }
    )
    return config


@pytest.fixture
def agents(jp_home_dir: Path, stub_agent: Path) -> None:
    bin_dir = Path(jp_home_dir) / ".local" / "bin"
    write_stub(bin_dir, "idler-agent", IDLER)
    write_stub(bin_dir, "ticker-agent", TICKER)


async def open_agent(jp_fetch: Any, agent: str) -> str:
    """Open an agent terminal as the launcher does; its terminal name."""
    response = await jp_fetch("coda", "api", "agents", agent, "terminals", method="POST", body="{}")
    name: str = json.loads(response.body)["name"]
    return name
