"""Owner-only access when the server runs as a Databricks App.

The Databricks Apps proxy authenticates every visitor and names them in
``X-Forwarded-Email`` (or ``X-Forwarded-User``) on plain HTTP requests, but
not on websocket upgrades. So, in Apps mode, a request is let in when:

* it carries the server's token (``Authorization: token|Bearer …`` or
  ``?token=``) and no identity header naming someone else: local processes
  such as agents and the MCP bridge, which run as the owner anyway;
* it is plain HTTP and its identity header names the app's owner
  (case-insensitive); the response then sets Jupyter's signed login cookie,
  which is what authenticates the browser's websocket upgrades;
* it has no identity header, or is a websocket upgrade, and carries a login
  cookie for the current owner. Identity headers on upgrades are ignored:
  the proxy sets none there, so one can only come from the client.

The login cookie is accepted for ``login_cookie_max_age_hours`` after it was
issued (a signed timestamp, checked on every request) and renewed on the
owner's HTTP requests once half of that has passed. Each start signs cookies
with a key of its own, so a restart signs everyone out.

Everything else is refused with a page (JSON under ``/api`` and ``/coda``):
403 naming the owner and the visitor, or 503 while the owner is unknown. The
only route open without credentials is Jupyter's ``GET /api`` version probe,
kept as the health check. Outside Apps mode the provider is Jupyter's stock
one: token or password login, and identity headers are ignored.

Any local process could send an identity header to the app port on plain
HTTP; that is acceptable only because local processes already run as the owner.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
from collections.abc import Mapping
from html import escape
from typing import Any, NoReturn
from urllib.parse import urlsplit

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import PasswordIdentityProvider, User
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop
from tornado.websocket import WebSocketHandler
from traitlets import Bool, Float, Int, List, TraitError, Unicode, default, validate

from .owner import APP_NAME_VARIABLE, SERVICE_PRINCIPAL_VARIABLES, OwnerResolver

TOKEN_USERNAME = "jupyter-server-token"  # noqa: S105 -- a user name, not a token
# Jupyter's GET {base_url}api answers only {"version": ...}: the health check.
HEALTH_CHECK_PATH = "api"
# Keep the 503 page short-lived in the browser: the owner may resolve any moment.
RETRY_AFTER_SECONDS = 15


def apps_mode_from_env(env: Mapping[str, str] | None = None) -> bool:
    return bool((os.environ if env is None else env).get(APP_NAME_VARIABLE))


class CodaIdentityProvider(PasswordIdentityProvider):
    """Jupyter's identity provider, restricted to the app owner in Apps mode."""

    databricks_app = Bool(
        None,
        allow_none=True,
        help="Force Databricks App mode on or off. Default: on when DATABRICKS_APP_NAME is set.",
    ).tag(config=True)

    owner_email = Unicode(
        "",
        help="The app owner's email. Default: APP_OWNER_EMAIL, else the app's creator from the Apps API.",
    ).tag(config=True)

    identity_headers = List(
        Unicode(),
        default_value=["X-Forwarded-Email", "X-Forwarded-User"],
        help="Headers set by the Databricks Apps proxy naming the visitor, first non-empty wins.",
    ).tag(config=True)

    owner_boot_attempts = Int(3, help="Attempts to resolve the owner at start before retrying in the background.").tag(
        config=True
    )

    owner_retry_seconds = Float(
        30.0, help="First delay between background owner resolutions; it doubles up to owner_retry_max_seconds."
    ).tag(config=True)

    owner_retry_max_seconds = Float(300.0, help="Longest delay between background owner resolutions.").tag(config=True)

    login_cookie_max_age_hours = Float(
        24.0,
        help="Apps mode: how long a login cookie is accepted after it was issued, checked on every request. "
        "It is renewed on the owner's page and API requests once half of this has passed.",
    ).tag(config=True)

    @validate("login_cookie_max_age_hours")
    def _positive_max_age(self, proposal: Any) -> float:
        if proposal["value"] <= 0:
            raise TraitError("login_cookie_max_age_hours must be positive")
        return float(proposal["value"])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.apps_mode = self.databricks_app if self.databricks_app is not None else apps_mode_from_env()
        self.owner_resolver: OwnerResolver | None = None
        if self.apps_mode:
            self.owner_resolver = OwnerResolver(
                os.environ.get(APP_NAME_VARIABLE),
                override=self.owner_email or None,
                boot_attempts=self.owner_boot_attempts,
                background_retry_seconds=self.owner_retry_seconds,
                background_retry_max_seconds=self.owner_retry_max_seconds,
                log=self.log,
            )
            # Runs once the server's loop starts, so the owner is usually known
            # before the first visitor arrives.
            IOLoop.current().add_callback(self.owner_resolver.start)
            # tornado signs the issue time into the cookie and refuses it past
            # max_age_days (its default is 31): a copied cookie dies on time
            # whatever the browser does with Expires.
            max_age_days = self.login_cookie_max_age_hours / 24
            self.get_secure_cookie_kwargs = {**self.get_secure_cookie_kwargs, "max_age_days": max_age_days}
            self.cookie_options = {**self.cookie_options, "expires_days": max_age_days}

    @default("token")
    def _token_default(self) -> str:
        token: str = super()._token_default()
        if self.apps_mode:
            # Jupyter prints a generated token in its startup URL; the App's
            # logs are readable by others. Terminals get it from their env.
            self.token_generated = False
        return token

    def cookie_secret_hook(self, h: hmac.HMAC) -> hmac.HMAC:
        """Apps mode: a key of this start's own, so a restart signs everyone out.

        Jupyter derives the cookie key from a file it keeps in the runtime
        directory, which survives restarts. A configured ``cookie_secret``
        never reaches this hook; a configured ``cookie_secret_file`` is kept
        as the choice to let sessions outlive the server.
        """
        h = super().cookie_secret_hook(h)
        if self.apps_mode and "cookie_secret_file" not in self.config.ServerApp:
            h.update(secrets.token_bytes(32))
        return h

    @property
    def owner(self) -> str | None:
        return self.owner_resolver.owner if self.owner_resolver is not None else None

    @property
    def auth_enabled(self) -> bool:
        # An empty token must never mean "no authentication" behind the proxy.
        return True if self.apps_mode else super().auth_enabled

    @property
    def login_available(self) -> bool:
        # The proxy is the login page; Jupyter's token form would only confuse.
        return False if self.apps_mode else super().login_available

    @property
    def logout_available(self) -> bool:
        return False if self.apps_mode else super().logout_available

    def get_user(self, handler: web.RequestHandler) -> Any:
        if not self.apps_mode:
            return super().get_user(handler)
        return self._apps_user(handler)

    async def _apps_user(self, handler: web.RequestHandler) -> User | None:
        known: User | None = getattr(handler, "_jupyter_current_user", None)
        if known:
            return known
        if self._is_health_check(handler):
            return None
        visitor = None if _is_websocket_upgrade(handler) else self._visitor(handler)
        if visitor is not None:
            return self._header_user(handler, visitor)
        if self._has_server_token(handler):
            handler._token_authenticated = True  # type: ignore[attr-defined]
            return User(TOKEN_USERNAME, name="Jupyter server token")
        cookie_user = await self._cookie_user(handler)
        if cookie_user is not None:
            owner = self._owner_or_unavailable(handler)
            if cookie_user.username == owner:
                return cookie_user
            self.clear_login_cookie(handler)
            _refuse(handler, 403, _not_owner(owner, cookie_user.username), owner, cookie_user.username)
        known_owner = self.owner
        message = "You are not signed in. Open this app through its Databricks Apps URL."
        if known_owner is not None:
            message = f"This app belongs to {known_owner}. {message}"
        _refuse(handler, 403, message, known_owner, None)

    def _header_user(self, handler: web.RequestHandler, visitor: str) -> User:
        owner = self._owner_or_unavailable(handler)
        if visitor.lower() != owner:
            if handler.get_cookie(self.get_cookie_name(handler)) is not None:
                self.clear_login_cookie(handler)
            _refuse(handler, 403, _not_owner(owner, visitor), owner, visitor)
        user = User(owner)
        handler._coda_proxy_authenticated = True  # type: ignore[attr-defined]
        if not self._has_young_cookie(handler, owner):
            # Renewed early so an open tab's websockets never meet an expired one.
            self.set_login_cookie(handler, user)
        return user

    def is_proxy_authenticated(self, handler: web.RequestHandler) -> bool:
        """Whether this request's user came from the Apps proxy's identity headers."""
        return bool(getattr(handler, "_coda_proxy_authenticated", False))

    def _has_young_cookie(self, handler: web.RequestHandler, owner: str) -> bool:
        """A login cookie for ``owner`` in the first half of its life."""
        half_life_days = self.get_secure_cookie_kwargs["max_age_days"] / 2
        value = handler.get_secure_cookie(self.get_cookie_name(handler), max_age_days=half_life_days)
        if not value:
            return False
        try:
            user = self.user_from_cookie(value.decode())
        except (ValueError, KeyError, TypeError):  # signed, but not a user: treat as absent
            return False
        return user is not None and user.username == owner

    def _owner_or_unavailable(self, handler: web.RequestHandler) -> str:
        owner = self.owner
        if owner is None:
            handler.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            _refuse(
                handler,
                503,
                "The owner of this app is not known yet, so nobody can use it for now. "
                "The server keeps trying to find out; try again in a minute.",
                None,
                None,
            )
        return owner

    def _visitor(self, handler: web.RequestHandler) -> str | None:
        for name in self.identity_headers:
            value = (handler.request.headers.get(name) or "").strip()
            if value:
                return value
        return None

    def _has_server_token(self, handler: web.RequestHandler) -> bool:
        expected = self.token
        presented = self.get_token(handler)
        if not expected or not presented:
            return False
        return hmac.compare_digest(presented.encode(), expected.encode())

    async def _cookie_user(self, handler: web.RequestHandler) -> User | None:
        user = self.get_user_cookie(handler)
        if not isinstance(user, User | None):
            user = await user
        return user

    def _is_health_check(self, handler: web.RequestHandler) -> bool:
        base_url = handler.settings.get("base_url", "/")
        return handler.request.method in {"GET", "HEAD"} and handler.request.path.rstrip("/") == url_path_join(
            base_url, HEALTH_CHECK_PATH
        )

    def should_check_origin(self, handler: web.RequestHandler) -> bool:
        """Skip Jupyter's Origin-vs-Host check when the Origin is the app's own URL.

        The proxy rewrites ``Host``, so Jupyter's check would refuse the app's
        own websockets and XSRF-checked requests. The proxy sets
        ``X-Forwarded-Host`` to the host the browser asked for, which a foreign
        page cannot choose; a foreign Origin still goes through the stock check.
        """
        if not self.apps_mode:
            return super().should_check_origin(handler)
        if self.is_token_authenticated(handler):
            return False
        return not _origin_is_forwarded_host(handler)

    def permits(self, handler: web.RequestHandler, user: User | None) -> bool:
        """The authorizer's second look: in Apps mode only the owner or the token."""
        if not self.apps_mode:
            return True
        if self.is_token_authenticated(handler):
            return True
        owner = self.owner
        return owner is not None and user is not None and user.username == owner


class CodaAuthorizer(Authorizer):
    """Defence in depth: every ``@authorized`` action re-checks the owner in Apps mode."""

    def is_authorized(self, handler: web.RequestHandler, user: User, action: str, resource: str) -> bool:
        provider = self.identity_provider
        if isinstance(provider, CodaIdentityProvider):
            return provider.permits(handler, user)
        return True


def _is_websocket_upgrade(handler: web.RequestHandler) -> bool:
    # The proxy names visitors on plain HTTP only; on an upgrade an identity
    # header can only have come from the client, so it must not count.
    upgrade = handler.request.headers.get("Upgrade", "").strip().lower() == "websocket"
    return upgrade or isinstance(handler, WebSocketHandler)


def _not_owner(owner: str, visitor: str) -> str:
    return f"This app belongs to {owner}. You are signed in as {visitor}."


def _origin_is_forwarded_host(handler: web.RequestHandler) -> bool:
    headers = handler.request.headers
    # Jupyter falls back to Referer for GETs without an XSRF token (``/files/``).
    source = headers.get("Origin") or headers.get("Sec-Websocket-Origin") or headers.get("Referer")
    # A proxy chain appends; the last entry is the one our proxy wrote.
    forwarded = (headers.get("X-Forwarded-Host") or "").split(",")[-1].strip().lower()
    if not (source and forwarded):
        return False
    url = urlsplit(source.lower())
    # Browsers omit a default port in Origin; a proxy may spell it out.
    default_port = {"http": ":80", "https": ":443"}.get(url.scheme, "")
    return url.netloc.removesuffix(default_port) == forwarded.removesuffix(default_port)


def _wants_json(handler: web.RequestHandler) -> bool:
    if isinstance(handler, APIHandler):
        return True
    base_url = handler.settings.get("base_url", "/")
    path = handler.request.path
    return any(path.startswith(url_path_join(base_url, prefix, "")) for prefix in ("api", "coda"))


def _refuse(handler: web.RequestHandler, status: int, message: str, owner: str | None, user: str | None) -> NoReturn:
    """End the request here with ``status``: a page for people, JSON for API clients."""
    handler.set_status(status)
    handler.set_header("Cache-Control", "no-store")
    if _wants_json(handler):
        handler.set_header("Content-Type", "application/json")
        body = json.dumps({"message": message, "owner": owner, "user": user})
    else:
        handler.set_header("Content-Type", "text/html; charset=UTF-8")
        body = _page(status, message)
    raise web.Finish(body)


def _page(status: int, message: str) -> str:
    title = "Access denied" if status == 403 else "Temporarily unavailable"
    refresh = f'<meta http-equiv="refresh" content="{RETRY_AFTER_SECONDS}">' if status == 503 else ""
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title>{refresh}'
        "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;"
        "padding:0 1rem;color:#222}h1{font-size:1.4rem}</style></head>"
        f"<body><h1>{status} · {title}</h1><p>{escape(message)}</p></body></html>\n"
    )


def service_principal_removals(apps_mode: bool) -> dict[str, str | None]:
    """Terminal env changes (``None`` removes) hiding the app's service principal."""
    return {name: None for name in SERVICE_PRINCIPAL_VARIABLES} if apps_mode else {}


def server_access_env(serverapp: Any) -> dict[str, str]:
    """What a terminal needs to call this server: its loopback URL and token."""
    env = {"JUPYTER_SERVER_URL": _local_server_url(serverapp)}
    token = serverapp.identity_provider.token
    if token:
        env["JUPYTER_TOKEN"] = token
    return env


# Where a local client reaches a server bound to these addresses ("" is all).
_LOOPBACK_FOR = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]", "localhost": "127.0.0.1"}  # noqa: S104


def _local_server_url(serverapp: Any) -> str:
    host = _LOOPBACK_FOR.get(serverapp.ip) or _loopback_literal(serverapp.ip)
    if serverapp.sock or host is None:
        return str(serverapp.connection_url)
    scheme = "https" if serverapp.certfile else "http"
    return f"{scheme}://{host}:{serverapp.port}{serverapp.base_url}"


def _loopback_literal(ip: str) -> str | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if not address.is_loopback:
        return None
    return f"[{ip}]" if address.version == 6 else ip


def use_owner_access(serverapp: Any, databricks_app: bool | None) -> None:
    """At extension link time, before the server builds its identity provider:
    in Apps mode, install owner-only access unless the user chose other classes."""
    apps_mode = databricks_app if databricks_app is not None else apps_mode_from_env()
    if not apps_mode:
        return
    server_config = serverapp.config.ServerApp
    if "identity_provider_class" not in server_config:
        serverapp.identity_provider_class = CodaIdentityProvider
    if "authorizer_class" not in server_config:
        serverapp.authorizer_class = CodaAuthorizer
    if "trust_xheaders" not in server_config:
        # X-Forwarded-Proto from the proxy makes the login cookie Secure.
        serverapp.trust_xheaders = True
    provider_config = serverapp.config.CodaIdentityProvider
    if databricks_app is not None and "databricks_app" not in provider_config:
        provider_config.databricks_app = databricks_app
