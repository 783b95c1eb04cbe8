"""Tornado handlers, all under ``{base_url}coda/``."""

from __future__ import annotations

from .agents import AgentsHandler, AgentTerminalsHandler
from .health import HealthHandler
from .setup import SetupHandler, SetupRetryHandler
from .uploads import ROUTES as UPLOAD_ROUTES

ROUTES: list[tuple[str, type]] = [
    (r"/coda/api/health", HealthHandler),
    (r"/coda/api/agents", AgentsHandler),
    (r"/coda/api/agents/(\w+)/terminals", AgentTerminalsHandler),
    (r"/coda/api/setup", SetupHandler),
    (r"/coda/api/setup/retry", SetupRetryHandler),
    *UPLOAD_ROUTES,
]
