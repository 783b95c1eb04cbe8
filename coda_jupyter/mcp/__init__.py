"""The MCP server of coda-jupyter: background agent tasks and notebook tools as MCP tools.

``McpServer`` holds the configuration (``c.McpServer.*``) and the one
``McpEndpoint`` of a Jupyter server; the tornado handler lives in
``coda_jupyter.handlers.mcp``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from traitlets import Float, Integer, List, Unicode
from traitlets.config import LoggingConfigurable

from ..tasks import task_runner

if TYPE_CHECKING:
    from .protocol import McpEndpoint

SETTINGS_KEY = "coda_mcp"
SESSION_HEADER = "Mcp-Session-Id"
VERSION_HEADER = "MCP-Protocol-Version"


class McpServer(LoggingConfigurable):
    allowed_origins = List(
        Unicode(),
        help="""Browser origins (scheme://host[:port]) allowed to call the MCP endpoint besides
        the server's own host, e.g. the Databricks workspace URL. Requests without an Origin
        header (non-browser clients) are always allowed; any other Origin gets 403.""",
    ).tag(config=True)

    max_body_bytes = Integer(
        1024 * 1024, help="Largest MCP request body accepted; bigger ones get 413."
    ).tag(config=True)

    max_sessions = Integer(1000, help="MCP sessions kept in memory; the least recently used go first.").tag(
        config=True
    )

    session_idle_timeout_s = Float(
        24 * 3600.0, help="An MCP session unused for this long is forgotten (clients re-initialize)."
    ).tag(config=True)

    def __init__(self, endpoint: McpEndpoint, **kwargs: Any):
        super().__init__(**kwargs)
        self.endpoint = endpoint


def mcp_server(settings: dict[str, Any]) -> McpServer:
    """The server's ``McpServer``, created on first use."""
    server = settings.get(SETTINGS_KEY)
    if server is None:
        # The protocol layer (pydantic models of mcp-types) loads on first use,
        # keeping it out of server start-up.
        from .. import __version__
        from ..notebooks import notebook_service
        from .notebook_tools import notebook_tool_defs
        from .protocol import McpEndpoint, Sessions
        from .tools import ToolSet

        runner = task_runner(settings)
        tools = ToolSet(runner, extra=notebook_tool_defs(lambda: notebook_service(settings)))
        server = McpServer(endpoint=McpEndpoint(tools, __version__), parent=settings["coda_app"])
        server.endpoint.sessions = Sessions(server.max_sessions, server.session_idle_timeout_s)
        settings[SETTINGS_KEY] = server
    return server
