"""``GET/POST coda/api/credentials``: Databricks token status and PAT entry."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..auth.credentials import CredentialError
from .base import CodaAPIHandler

# Printable ASCII without spaces: anything else cannot travel in an HTTP header.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
# Personal access tokens are about 40 characters, OAuth tokens a few thousand.
_MAX_TOKEN_LENGTH = 16 * 1024
# A DNS name, an IPv4 address or (inside the brackets urlsplit removes) an IPv6 one.
_HOST_NAME = re.compile(r"[a-z0-9.-]+|[0-9a-f:.]+")


def workspace_url(host: str) -> str:
    """``host`` as the workspace URL the server would call; ``ValueError`` if it is not one.

    Only a scheme (http or https; https when none is given), a host name and
    an optional port: the token is sent there, so nothing else is guessed.
    """
    text = host.strip().rstrip("/")
    if not text or not _TOKEN_CHARS.fullmatch(text):
        raise ValueError("the workspace URL must be printable ASCII without spaces")
    url = text if "://" in text else f"https://{text}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("the workspace URL must start with https:// (or http://)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the workspace URL takes no user name or password")
    if not parts.hostname or not _HOST_NAME.fullmatch(parts.hostname):
        raise ValueError("the workspace URL needs a valid host name")
    if parts.path or parts.query or parts.fragment:
        raise ValueError("the workspace URL takes no path, query or fragment")
    parts.port  # noqa: B018 -- raises ValueError for a port that is not a number in range
    return url


class CredentialsHandler(CodaAPIHandler):
    auth_resource = "coda:credentials"

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(self.services.credentials.status())

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
        token = token.strip()
        # The messages never echo the token: a pasted secret must not come back in a reply or a log.
        if len(token) > _MAX_TOKEN_LENGTH:
            raise web.HTTPError(400, f"'token' is longer than {_MAX_TOKEN_LENGTH} characters; paste only the token")
        if not _TOKEN_CHARS.fullmatch(token):
            raise web.HTTPError(400, "'token' must be printable ASCII without spaces, as Databricks tokens are")
        if not isinstance(replace, bool):
            raise web.HTTPError(400, "'replace' must be true or false")
        if host is not None and not isinstance(host, str):
            raise web.HTTPError(400, "'host' must be a workspace URL")
        if host:
            try:
                host = workspace_url(host)
            except ValueError as err:
                raise web.HTTPError(400, f"'host': {err}") from None
        try:
            status = await self.services.credentials.configure(token, replace=replace, host=host or None)
        except CredentialError as err:
            # Messages come from the manager, which never includes the token.
            raise web.HTTPError(err.status, str(err)) from None
        self.write_json(status)
