"""The lab extension's side of the notebook relay (see ``coda_jupyter.notebooks.relay``).

``POST coda/api/notebooks/relay/poll``   ``{client, open, wait}`` → ``{commands}`` (long poll)
``POST coda/api/notebooks/relay/reply``  ``{client, id, ok, result | error}`` → 204
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..notebooks.paths import NotebookError
from ..notebooks.relay import MAX_WAIT_S
from .base import CodaAPIHandler

MAX_OPEN = 500


class _RelayHandler(CodaAPIHandler):
    auth_resource = "coda:notebooks"

    def client_id(self, body: dict[str, Any]) -> str:
        client = body.get("client")
        if not isinstance(client, str) or not 8 <= len(client) <= 64 or not client.isascii():
            raise web.HTTPError(400, "client must be an id of 8 to 64 ASCII characters")
        return client


class RelayPollHandler(_RelayHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        client = self.client_id(body)
        opened = body.get("open", [])
        if not isinstance(opened, list) or len(opened) > MAX_OPEN or not all(isinstance(p, str) for p in opened):
            raise web.HTTPError(400, f"open must be a list of at most {MAX_OPEN} notebook paths")
        wait = body.get("wait", 0)
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 <= wait <= MAX_WAIT_S:
            raise web.HTTPError(400, f"wait must be a number of seconds from 0 to {MAX_WAIT_S:g}")
        service = self.services.notebooks
        paths = []
        for path in opened:
            try:
                paths.append(service.path(path))
            except NotebookError:
                continue  # not a notebook under the root (another drive, say): never relayed
        commands = await service.relay.poll(client, paths, float(wait))
        self.write_json({"commands": commands})


class RelayReplyHandler(_RelayHandler):
    @web.authenticated
    @authorized
    def post(self) -> None:
        body = self.json_body()
        client = self.client_id(body)
        msg_id, ok = body.get("id"), body.get("ok")
        if isinstance(msg_id, bool) or not isinstance(msg_id, int) or not isinstance(ok, bool):
            raise web.HTTPError(400, "id must be an integer and ok a boolean")
        payload = body.get("result") if ok else body.get("error")
        if not self.services.notebooks.relay.reply(client, msg_id, ok, payload):
            raise web.HTTPError(404, f"no command {msg_id} is waiting for client {client!r}")
        self.set_status(204)
        self.finish()


ROUTES: list[tuple[str, type]] = [
    (r"/coda/api/notebooks/relay/poll", RelayPollHandler),
    (r"/coda/api/notebooks/relay/reply", RelayReplyHandler),
]
