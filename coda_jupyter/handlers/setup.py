"""``GET coda/api/setup`` and ``POST coda/api/setup/retry``."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import CodaAPIHandler


class SetupHandler(CodaAPIHandler):
    auth_resource = "coda:setup"

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(self.services.setup.engine.snapshot())


class SetupRetryHandler(CodaAPIHandler):
    auth_resource = "coda:setup"

    @web.authenticated
    @authorized
    def post(self) -> None:
        step = self.json_body().get("step")
        if step is not None and not isinstance(step, str):
            raise web.HTTPError(400, "step must be a step id string")
        try:
            reset = self.services.setup.engine.retry(step)
        except KeyError:
            raise web.HTTPError(404, f"unknown setup step {step!r}") from None
        self.write_json({"retried": reset, **self.services.setup.engine.snapshot()})
