"""``GET/POST coda/api/credentials``: Databricks token status and PAT entry."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth.credentials import CredentialError
from .base import CodaAPIHandler


class CredentialsHandler(CodaAPIHandler):
    auth_resource = "coda:credentials"

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(self.coda.credentials.status())

    @web.authenticated
    @authorized
    async def post(self) -> None:
        # Cookie-authenticated calls pass Jupyter's XSRF check before reaching
        # here; the identity provider has already limited callers to the owner.
        body = self.json_body()
        token = body.get("token")
        replace = body.get("replace", False)
        host = body.get("host")
        if not isinstance(token, str) or not token.strip():
            raise web.HTTPError(400, "a Databricks personal access token is required in 'token'")
        if not isinstance(replace, bool):
            raise web.HTTPError(400, "'replace' must be true or false")
        if host is not None and not isinstance(host, str):
            raise web.HTTPError(400, "'host' must be a workspace URL")
        try:
            status = await self.coda.credentials.configure(token, replace=replace, host=host or None)
        except CredentialError as err:
            # Messages come from the manager, which never includes the token.
            raise web.HTTPError(err.status, str(err)) from None
        self.write_json(status)

