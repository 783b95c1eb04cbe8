"""The HTTP headers of MCP's Streamable HTTP transport (spec 2025-11-25, "Transports")."""

from __future__ import annotations

SESSION_HEADER = "Mcp-Session-Id"
VERSION_HEADER = "MCP-Protocol-Version"
