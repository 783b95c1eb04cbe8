"""The current workspace token, served to local SDK clients as a Databricks metadata service.

Rotated tokens live ~15 minutes and the previous one is revoked at each
rotation. A token read once from ``~/.databrickscfg`` therefore dies under a
long-lived client (a notebook kernel, an agent's Python session). The SDKs
(Python, Go, so also the Databricks CLI and MLflow) support a "metadata
service": with ``DATABRICKS_METADATA_SERVICE_URL`` set they fetch a token from
that URL and fetch again before its ``expires_on``. Terminals get that URL, so
every client refreshes on its own and follows each rotation.

The SDKs send no credentials to the URL (only ``X-Databricks-Metadata-Version``
and ``X-Databricks-Host``), so the URL itself is the secret: a random path on
a 127.0.0.1 port that the Apps proxy cannot reach. It is handed only to the
owner's terminals, in their environment, never written to a file or a command
line. A request for another workspace host is refused.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from .credentials import CredentialManager, normalise_host

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedToken:
    host: str
    token: str
    # When a client must come back: the token's expiry or the next rotation, whichever is first.
    refresh_at: float


class MetadataService:
    """A loopback HTTP server answering the SDK's metadata-service requests."""

    def __init__(self, current: Callable[[], ServedToken | None]) -> None:
        self._current = current
        self._secret = secrets.token_urlsafe(32)
        self._server: HTTPServer | None = None
        self._port: int | None = None

    @property
    def url(self) -> str | None:
        """The URL for ``DATABRICKS_METADATA_SERVICE_URL``; ``None`` until started."""
        if self._port is None:
            return None
        return f"http://127.0.0.1:{self._port}/{self._secret}"

    async def start(self) -> None:
        if self._server is not None:
            return
        sockets = bind_sockets(0, "127.0.0.1")
        app = Application(
            [(r"/(.*)", _TokenHandler, {"service": self})],
            log_function=lambda handler: log.debug("metadata service: %s", handler.get_status()),
        )
        self._server = HTTPServer(app)
        self._server.add_sockets(sockets)
        self._port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.stop()
        await self._server.close_all_connections()
        self._server = None
        self._port = None

    def secret_matches(self, presented: str) -> bool:
        return secrets.compare_digest(presented.encode(), self._secret.encode())

    def current(self) -> ServedToken | None:
        return self._current()


class _TokenHandler(RequestHandler):
    def initialize(self, service: MetadataService) -> None:
        self.service = service

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        self.set_header("Cache-Control", "no-store")

    def get(self, presented: str) -> None:
        if not self.service.secret_matches(presented):
            return self._error(404, "not found")
        served = self.service.current()
        if served is None:
            return self._error(503, "No Databricks credentials yet: paste a personal access token in JupyterLab.")
        asked = self.request.headers.get("X-Databricks-Host")
        if asked and normalise_host(asked) != served.host:
            return self._error(400, f"this service only has credentials for {served.host}")
        self.finish(
            {
                "access_token": served.token,
                "token_type": "Bearer",
                # The SDKs fetch again from 40 s before this: so before each
                # rotation, which revokes the token they hold.
                "expires_on": int(served.refresh_at),
            }
        )

    def _error(self, status: int, message: str) -> None:
        self.set_status(status)
        self.finish({"message": message})

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish({"message": self._reason})


def served_token(status: dict[str, Any], token: str | None) -> ServedToken | None:
    """What to serve from a credential manager's ``status()`` and current token."""
    host = status.get("host")
    if not token or not host or status.get("state") == "expired":
        return None
    limits = [t for t in (status.get("expires_at"), status.get("next_rotation")) if t]
    return ServedToken(str(host), token, min(limits) if limits else time.time() + 3600)


def current_token(credentials: CredentialManager) -> ServedToken | None:
    """What to serve now: the manager's current token, while it is usable."""
    creds = credentials.credentials
    return served_token(credentials.status(), creds.token if creds else None)


def sdk_auth_env(service: MetadataService | None, host: str | None) -> dict[str, str | None]:
    """Terminal env changes that make every SDK client use ``service`` (``None`` removes).

    A token or profile in the environment would win over the metadata
    service in the SDKs' default order, and go stale at the next rotation.
    """
    url = service.url if service is not None else None
    if url is None:
        return {}
    changes: dict[str, str | None] = {name: None for name in _COMPETING_VARIABLES}
    changes["DATABRICKS_METADATA_SERVICE_URL"] = url
    if host:
        changes["DATABRICKS_HOST"] = host
    return changes


_COMPETING_VARIABLES = (
    "DATABRICKS_TOKEN",
    "DATABRICKS_CONFIG_PROFILE",
    "DATABRICKS_AUTH_TYPE",
    "DATABRICKS_USERNAME",
    "DATABRICKS_PASSWORD",
)
