"""``coda-bridge``: stdio <-> Streamable HTTP proxy for MCP clients that only speak stdio.

Each line on stdin is one JSON-RPC message, POSTed to the coda MCP endpoint;
each JSON reply is written to stdout as one line. The bridge keeps the
``Mcp-Session-Id`` (and initializes again for the client if the server forgot
it), sends the negotiated ``MCP-Protocol-Version``, and turns transport
failures into JSON-RPC errors for requests that carry an id. It logs to
stderr only: stdout belongs to the protocol.

Credentials: against a Databricks App it asks databricks-sdk for an OAuth token
(``--profile`` or ``DATABRICKS_CONFIG_PROFILE``), caches it and gets a fresh one
on 401, 403 or a redirect to the login page; against a plain Jupyter server it
sends the token found in ``CODA_MCP_TOKEN`` (or ``--token-env``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import IO, Any, Protocol

log = logging.getLogger("coda-bridge")

_REFRESH_ON = {301, 302, 303, 307, 308, 401, 403}
_TRANSPORT_ERROR = -32000


class TokenSource(Protocol):
    def token(self, refresh: bool = False) -> str | None:
        """A bearer token; ``refresh`` asks for a new one instead of the cached one."""


class StaticToken:
    def __init__(self, value: str | None):
        self._value = value

    def token(self, refresh: bool = False) -> str | None:
        return self._value


class DatabricksToken:
    """OAuth (or any databricks-sdk auth) for a profile, cached until it is refused."""

    def __init__(self, profile: str | None, config_factory: Callable[..., Any] | None = None):
        self._profile = profile
        self._config_factory = config_factory
        self._cached: str | None = None

    def token(self, refresh: bool = False) -> str | None:
        if self._cached is None or refresh:
            self._cached = self._fetch()
        return self._cached

    def _fetch(self) -> str | None:
        if self._config_factory is None:
            from databricks.sdk.core import Config

            self._config_factory = Config
        # A new Config per refresh: the SDK's credential provider caches too.
        config = self._config_factory(profile=self._profile) if self._profile else self._config_factory()
        header = config.authenticate().get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return value if scheme.lower() == "bearer" and value else None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect here means "log in again": report it instead of following it.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Bridge:
    def __init__(self, url: str, tokens: TokenSource, timeout: float = 300.0):
        self.url = url
        self.tokens = tokens
        self.timeout = timeout
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self._initialize: bytes | None = None
        self._opener = urllib.request.build_opener(_NoRedirect)

    def handle(self, line: str) -> str | None:
        """One stdin line in, at most one stdout line out."""
        try:
            message = json.loads(line)
        except ValueError as err:
            return _error_line(None, -32700, f"Parse error: {err}")
        message_id = message.get("id") if isinstance(message, dict) else None
        body = line.encode("utf-8")
        is_initialize = isinstance(message, dict) and message.get("method") == "initialize"
        if is_initialize:
            self._initialize = body
            self.session_id = None
        try:
            status, headers, reply = self._post(body)
            if status == 404 and self.session_id and self._initialize and not is_initialize:
                log.info("[coda-bridge] session expired; initializing again")
                self._reinitialize()
                status, headers, reply = self._post(body)
        except OSError as err:
            log.warning("[coda-bridge] %s", err)
            return _error_line(message_id, _TRANSPORT_ERROR, f"cannot reach {self.url}: {err}")
        if headers.get("Mcp-Session-Id"):
            self.session_id = headers["Mcp-Session-Id"]
        if is_initialize and status == 200:
            self.protocol_version = json.loads(reply).get("result", {}).get("protocolVersion")
        if not reply.strip():
            if status >= 400 and message_id is not None:
                return _error_line(message_id, _TRANSPORT_ERROR, f"HTTP {status} from {self.url}")
            return None
        try:
            parsed = json.loads(reply)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("jsonrpc") == "2.0":
            return json.dumps(parsed)
        if message_id is None:
            return None
        detail = parsed.get("message") if isinstance(parsed, dict) else reply[:200].decode("utf-8", "replace")
        return _error_line(message_id, _TRANSPORT_ERROR, f"HTTP {status} from {self.url}: {detail}")

    def close(self) -> None:
        if self.session_id:
            try:
                self._request("DELETE", None, refresh=False)
            except OSError as err:
                log.info("[coda-bridge] could not end the session: %s", err)

    def run(self, stdin: IO[str], stdout: IO[str]) -> None:
        for line in stdin:
            if not line.strip():
                continue
            out = self.handle(line.strip())
            if out is not None:
                stdout.write(out + "\n")
                stdout.flush()
        self.close()

    def _reinitialize(self) -> None:
        assert self._initialize is not None
        self.session_id = None
        _, headers, _ = self._post(self._initialize)
        self.session_id = headers.get("Mcp-Session-Id")
        self._post(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode())

    def _post(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        status, headers, reply = self._request("POST", body, refresh=False)
        if status in _REFRESH_ON:
            log.info("[coda-bridge] HTTP %s: getting a fresh token", status)
            status, headers, reply = self._request("POST", body, refresh=True)
        return status, headers, reply

    def _request(self, method: str, body: bytes | None, refresh: bool) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        token = self.tokens.token(refresh=refresh)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            headers["MCP-Protocol-Version"] = self.protocol_version
        # The URL is the configured coda MCP endpoint, not user input.
        request = urllib.request.Request(self.url, data=body, headers=headers, method=method)  # noqa: S310
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, dict(err.headers.items()), err.read()


def _error_line(message_id: Any, code: int, message: str) -> str | None:
    if message_id is None:
        return None
    return json.dumps({"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": message}})


def _token_source(args: argparse.Namespace) -> TokenSource:
    # Inside a coda-jupyter terminal the server's own token is in JUPYTER_TOKEN.
    static = os.environ.get(args.token_env) or os.environ.get("JUPYTER_TOKEN")
    if args.auth == "token" or (args.auth == "auto" and static):
        return StaticToken(static)
    return DatabricksToken(args.profile or os.environ.get("DATABRICKS_CONFIG_PROFILE"))


def _default_url() -> str | None:
    """CODA_MCP_URL, else this server's endpoint when run from one of its terminals."""
    explicit = os.environ.get("CODA_MCP_URL")
    if explicit:
        return explicit
    server = os.environ.get("JUPYTER_SERVER_URL")
    return server.rstrip("/") + "/api/coda/mcp" if server else None


def main(argv: list[str] | None = None, tokens: TokenSource | None = None) -> int:
    parser = argparse.ArgumentParser(prog="coda-bridge", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=_default_url(), help="MCP endpoint (env CODA_MCP_URL)")
    parser.add_argument("--profile", help="Databricks config profile (env DATABRICKS_CONFIG_PROFILE)")
    parser.add_argument("--auth", choices=("auto", "databricks", "token"), default="auto")
    parser.add_argument("--token-env", default="CODA_MCP_TOKEN", help="variable holding a Jupyter token")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    if not args.url:
        log.error("[coda-bridge] no MCP URL: pass --url or set CODA_MCP_URL")
        return 2
    bridge = Bridge(args.url, tokens or _token_source(args), timeout=args.timeout)
    log.info("[coda-bridge] proxying stdio to %s", args.url)
    bridge.run(sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
