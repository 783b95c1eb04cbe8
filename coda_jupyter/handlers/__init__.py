"""Tornado handlers, all under ``{base_url}coda/``."""

from __future__ import annotations

from .agents import AgentsHandler, AgentTerminalsHandler
from .credentials import CredentialsHandler
from .gateway import GatewayHandler
from .health import HealthHandler
from .mcp import ROUTES as MCP_ROUTES
from .notebooks import ROUTES as NOTEBOOK_ROUTES
from .openapi import OpenApiHandler
from .setup import SetupHandler, SetupRetryHandler
from .sync import SyncHandler
from .tasks import ROUTES as TASK_ROUTES
from .terminal_http import ROUTES as TERMINAL_HTTP_ROUTES
from .uploads import ROUTES as UPLOAD_ROUTES

ROUTES: list[tuple[str, type]] = [
    (r"/coda/api/health", HealthHandler),
    (r"/coda/api/openapi\.json", OpenApiHandler),
    (r"/coda/api/agents", AgentsHandler),
    (r"/coda/api/agents/(\w+)/terminals", AgentTerminalsHandler),
    (r"/coda/api/credentials", CredentialsHandler),
    (r"/coda/api/gateway", GatewayHandler),
    (r"/coda/api/setup", SetupHandler),
    (r"/coda/api/setup/retry", SetupRetryHandler),
    (r"/coda/api/sync", SyncHandler),
    *UPLOAD_ROUTES,
    *MCP_ROUTES,
    *TASK_ROUTES,
    *NOTEBOOK_ROUTES,
    *TERMINAL_HTTP_ROUTES,
]
