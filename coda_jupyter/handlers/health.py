"""``GET coda/api/health``."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import CodaAPIHandler


class HealthHandler(CodaAPIHandler):
    auth_resource = "coda:health"

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json({"status": "ok", "version": self.services.version})
