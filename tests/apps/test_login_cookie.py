"""The login cookie in Apps mode: short-lived, checked on the server, void after a restart.

The cookie is what lets websockets in (the proxy names nobody on upgrades), so
a copied cookie is as good as the owner's session until it expires. Expiry is
the timestamp tornado signs into the cookie, checked on every request: a
browser's own expiry date would not stop a copy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from tornado.web import create_signed_value, decode_signed_value

from ..browser.lab import Lab
from ..terminal_io import terminal_input
from .conftest import APP_NAME, OWNER, OWNER_MIXED_CASE, Reply, Visitor, apps_server
from .proxy import AppsProxy

# Configured explicitly so the test can sign cookies as the server does.
COOKIE_SECRET = "test-cookie-secret-0123456789abcdef"
HOUR = 3600
DEFAULT_LIFETIME_HOURS = 24
NOT_SIGNED_IN = "You are not signed in"
OWNER_ENV = {"DATABRICKS_APP_NAME": APP_NAME, "APP_OWNER_EMAIL": OWNER_MIXED_CASE}


@pytest.fixture(scope="module")
def known_secret_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, AppsProxy]]:
    args = [f"--ServerApp.cookie_secret={COOKIE_SECRET}"]
    with apps_server(tmp_path_factory.mktemp("apps-cookie"), OWNER_ENV, args) as server:
        yield server


def signed_in_owner(proxy: AppsProxy) -> tuple[Visitor, str]:
    """The owner after a page load, and the name of their login cookie."""
    owner = Visitor(proxy.url, OWNER)
    assert owner.request("lab").status == 200
    names = [name for name in owner.cookies if name.startswith("username-")]
    assert len(names) == 1, owner.cookies
    return owner, names[0]


def signed_at(name: str, cookie: str, seconds_ago: float) -> str:
    """The same login cookie, as if the server had issued it ``seconds_ago``."""
    secret = COOKIE_SECRET.encode()
    payload = decode_signed_value(secret, name, cookie.strip('"'), max_age_days=1)
    assert payload is not None, "the test's secret is not the server's"
    return create_signed_value(secret, name, payload, clock=lambda: time.time() - seconds_ago).decode()


def login_cookie_lifetime(reply: Reply, name: str) -> float:
    """Seconds between the reply's Date and the Expires of its login cookie."""
    for header in reply.headers.get_all("Set-Cookie") or []:
        cookie = SimpleCookie(header)
        if name in cookie:
            expires = parsedate_to_datetime(cookie[name]["expires"])
            return (expires - parsedate_to_datetime(reply.headers["Date"])).total_seconds()
    raise AssertionError(f"no {name} in {reply.headers.get_all('Set-Cookie')}")


def sets_login_cookie(reply: Reply, name: str) -> bool:
    return any(header.startswith(f"{name}=") for header in reply.headers.get_all("Set-Cookie") or [])


def test_an_expired_cookie_is_refused_by_the_server(known_secret_app: tuple[Lab, AppsProxy]) -> None:
    lab, proxy = known_secret_app
    owner, name = signed_in_owner(proxy)
    terminal = lab.api("api/terminals", "POST", b"{}")
    assert isinstance(terminal, dict)
    path = f"terminals/websocket/{terminal['name']}"

    recent = Visitor(proxy.url, cookies={name: signed_at(name, owner.cookies[name], 60)})
    assert recent.request("api/me").status == 200
    status, _ = recent.websocket(path, [terminal_input("echo fresh-$((3*3))")], "fresh-9")
    assert status == 101

    stale = Visitor(proxy.url, cookies={name: signed_at(name, owner.cookies[name], DEFAULT_LIFETIME_HOURS * HOUR + 60)})
    refused = stale.request("api/me")
    assert refused.status == 403 and NOT_SIGNED_IN in refused.json()["message"]
    assert stale.websocket(path) == (403, "")


def test_the_browser_is_told_the_same_lifetime(known_secret_app: tuple[Lab, AppsProxy]) -> None:
    _, proxy = known_secret_app
    reply = Visitor(proxy.url, OWNER).request("api/me")
    name = next(n for n in SimpleCookie(reply.headers["Set-Cookie"]) if n.startswith("username-"))
    # Expires is whole seconds: allow one either way.
    assert abs(login_cookie_lifetime(reply, name) - DEFAULT_LIFETIME_HOURS * HOUR) <= 1


def test_the_cookie_is_renewed_after_half_its_lifetime(known_secret_app: tuple[Lab, AppsProxy]) -> None:
    """A tab left open keeps its websockets: any page or API request in the
    second half of the cookie's life (the proxy names the owner on those)
    brings a new one."""
    _, proxy = known_secret_app
    owner, name = signed_in_owner(proxy)
    assert not sets_login_cookie(owner.request("api/me"), name), "a young cookie is kept"
    owner.cookies[name] = signed_at(name, owner.cookies[name], DEFAULT_LIFETIME_HOURS * HOUR / 2 + 60)
    assert sets_login_cookie(owner.request("api/me"), name)


def test_a_restart_signs_everyone_out(tmp_path: Path) -> None:
    """Same home, same runtime directory: Jupyter would reuse the cookie secret
    it saved there. A fixed cookie name stands in for the same host and port.
    The second start also sets a shorter lifetime, which the new cookie carries."""
    args = ["--CodaIdentityProvider.cookie_name=coda-login"]
    with apps_server(tmp_path, OWNER_ENV, args) as (_, proxy):
        owner = Visitor(proxy.url, OWNER)
        assert owner.request("lab").status == 200
        old_cookie = owner.cookies["coda-login"]
        assert Visitor(proxy.url, cookies={"coda-login": old_cookie}).request("api/me").status == 200

    shorter = [*args, "--CodaIdentityProvider.login_cookie_max_age_hours=1"]
    with apps_server(tmp_path, OWNER_ENV, shorter) as (_, proxy):
        refused = Visitor(proxy.url, cookies={"coda-login": old_cookie}).request("api/me")
        assert refused.status == 403 and NOT_SIGNED_IN in refused.json()["message"]
        signed_in = Visitor(proxy.url, OWNER).request("api/me")
        assert signed_in.status == 200
        assert abs(login_cookie_lifetime(signed_in, "coda-login") - HOUR) <= 1
