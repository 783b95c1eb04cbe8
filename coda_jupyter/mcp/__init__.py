"""The MCP server of coda-jupyter: background agent tasks and notebook tools as MCP tools.

``McpServer`` holds the configuration (``c.McpServer.*``) and the one
``McpEndpoint`` of a Jupyter server; the tornado handler lives in
``coda_jupyter.handlers.mcp``. The app builds it with the other services;
the protocol layer (pydantic models of mcp-types) loads on the first request,
which keeps it out of server start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from traitlets import Float, Integer, List, Unicode
from traitlets.config import LoggingConfigurable

if TYPE_CHECKING:
    from ..notebooks.service import NotebookService
    from ..tasks import TaskRunner
    from .protocol import McpEndpoint


class McpServer(LoggingConfigurable):
    allowed_origins = List(
        Unicode(),
        help="""Browser origins (scheme://host[:port]) allowed to call the MCP endpoint besides
        the server's own host, e.g. the Databricks workspace URL. Requests without an Origin
        header (non-browser clients) are always allowed; any other Origin gets 403.""",
    ).tag(config=True)

    max_body_bytes = Integer(1024 * 1024, help="Largest MCP request body accepted; bigger ones get 413.").tag(
        config=True
    )

    max_sessions = Integer(1000, help="MCP sessions kept in memory; the least recently used go first.").tag(config=True)

    session_idle_timeout_s = Float(
        24 * 3600.0, help="An MCP session unused for this long is forgotten (clients re-initialize)."
    ).tag(config=True)

    def __init__(
        self,
        *,
        runner: TaskRunner,
        notebooks: NotebookService,
        version: str,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.runner = runner
        self._notebooks = notebooks
        self._version = version
        self._endpoint: McpEndpoint | None = None

    @property
    def endpoint(self) -> McpEndpoint:
        if self._endpoint is None:
            from .notebook_tools import notebook_tool_defs
            from .protocol import McpEndpoint, Sessions
            from .tools import ToolSet

            tools = ToolSet(self.runner, extra=notebook_tool_defs(self._notebooks))
            self._endpoint = McpEndpoint(tools, self._version)
            # Assigned, not passed: McpEndpoint would take an empty Sessions for "none given".
            self._endpoint.sessions = Sessions(self.max_sessions, self.session_idle_timeout_s)
        return self._endpoint
