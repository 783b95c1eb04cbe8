"""Common base for every coda handler: authenticated, authorized, JSON."""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from .services import Services, services


class CodaAPIHandler(APIHandler):
    """Subclasses set ``auth_resource`` to a ``coda:`` resource and decorate
    every verb with ``@web.authenticated`` and ``@authorized``."""

    auth_resource = "coda"

    @property
    def services(self) -> Services:
        return services(self.settings)

    def public_host(self) -> str:
        """The host a browser used to reach us.

        Behind the Databricks Apps proxy (the only way in, in Apps mode) that is
        the proxy's X-Forwarded-Host; locally it is the request's own Host.
        """
        forwarded = self.request.headers.get("X-Forwarded-Host", "")
        if self.services.apps_mode and forwarded:
            return forwarded.split(",")[-1].strip()
        return self.request.host

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object; empty bodies mean ``{}``."""
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as err:
            raise web.HTTPError(400, f"request body is not valid JSON: {err}") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "request body must be a JSON object")
        return body

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(payload))
