"""Owner-only access as a Databricks App: a real ``jupyter lab`` behind a fake Apps proxy.

The server runs with the arguments ``app.yaml`` uses; the proxy names the
visitor on HTTP requests only, as the real one does, so websockets must
authenticate with the login cookie an earlier HTTP request set.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tornado.httputil import HTTPHeaders

from coda_jupyter.auth.identity import (
    CodaIdentityProvider,
    _origin_is_forwarded_host,
    server_access_env,
    service_principal_removals,
)
from ..browser.lab import Lab, running_lab
from ..fakes.workspace import DEFAULT_APP, DEFAULT_APP_CREATOR, FakeWorkspace
from .conftest import (
    APP_SERVER_ARGS,
    OTHER,
    OWNER,
    OWNER_MIXED_CASE,
    SERVICE_PRINCIPAL_ENV,
    Visitor,
    app_yaml_command,
    apps_server,
    kernel_info_request,
    terminal_input,
)
from .proxy import AppsProxy

ROUTES = ["lab", "api/contents", "api/kernels", "api/terminals", "coda/api/agents"]
WHO = ["owner", "owner-mixed-case", "other", "nobody", "token"]
ALLOWED = {"owner", "owner-mixed-case", "token"}
NOT_SIGNED_IN = "You are not signed in"


def visitor_for(who: str, lab: Lab, proxy: AppsProxy) -> Visitor:
    identity = {"owner": OWNER, "owner-mixed-case": OWNER_MIXED_CASE, "other": OTHER}.get(who)
    return Visitor(proxy.url, identity=identity, token=lab.token if who == "token" else None)


def refusal_text(who: str) -> str:
    if who == "other":
        return f"This app belongs to {OWNER}. You are signed in as {OTHER}."
    return f"This app belongs to {OWNER}. {NOT_SIGNED_IN}"


@pytest.fixture(scope="module")
def terminal(owner_app: tuple[Lab, AppsProxy]) -> Iterator[str]:
    lab, _ = owner_app
    created = lab.api("api/terminals", "POST", b"{}")
    assert isinstance(created, dict)
    yield str(created["name"])


@pytest.fixture(scope="module")
def kernel(owner_app: tuple[Lab, AppsProxy]) -> Iterator[str]:
    lab, _ = owner_app
    created = lab.api("api/kernels", "POST", b"{}")
    assert isinstance(created, dict)
    yield str(created["id"])


# -- the route-by-identity matrix ------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("who", WHO)
def test_http_route_by_identity(owner_app: tuple[Lab, AppsProxy], who: str, route: str) -> None:
    lab, proxy = owner_app
    reply = visitor_for(who, lab, proxy).request(route)
    if who in ALLOWED:
        assert reply.status == 200, reply.text[:500]
        return
    assert reply.status == 403, reply.text[:500]
    if route == "lab":
        assert reply.headers["Content-Type"].startswith("text/html")
        assert refusal_text(who) in reply.text
    else:
        assert reply.headers["Content-Type"].startswith("application/json")
        assert refusal_text(who) in reply.json()["message"]


@pytest.mark.parametrize("who", WHO)
def test_terminal_websocket_by_identity(owner_app: tuple[Lab, AppsProxy], terminal: str, who: str) -> None:
    lab, proxy = owner_app
    visitor = visitor_for(who, lab, proxy)
    visitor.request("lab")  # the page load that precedes every websocket in a browser
    marker = f"ws-{who}-$((6*7))"
    status, text = visitor.websocket(
        f"terminals/websocket/{terminal}", send=[terminal_input(f"echo {marker}")], until=f"ws-{who}-42"
    )
    if who in ALLOWED:
        assert status == 101
        assert f"ws-{who}-42" in text
        assert not any("X-Forwarded-Email" in h for h in proxy.websocket_headers), "the proxy must not name anyone"
    else:
        assert status == 403
        assert text == ""


@pytest.mark.parametrize("who", WHO)
def test_kernel_websocket_by_identity(owner_app: tuple[Lab, AppsProxy], kernel: str, who: str) -> None:
    lab, proxy = owner_app
    visitor = visitor_for(who, lab, proxy)
    visitor.request("lab")
    status, text = visitor.websocket(
        f"api/kernels/{kernel}/channels", send=[kernel_info_request()], until='"kernel_info_reply"'
    )
    if who in ALLOWED:
        assert status == 101
        assert '"kernel_info_reply"' in text
    else:
        assert status == 403


# -- cookies, headers, tokens ----------------------------------------------


def test_owner_gets_login_cookie_and_identity(owner_app: tuple[Lab, AppsProxy]) -> None:
    lab, proxy = owner_app
    owner = visitor_for("owner-mixed-case", lab, proxy)
    assert owner.request("api/me").json()["identity"]["username"] == OWNER
    assert any(name.startswith("username-") for name in owner.cookies), owner.cookies
    # Without the header (the proxy adds none on websockets) the cookie alone is enough.
    owner.identity = None
    assert owner.request("api/me").status == 200


def test_login_cookie_is_secure_behind_https(owner_app: tuple[Lab, AppsProxy]) -> None:
    lab, proxy = owner_app
    proxy.forwarded_proto = "https"
    try:
        cookies = Visitor(proxy.url, OWNER).request("api/me").headers.get_all("Set-Cookie") or []
    finally:
        proxy.forwarded_proto = None
    login = [c for c in cookies if c.startswith("username-")]
    assert login and all("Secure" in c and "HttpOnly" in c for c in login), cookies


def test_other_identity_with_owner_cookie_is_refused(owner_app: tuple[Lab, AppsProxy]) -> None:
    lab, proxy = owner_app
    browser = visitor_for("owner", lab, proxy)
    browser.request("lab")
    login_cookies = [name for name in browser.cookies if name.startswith("username-")]
    assert login_cookies
    browser.identity = OTHER  # someone else signs in to Databricks in the same browser
    reply = browser.request("api/contents")
    assert reply.status == 403
    assert reply.json()["user"] == OTHER
    assert not any(name in browser.cookies for name in login_cookies), "the owner's cookie is cleared"


def test_token_does_not_override_a_non_owner_identity(owner_app: tuple[Lab, AppsProxy]) -> None:
    lab, proxy = owner_app
    reply = Visitor(proxy.url, identity=OTHER, token=lab.token).request("api/contents")
    assert reply.status == 403


def test_wrong_token_is_refused(owner_app: tuple[Lab, AppsProxy]) -> None:
    lab, proxy = owner_app
    assert Visitor(proxy.url, token="not-" + lab.token).request("api/contents").status == 403
    assert Visitor(proxy.url).request(f"api/contents?token=x{lab.token}").status == 403


def test_x_forwarded_user_is_the_fallback(owner_app: tuple[Lab, AppsProxy]) -> None:
    lab, proxy = owner_app
    proxy.identity_headers = ("X-Forwarded-User",)
    try:
        assert visitor_for("owner-mixed-case", lab, proxy).request("api/contents").status == 200
        assert visitor_for("other", lab, proxy).request("api/contents").status == 403
    finally:
        proxy.identity_headers = ("X-Forwarded-Email", "X-Forwarded-User")


def test_health_check_is_the_only_open_route(owner_app: tuple[Lab, AppsProxy]) -> None:
    lab, proxy = owner_app
    nobody = Visitor(proxy.url)
    health = nobody.request("api")
    assert health.status == 200 and set(health.json()) == {"version"}
    closed = [
        "api/status",
        "api/me",
        "api/spec.yaml",
        "login",
        "logout",
        "tree",
        "files/anything.txt",
        "static/favicons/favicon.ico",
        "lab/api/settings",
        "lab/api/workspaces",
        "coda/api/health",
        "no/such/route",
    ]
    statuses = {path: nobody.request(path).status for path in closed}
    assert statuses == dict.fromkeys(closed, 403)
    assert Visitor(proxy.url, identity=OTHER).request("api").status == 200


# -- origins behind the proxy ------------------------------------------------


def test_foreign_origin_websocket_is_refused(owner_app: tuple[Lab, AppsProxy], terminal: str) -> None:
    lab, proxy = owner_app
    owner = visitor_for("owner", lab, proxy)
    owner.request("lab")
    path = f"terminals/websocket/{terminal}"
    assert owner.websocket(path, origin="https://evil.example.com")[0] == 403
    status, _ = owner.websocket(path, send=[terminal_input("echo own-$((1+1))")], until="own-2")
    assert status == 101


@pytest.mark.parametrize(
    ("headers", "same"),
    [
        ({"Origin": "https://app-1.example.com", "X-Forwarded-Host": "app-1.example.com"}, True),
        ({"Origin": "https://App-1.example.com", "X-Forwarded-Host": "app-1.example.com:443"}, True),
        ({"Referer": "https://app-1.example.com/lab", "X-Forwarded-Host": "app-1.example.com"}, True),
        ({"Origin": "https://app-1.example.com", "X-Forwarded-Host": "evil.example.com, app-1.example.com"}, True),
        ({"Origin": "https://app-1.example.com", "X-Forwarded-Host": "app-1.example.com, evil.example.com"}, False),
        ({"Origin": "https://evil.example.com", "X-Forwarded-Host": "app-1.example.com"}, False),
        ({"Origin": "http://app-1.example.com:8443", "X-Forwarded-Host": "app-1.example.com"}, False),
        ({"Origin": "https://app-1.example.com"}, False),
        ({"X-Forwarded-Host": "app-1.example.com"}, False),
    ],
)
def test_origin_matches_forwarded_host(headers: dict[str, str], same: bool) -> None:
    handler = SimpleNamespace(request=SimpleNamespace(headers=HTTPHeaders(headers)))
    assert _origin_is_forwarded_host(handler) is same  # type: ignore[arg-type]


def test_xsrf_protected_post_from_the_app_origin_only(owner_app: tuple[Lab, AppsProxy]) -> None:
    lab, proxy = owner_app
    owner = visitor_for("owner", lab, proxy)
    owner.request("lab")
    xsrf = owner.cookies["_xsrf"]
    body = json.dumps({"type": "file", "ext": ".txt"}).encode()

    def post(origin: str) -> int:
        headers = {"X-XSRFToken": xsrf, "Origin": origin, "Content-Type": "application/json"}
        return owner.request("api/contents", "POST", body, headers).status

    before = set(p.name for p in lab.root.iterdir())
    assert post("https://evil.example.com") in {403, 404}
    assert set(p.name for p in lab.root.iterdir()) == before
    assert post(owner.origin) == 201
    assert len(set(p.name for p in lab.root.iterdir()) - before) == 1


# -- what terminals get ------------------------------------------------------


def test_terminal_can_call_the_server_without_service_principal(
    owner_app: tuple[Lab, AppsProxy], terminal: str
) -> None:
    """Needs CodaApp.terminal_env_changes() to include service_principal_removals()
    and server_access_env(); the terminal is created after the server started."""
    lab, proxy = owner_app
    owner = visitor_for("owner", lab, proxy)
    owner.request("lab")
    xsrf = owner.cookies["_xsrf"]
    created = owner.request(
        "api/terminals", "POST", b"{}", {"X-XSRFToken": xsrf, "Origin": owner.origin, "Content-Type": "application/json"}
    )
    assert created.status == 200, created.text
    name = created.json()["name"]
    probe = (
        'echo "sp=[${DATABRICKS_CLIENT_ID:-none}${DATABRICKS_CLIENT_SECRET:-}]"; '
        'python3 -c "import os,urllib.request as u; '
        "r=u.Request(os.environ['JUPYTER_SERVER_URL'].rstrip('/')+'/api/me',"
        "headers={'Authorization':'token '+os.environ['JUPYTER_TOKEN']}); "
        "print('status', u.urlopen(r).status, 'done')\"; "
        'echo "probe-$((2+3))-end"'
    )
    _, text = owner.websocket(f"terminals/websocket/{name}", send=[terminal_input(probe)], until="probe-5-end")
    assert "sp=[none]" in text
    assert "status 200 done" in text
    assert SERVICE_PRINCIPAL_ENV["DATABRICKS_CLIENT_SECRET"] not in text


def test_terminal_env_functions() -> None:
    assert service_principal_removals(True) == {"DATABRICKS_CLIENT_ID": None, "DATABRICKS_CLIENT_SECRET": None}
    assert service_principal_removals(False) == {}

    class Provider:
        token = "tok"

    class Server:
        sock = ""
        ip = "0.0.0.0"
        port = 8000
        base_url = "/base/"
        certfile = ""
        identity_provider = Provider()
        connection_url = "http://somehost:8000/base/"

    assert server_access_env(Server()) == {"JUPYTER_SERVER_URL": "http://127.0.0.1:8000/base/", "JUPYTER_TOKEN": "tok"}
    Server.ip = "10.1.2.3"
    assert server_access_env(Server())["JUPYTER_SERVER_URL"] == "http://somehost:8000/base/"


def test_apps_mode_never_prints_a_generated_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_APP_NAME", "coda")
    monkeypatch.setenv("APP_OWNER_EMAIL", OWNER)
    monkeypatch.delenv("JUPYTER_TOKEN", raising=False)
    monkeypatch.delenv("JUPYTER_TOKEN_FILE", raising=False)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        provider = CodaIdentityProvider()
        assert provider.apps_mode and len(provider.token) >= 32
        assert not provider.token_generated, "a generated token would be printed in the startup URL"
        assert CodaIdentityProvider(databricks_app=False).apps_mode is False
    finally:
        asyncio.set_event_loop(None)
        loop.close()


# -- owner resolution in the running server ----------------------------------


def _wait_for_status(visitor: Visitor, path: str, wanted: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while True:
        status = visitor.request(path).status
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_owner_from_the_apps_api(tmp_path: Path) -> None:
    with FakeWorkspace() as workspace:
        sp_token = workspace.seed_token(user_name="service-principal-1234")
        env = {"DATABRICKS_APP_NAME": DEFAULT_APP, "DATABRICKS_HOST": workspace.host, "DATABRICKS_TOKEN": sp_token}
        with apps_server(tmp_path, env) as (lab, proxy):
            creator = Visitor(proxy.url, identity=DEFAULT_APP_CREATOR.upper())
            assert _wait_for_status(creator, "api/contents", 200) == 200
            refused = Visitor(proxy.url, identity=OWNER).request("lab")
            assert refused.status == 403
            assert f"This app belongs to {DEFAULT_APP_CREATOR.lower()}. You are signed in as {OWNER}." in refused.text
        calls = workspace.calls(f"/api/2.0/apps/{DEFAULT_APP}", "GET")
        assert calls and all(c.token_id == workspace.token_id_of(sp_token) for c in calls)


def test_unknown_owner_fails_closed_until_resolved(tmp_path: Path) -> None:
    with FakeWorkspace(apps={}) as workspace:
        sp_token = workspace.seed_token(user_name="service-principal-1234")
        env = {"DATABRICKS_APP_NAME": "ghost", "DATABRICKS_HOST": workspace.host, "DATABRICKS_TOKEN": sp_token}
        args = [
            "--CodaIdentityProvider.owner_boot_attempts=1",
            "--CodaIdentityProvider.owner_retry_seconds=0.5",
            "--CodaIdentityProvider.owner_retry_max_seconds=1",
        ]
        with apps_server(tmp_path, env, args) as (lab, proxy):
            owner, other, nobody = Visitor(proxy.url, OWNER), Visitor(proxy.url, OTHER), Visitor(proxy.url)
            page = owner.request("lab")
            assert page.status == 503
            assert "The owner of this app is not known yet" in page.text
            assert page.headers["Retry-After"]
            api = other.request("api/contents")
            assert api.status == 503 and "not known yet" in api.json()["message"]
            assert not any(name.startswith("username-") for name in owner.cookies)
            assert nobody.request("lab").status == 403
            assert owner.websocket("api/kernels/nope/channels")[0] == 403
            # Local processes with the server token keep working meanwhile.
            assert Visitor(proxy.url, token=lab.token).request("api/contents").status == 200

            workspace.apps["ghost"] = OWNER_MIXED_CASE
            assert _wait_for_status(owner, "api/contents", 200) == 200
            assert other.request("api/contents").status == 403


# -- local mode and app.yaml -------------------------------------------------


def test_local_mode_is_stock_token_login(tmp_path: Path) -> None:
    with running_lab(tmp_path, extra_args=APP_SERVER_ARGS) as lab:
        proxy_like = Visitor(lab.url, identity=None)
        spoofed = {"X-Forwarded-Email": OWNER}
        assert proxy_like.request("api/contents", headers=spoofed).status == 403
        redirect = proxy_like.request("lab", headers=spoofed)
        assert redirect.status == 302 and "/login" in redirect.headers["Location"]
        assert proxy_like.request("login").status == 200
        assert Visitor(lab.url, token=lab.token).request("api/contents").status == 200


def test_extension_installs_owner_access_in_apps_mode(tmp_path: Path) -> None:
    """Needs CodaApp._link_jupyter_server_extension to call use_owner_access():
    a plain ``jupyter lab`` in an App must not fall back to stock token login."""
    env = {"DATABRICKS_APP_NAME": "coda", "APP_OWNER_EMAIL": OWNER}
    with running_lab(tmp_path, extra_env=env) as lab, AppsProxy(lab.url) as proxy:
        assert Visitor(proxy.url, OWNER_MIXED_CASE).request("api/me").status == 200
        other = Visitor(proxy.url, OTHER).request("lab")
        assert other.status == 403 and f"You are signed in as {OTHER}" in other.text


def test_app_yaml_runs_lab_as_tested() -> None:
    command = app_yaml_command()
    assert command[:2] == ["jupyter", "lab"]
    for arg in (
        "--no-browser",
        "--allow-root",
        "--ServerApp.identity_provider_class=coda_jupyter.auth.identity.CodaIdentityProvider",
        "--ServerApp.authorizer_class=coda_jupyter.auth.identity.CodaAuthorizer",
        "--ServerApp.trust_xheaders=True",
        "--ServerApp.allow_unauthenticated_access=False",
    ):
        assert arg in command, f"app.yaml command lacks {arg}"
    joined = " ".join(command)
    assert "0.0.0.0" in joined and "$DATABRICKS_APP_PORT" in joined

