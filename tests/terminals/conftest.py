"""A live server with the MCP stub agent, where admission and culling are configured per test module."""

from __future__ import annotations

from typing import Any

from ..mcp.conftest import mcp_session, mcp_url, server_config, stub_agent

__all__ = ["coda_app", "mcp_session", "mcp_url", "server_config", "stub_agent"]


def coda_app(jp_serverapp: Any) -> Any:
    """The live server's ``CodaApp``: tests swap its memory reader, never the server."""
    return jp_serverapp.web_app.settings["coda_app"]
