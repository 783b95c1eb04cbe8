"""``{base_url}api/coda/mcp``: the MCP Streamable HTTP endpoint (JSON responses, no SSE).

It lives under ``api/`` because the Databricks Apps proxy accepts bearer
tokens only on ``/api/`` paths (docs.databricks.com, "Connect to an API
Databricks app using token authentication"). ``{base_url}coda/mcp`` stays as
an alias for agent configs written by earlier versions.

Security, in order:

1. Origin: any browser ``Origin`` that is not this server's host (or listed in
   ``McpServer.allowed_origins`` / Jupyter's ``allow_origin``) gets 403 before
   anything else, whatever the credentials (the spec's DNS-rebinding guard;
   Jupyter's own ``check_host`` already refuses foreign Host headers).
2. Authentication and authorization as every coda handler: the server token
   (``Authorization: Bearer|token``) or the Databricks Apps owner identity.
3. ``Content-Type: application/json`` is required on POST. A cross-site page
   can only send JSON after a CORS preflight, which Jupyter does not grant, so
   ambient browser credentials cannot drive the endpoint.
4. XSRF: token-authenticated requests skip it (Jupyter's rule), and so do
   requests the Apps proxy names (its identity headers) when they are a JSON
   POST or a DELETE: an external client with a Databricks OAuth token has no
   ``_xsrf`` to send, and a cross-site page can send neither without a CORS
   preflight, while its Origin is refused in step 1. Login-cookie requests
   keep Jupyter's ``_xsrf`` check: their only callers are JupyterLab pages,
   which send it anyway.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from ..auth.identity import CodaIdentityProvider
from ..mcp.headers import SESSION_HEADER, VERSION_HEADER
from .base import CodaAPIHandler

if TYPE_CHECKING:
    from ..mcp.protocol import HttpReply


def lab_terminal_url(handler: CodaAPIHandler, terminal: str) -> str:
    """An absolute JupyterLab URL that opens ``terminal`` (the lab extension routes ``coda-terminal``)."""
    path = url_path_join(handler.settings.get("base_url", "/"), "lab")
    return f"{handler.request.protocol}://{handler.public_host()}{path}?coda-terminal={terminal}"


class McpHandler(CodaAPIHandler):
    auth_resource = "coda:mcp"

    async def prepare(self) -> None:  # type: ignore[override]
        if not self._origin_ok():
            raise web.HTTPError(403, f"Origin {self.request.headers.get('Origin')!r} is not allowed")
        await super().prepare()

    def _origin_ok(self) -> bool:
        origin = self.request.headers.get("Origin")
        if origin is None or self.allow_origin == "*":
            return True
        allowed = list(self.services.mcp.allowed_origins)
        if self.allow_origin:
            allowed.append(self.allow_origin)
        from ..mcp.protocol import origin_allowed

        hosts = {self.request.headers.get("Host"), self.public_host()}
        if any(origin_allowed(origin, host, allowed) for host in hosts):
            return True
        # The server compiles the pattern into the settings; jupyter_server's annotation says str.
        pattern: re.Pattern[str] | None = self.settings.get("allow_origin_pat")
        return bool(pattern and pattern.match(origin))

    def check_xsrf_cookie(self) -> None:
        if self._named_by_proxy() and self._preflighted_request():
            return None
        return super().check_xsrf_cookie()

    def _named_by_proxy(self) -> bool:
        provider = self.identity_provider
        return isinstance(provider, CodaIdentityProvider) and provider.is_proxy_authenticated(self)

    def _preflighted_request(self) -> bool:
        """A request a browser only sends cross-site after a CORS preflight."""
        if self.request.method == "DELETE":
            return True
        return self.request.method == "POST" and _is_json(self.request.headers.get("Content-Type", ""))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        server = self.services.mcp
        if len(self.request.body) > server.max_body_bytes:
            raise web.HTTPError(413, f"MCP request body is larger than {server.max_body_bytes} bytes")
        if not _is_json(self.request.headers.get("Content-Type", "")):
            raise web.HTTPError(415, "MCP requests must be sent as Content-Type: application/json")
        from ..mcp.tools import ToolContext

        ctx = ToolContext(runner=server.runner, lab_url=lambda terminal: lab_terminal_url(self, terminal))
        reply = await server.endpoint.post(
            self.request.body,
            self.request.headers.get(SESSION_HEADER),
            self.request.headers.get(VERSION_HEADER),
            ctx,
        )
        self._send(reply)

    @web.authenticated
    @authorized
    def get(self) -> None:
        # No server-initiated stream: the spec lets servers refuse GET with 405.
        # Written by hand: tornado's error path drops the Allow header.
        self.set_status(405)
        self.set_header("Allow", "POST, DELETE")
        self.write_json({"message": "This MCP endpoint sends no SSE stream; use POST"}, status=405)

    @web.authenticated
    @authorized
    def delete(self) -> None:
        self._send(self.services.mcp.endpoint.delete(self.request.headers.get(SESSION_HEADER)))

    def _send(self, reply: HttpReply) -> None:
        self.set_status(reply.status)
        for name, value in reply.headers.items():
            self.set_header(name, value)
        if reply.body is None:
            self.clear_header("Content-Type")
            self.finish()
            return
        self.set_header("Content-Type", "application/json")
        self.finish(reply.encode())


def _is_json(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "application/json"


ROUTES: list[tuple[str, type]] = [(r"/api/coda/mcp", McpHandler), (r"/coda/mcp", McpHandler)]
