"""``GET coda/api/sync``: workspace sync state per repository (never a token)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..sync import sync_status
from .base import CodaAPIHandler


class SyncHandler(CodaAPIHandler):
    auth_resource = "coda:sync"

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(sync_status(self.services.state_dir))
