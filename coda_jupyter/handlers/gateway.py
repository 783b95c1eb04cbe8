"""``GET coda/api/gateway``: the local model gateway's routes and counters."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import CodaAPIHandler


class GatewayHandler(CodaAPIHandler):
    auth_resource = "coda:gateway"

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(self.services.gateway.status())
