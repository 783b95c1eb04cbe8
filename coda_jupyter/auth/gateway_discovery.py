"""Where agents send model traffic: the workspace's AI Gateway or its serving endpoints.

Order: ``DATABRICKS_GATEWAY_HOST`` (trusted, no probe); else a probe of the
gateway derived from ``DATABRICKS_WORKSPACE_ID`` (any HTTP answer means it
exists); else ``{host}/serving-endpoints``. Workspaces without an AI Gateway
made agents fail with socket errors before the probe existed, hence probing
rather than assuming.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from tornado.httpclient import AsyncHTTPClient

from .credentials import normalise_host

LOG = logging.getLogger("coda_jupyter.auth")

GATEWAY_URL_TEMPLATE = "https://{workspace_id}.ai-gateway.cloud.databricks.com"

GatewayKind = Literal["ai-gateway", "serving-endpoints"]


@dataclass(frozen=True)
class Gateway:
    kind: GatewayKind
    base_url: str
    # "env" (DATABRICKS_GATEWAY_HOST), "probe" or "fallback".
    source: str


class GatewayResolver:
    """Resolves once per workspace host and caches the answer."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        url_template: str = GATEWAY_URL_TEMPLATE,
        probe_timeout: float = 2.0,
        log: logging.Logger | None = None,
    ) -> None:
        self._env = env if env is not None else os.environ
        self._template = url_template
        self._timeout = probe_timeout
        self.log = log or LOG
        self._cache: dict[str, Gateway] = {}
        self._lock = asyncio.Lock()

    async def resolve(self, workspace_host: str) -> Gateway:
        host = normalise_host(workspace_host)
        if host is None:
            raise ValueError("a workspace host is required to find the model gateway")
        async with self._lock:
            cached = self._cache.get(host)
            if cached is None:
                cached = self._cache[host] = await self._discover(host)
                self.log.info("coda: model gateway is %s (%s, %s)", cached.base_url, cached.kind, cached.source)
            return cached

    async def _discover(self, host: str) -> Gateway:
        trusted = normalise_host(self._env.get("DATABRICKS_GATEWAY_HOST"))
        if trusted:
            return Gateway("ai-gateway", trusted, "env")
        workspace_id = (self._env.get("DATABRICKS_WORKSPACE_ID") or "").strip()
        if workspace_id:
            candidate = self._template.format(workspace_id=workspace_id).rstrip("/")
            if await self._answers(candidate):
                return Gateway("ai-gateway", candidate, "probe")
            self.log.info("coda: AI Gateway not reachable at %s; using serving endpoints", candidate)
        return Gateway("serving-endpoints", f"{host}/serving-endpoints", "fallback")

    async def _answers(self, url: str) -> bool:
        try:
            response = await AsyncHTTPClient().fetch(
                url,
                request_timeout=self._timeout,
                connect_timeout=self._timeout,
                follow_redirects=False,
                raise_error=False,
            )
        except Exception:  # DNS, refused, TLS, timeout: nothing is there
            return False
        return response.code != 599
