"""Background-task tests reuse the MCP tests' live server, stub agent and client."""

from __future__ import annotations

from typing import Any

import pytest

from ..mcp.conftest import mcp_session, mcp_url, server_config, stub_agent

__all__ = ["mcp_session", "mcp_url", "stub_agent"]


@pytest.fixture
def jp_server_config(jp_server_config: Any) -> dict[str, Any]:
    return server_config()
