"""The model gateway as the server runs it: discovery, credentials and a persistent local key."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from traitlets import Int
from traitlets.config import LoggingConfigurable

from ..auth.credentials import CredentialManager, Credentials
from ..auth.gateway_discovery import Gateway, GatewayResolver
from ..util.files import atomic_write
from .endpoint import PORT_FILE_NAME, PortRecord, private_dir
from .routes import Route, upstream_base
from .server import DEFAULT_MAX_BODY, ModelGateway
from .upstream import DEFAULT_POOL_SIZE

log = logging.getLogger("coda_jupyter.gateway")


def load_local_key(path: Path) -> str:
    """The key agents present to the gateway, created once and kept 0600.

    It outlives restarts so agent config files written earlier stay valid;
    it is not a Databricks credential, so a leak cannot reach the workspace
    without also reaching this machine's loopback. Its folder is kept 0700.
    """
    try:
        private_dir(path.parent)
    except PermissionError as err:
        # Not fatal to the server: the key file itself is still 0600.
        log.warning("model gateway: %s", err)
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = ""
    if not key:
        key = secrets.token_urlsafe(32)
        atomic_write(path, key + "\n", mode=0o600)
    return key


class GatewayService(LoggingConfigurable):
    """Runs :class:`ModelGateway` with the current token and the discovered upstream.

    With ``port`` 0 it listens on the port recorded next to the key (in the
    state folder), chosen at the first start (see ``gateway.endpoint``).
    """

    port = Int(
        0,
        help="""Loopback port of the local model gateway. 0: a free port chosen once,
        recorded in state_dir/gateway-port and bound again at each start (a new one
        when another program holds it).""",
    ).tag(config=True)

    max_body_size = Int(DEFAULT_MAX_BODY, help="Largest request body the model gateway forwards, in bytes.").tag(
        config=True
    )

    pool_size = Int(
        DEFAULT_POOL_SIZE,
        help="Idle connections the model gateway keeps open per upstream host, reused by later requests.",
    ).tag(config=True)

    def __init__(
        self,
        credentials: CredentialManager,
        resolver: GatewayResolver,
        key_path: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._credentials = credentials
        self._resolver = resolver
        self._discovered: Gateway | None = None
        self.gateway = ModelGateway(
            upstream=self._upstream,
            token=self._token,
            local_key=load_local_key(key_path),
            port=self.port,
            max_body_size=self.max_body_size,
            pool_size=self.pool_size,
            port_record=PortRecord(key_path.parent / PORT_FILE_NAME),
        )

    @property
    def local_key(self) -> str:
        return self.gateway.local_key

    async def start(self) -> None:
        await self.gateway.start()

    async def stop(self) -> None:
        await self.gateway.stop()

    async def credentials_available(self, creds: Credentials) -> None:
        """Credentials event: find the upstream of the (possibly new) workspace."""
        await self.discover(creds.host)

    async def discover(self, host: str) -> Gateway:
        """Resolve (once per host) where model traffic goes upstream."""
        self._discovered = await self._resolver.resolve(host)
        return self._discovered

    @property
    def upstream_is_ai_gateway(self) -> bool:
        return self._discovered is not None and self._discovered.kind == "ai-gateway"

    def endpoints(self) -> dict[str, str]:
        """Local base URL per route name, for agent config files."""
        return {name: self.gateway.url(name) for name in self.gateway.routes}

    def status(self) -> dict[str, Any]:
        discovered = self._discovered
        return {
            **self.gateway.status(),
            "upstream_kind": discovered.kind if discovered else None,
            "upstream_base": discovered.base_url if discovered else None,
        }

    def _upstream(self, route: Route) -> str | None:
        creds = self._credentials.credentials
        if creds is None:
            return None
        discovered = self._discovered
        gateway = discovered.base_url if discovered is not None and discovered.kind == "ai-gateway" else None
        return upstream_base(route, gateway=gateway, host=creds.host)

    def _token(self) -> str | None:
        creds = self._credentials.credentials
        if creds is None or not self._credentials.usable():
            return None
        return creds.token
