"""Owner-only access as a Databricks App: a real ``jupyter lab`` behind a fake Apps proxy.

The server runs with the arguments ``app.yaml`` uses; the proxy names the
visitor on HTTP requests only, as the real one does, so websockets must
authenticate with the login cookie an earlier HTTP request set.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
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
from coda_jupyter.handlers import ROUTES as CODA_ROUTES
from coda_jupyter.handlers.base import CodaAPIHandler
from coda_jupyter.handlers.mcp import McpHandler

from ..browser.lab import Lab, running_lab
from ..fakes.workspace import FakeWorkspace
from ..terminal_io import terminal_input
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
)
from .proxy import AppsProxy

WHO = ["owner", "owner-mixed-case", "other", "nobody", "token"]
ALLOWED = {"owner", "owner-mixed-case", "token"}
# On websocket upgrades also a client naming the owner in its own
# X-Forwarded-Email, which a proxy passing it through would forward.
WEBSOCKET_WHO = [*WHO, "forged"]
NOT_SIGNED_IN = "You are not signed in"
SAFE_METHODS = {"GET", "HEAD"}


def visitor_for(who: str, lab: Lab, proxy: AppsProxy) -> Visitor:
    if who == "token":
        # A process inside the app (an agent, coda-bridge): it has the server
        # token and reaches the port directly; the token never crosses the proxy.
        return Visitor(lab.url, token=lab.token)
    identity = {"owner": OWNER, "owner-mixed-case": OWNER_MIXED_CASE, "other": OTHER}.get(who)
    return Visitor(proxy.url, identity=identity)


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


@dataclass(frozen=True)
class Sample:
    """One request to one route: what a client would send."""

    method: str
    path: str
    body: bytes | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


# Values for a route's path parameters that fit the usual id patterns and name
# nothing that exists, so the owner's request reaches the handler and fails
# there (404 or 400) instead of acting.
PLACEHOLDERS = ("nosuchthing", "000000000000", "00000000-0000-0000-0000-000000000000")
_PATH_PARAMETER = re.compile(r"\((?:\?P<\w+>)?([^()]*)\)")
# Every coda POST handler reads a JSON object, so an array is refused with 400
# before anything happens; the MCP endpoint gets a real JSON-RPC request.
_NOT_AN_OBJECT = b"[]"
MCP_PING = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()
_VERBS = ("get", "post", "put", "patch", "delete")


def sample_path(pattern: str) -> str:
    def fill(parameter: re.Match[str]) -> str:
        for value in PLACEHOLDERS:
            if re.fullmatch(parameter.group(1), value):
                return value
        raise AssertionError(f"no placeholder fits {parameter.group(0)} in {pattern}: add one to PLACEHOLDERS")

    path = re.sub(r"\\(.)", r"\1", _PATH_PARAMETER.sub(fill, pattern))  # "\." is a literal dot
    assert re.fullmatch(pattern, path), f"{path} does not match {pattern}: give the route a sample by hand"
    return path.lstrip("/")


def coda_samples() -> list[Sample]:
    """A request for every verb of every route the extension registers."""
    samples = []
    for pattern, handler in CODA_ROUTES:
        path = sample_path(pattern)
        for verb in _VERBS:
            if getattr(handler, verb) is getattr(CodaAPIHandler, verb):
                continue  # not implemented: tornado's 405
            method = verb.upper()
            body = None
            if method not in {"GET", "DELETE"}:
                body = MCP_PING if handler is McpHandler else _NOT_AN_OBJECT
            samples.append(Sample(method, path, body))
    return samples


HTTP_SAMPLES = [
    Sample("GET", "lab"),
    Sample("GET", "api/contents"),
    Sample("GET", "api/kernels"),
    Sample("GET", "api/terminals"),
    *coda_samples(),
]


def test_every_coda_route_is_in_the_matrix() -> None:
    patterns = {pattern for pattern, _ in CODA_ROUTES}
    matched = {p for p in patterns if any(re.fullmatch(p, "/" + s.path) for s in HTTP_SAMPLES)}
    assert matched == patterns
    assert any(s.path == "coda/mcp" and s.method == "POST" for s in HTTP_SAMPLES)


@pytest.mark.parametrize("sample", HTTP_SAMPLES, ids=str)
@pytest.mark.parametrize("who", WHO)
def test_http_route_by_identity(owner_app: tuple[Lab, AppsProxy], who: str, sample: Sample) -> None:
    lab, proxy = owner_app
    visitor = visitor_for(who, lab, proxy)
    headers: dict[str, str] = {}
    if sample.method not in SAFE_METHODS:
        visitor.request("lab")  # a browser's page load, which hands out the _xsrf cookie it sends back
        headers = {"X-XSRFToken": visitor.cookies.get("_xsrf", ""), "Origin": visitor.origin}
        headers["Content-Type"] = "application/json"
    reply = visitor.request(sample.path, sample.method, sample.body, headers)
    if who in ALLOWED:
        # Past authentication: the handler's own answer (200, or 400/404/405 for the samples).
        assert reply.status not in {401, 403} and reply.status < 500, (reply.status, reply.text[:500])
        return
    assert reply.status == 403, reply.text[:500]
    if sample.path == "lab":
        assert reply.headers["Content-Type"].startswith("text/html")
        assert refusal_text(who) in reply.text
    else:
        assert reply.headers["Content-Type"].startswith("application/json")
        assert refusal_text(who) in reply.json()["message"]


@dataclass(frozen=True)
class Socket:
    """A websocket route: its path ({terminal} and {kernel} filled in), what
    to send once open (fresh messages each time: a kernel answers a message id
    only once) and what must come back."""

    path: str
    send: Callable[[], list[str]] = list
    until: str | None = None


# Keyed by handler class: test_every_websocket_route_is_in_the_matrix fails
# when the server registers a websocket that has no entry here.
WEBSOCKETS = {
    "jupyter_server_terminals.handlers.TermSocket": Socket(
        "terminals/websocket/{terminal}", lambda: [terminal_input("echo ws-$((6*7))")], "ws-42"
    ),
    "jupyter_server.services.kernels.websocket.KernelWebsocketHandler": Socket(
        "api/kernels/{kernel}/channels", lambda: [kernel_info_request()], '"kernel_info_reply"'
    ),
    "jupyter_server.services.events.handlers.SubscribeWebsocket": Socket("api/events/subscribe"),
    "jupyter_lsp.handlers.LanguageServerWebSocketHandler": Socket("lsp/ws/pylsp"),
}

WEBSOCKET_PROBE = textwrap.dedent(
    """
    import json, sys
    from jupyter_server.serverapp import ServerApp
    from tornado.websocket import WebSocketHandler

    app = ServerApp(root_dir=sys.argv[1], allow_root=True, open_browser=False)
    app.initialize(argv=[])

    def handlers(router):
        for rule in router.rules:
            target = rule.target
            if isinstance(target, type):
                yield target
            else:
                yield from handlers(target) if hasattr(target, "rules") else ()

    print(json.dumps(sorted({
        f"{h.__module__}.{h.__qualname__}"
        for h in handlers(app.web_app.default_router) if issubclass(h, WebSocketHandler)
    })))
    """
)


def test_every_websocket_route_is_in_the_matrix(tmp_path: Path) -> None:
    """The same server extensions as the lab under test (found from the
    environment's config), in a subprocess to keep ServerApp out of pytest."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_")}
    env.update(HOME=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    probe = subprocess.run(
        [sys.executable, "-c", WEBSOCKET_PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
        env=env,
    )
    registered = json.loads(probe.stdout.strip().splitlines()[-1])
    assert sorted(WEBSOCKETS) == registered


@pytest.mark.parametrize("route", sorted(WEBSOCKETS), ids=lambda name: name.rsplit(".", 1)[-1])
@pytest.mark.parametrize("who", WEBSOCKET_WHO)
def test_websocket_by_identity(
    owner_app: tuple[Lab, AppsProxy], terminal: str, kernel: str, who: str, route: str
) -> None:
    lab, proxy = owner_app
    socket = WEBSOCKETS[route]
    path = socket.path.format(terminal=terminal, kernel=kernel)
    if who == "forged":
        proxy.client_identity_on_upgrade = True
        try:
            status, text = Visitor(proxy.url).websocket(
                path, socket.send(), socket.until, forged_identity=OWNER_MIXED_CASE
            )
        finally:
            proxy.client_identity_on_upgrade = False
        assert proxy.websocket_headers[-1].get("X-Forwarded-Email") == OWNER_MIXED_CASE, "the forgery got through"
        assert (status, text) == (403, "")
        return
    visitor = visitor_for(who, lab, proxy)
    visitor.request("lab")  # the page load that precedes every websocket in a browser
    status, text = visitor.websocket(path, socket.send(), socket.until)
    if who in ALLOWED:
        assert status == 101
        assert socket.until is None or socket.until in text
        assert "X-Forwarded-Email" not in proxy.websocket_headers[-1], "the proxy must not name anyone"
    else:
        assert (status, text) == (403, "")


@pytest.mark.parametrize("who", WHO)
def test_terminal_over_http_by_identity(owner_app: tuple[Lab, AppsProxy], terminal: str, who: str) -> None:
    """The HTTP transport is the terminal websocket by other means: the same
    people get in, and its writes need the _xsrf token like every coda POST."""
    lab, proxy = owner_app
    visitor = visitor_for(who, lab, proxy)
    visitor.request("lab")
    headers = {"X-XSRFToken": visitor.cookies.get("_xsrf", ""), "Origin": visitor.origin}
    headers["Content-Type"] = "application/json"
    opened = visitor.request(f"coda/api/terminals/{terminal}/sessions", "POST", b"{}", headers)
    if who not in ALLOWED:
        assert opened.status == 403, opened.text[:500]
        assert refusal_text(who) in opened.json()["message"]
        return
    assert opened.status == 201, opened.text[:500]
    session = f"coda/api/terminals/{terminal}/sessions/{opened.json()['session']}"
    typed = json.dumps({"seq": 0, "messages": [["stdin", "echo http-$((6*7))\r"]]}).encode()
    if who != "token":
        no_xsrf = visitor.request(session + "/input", "POST", typed, {"Content-Type": "application/json"})
        assert no_xsrf.status == 403, no_xsrf.text[:500]
    assert visitor.request(session + "/input", "POST", typed, headers).status == 204
    text, since = "", 0
    deadline = time.monotonic() + 30
    while "http-42" not in text:
        assert time.monotonic() < deadline, text[-2000:]
        polled = visitor.request(f"{session}/output?since={since}&wait=2").json()
        since = polled["next"]
        text += "".join(m[1] for m in polled["messages"] if m[0] == "stdout")
    assert visitor.request(session, "DELETE", None, headers).status == 204


def test_forged_identity_on_a_direct_upgrade_is_refused(
    owner_app: tuple[Lab, AppsProxy], terminal: str, kernel: str
) -> None:
    """Straight to the server's port, with no proxy in between."""
    lab, proxy = owner_app
    for path in (f"terminals/websocket/{terminal}", f"api/kernels/{kernel}/channels"):
        assert Visitor(lab.url).websocket(path, forged_identity=OWNER)[0] == 403
    # The owner's cookie still opens them: on an upgrade the header is ignored, whoever it names.
    owner = visitor_for("owner", lab, proxy)
    owner.request("lab")
    direct = Visitor(lab.url, cookies=owner.cookies)
    status, _ = direct.websocket(
        f"terminals/websocket/{terminal}", [terminal_input("echo own-$((2+2))")], "own-4", forged_identity=OTHER
    )
    assert status == 101


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
    lab, _ = owner_app
    # Only a local process can send both (the proxy drops Authorization).
    reply = Visitor(lab.url, token=lab.token).request("api/contents", headers={"X-Forwarded-Email": OTHER})
    assert reply.status == 403


def test_wrong_token_is_refused(owner_app: tuple[Lab, AppsProxy]) -> None:
    lab, proxy = owner_app
    assert Visitor(lab.url, token="not-" + lab.token).request("api/contents").status == 403
    assert Visitor(proxy.url).request(f"api/contents?token=x{lab.token}").status == 403


def test_jupyter_token_does_not_cross_the_proxy(owner_app: tuple[Lab, AppsProxy]) -> None:
    lab, proxy = owner_app
    assert Visitor(lab.url, token=lab.token).request("api/contents").status == 200
    assert Visitor(proxy.url, token=lab.token).request("api/contents").status == 403


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
    """Needs AgentTerminals.environment() to include service_principal_removals()
    and server_access_env(); the terminal is created after the server started."""
    lab, proxy = owner_app
    owner = visitor_for("owner", lab, proxy)
    owner.request("lab")
    xsrf = owner.cookies["_xsrf"]
    created = owner.request(
        "api/terminals",
        "POST",
        b"{}",
        {"X-XSRFToken": xsrf, "Origin": owner.origin, "Content-Type": "application/json"},
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


def test_unknown_owner_fails_closed_until_resolved(tmp_path: Path) -> None:
    """Started without the launcher (which waits for the owner before the
    server starts), the server itself keeps asking in the background."""
    with FakeWorkspace(apps={}) as workspace:
        sp_token = workspace.seed_token(user_name="service-principal-1234")
        env = {"DATABRICKS_APP_NAME": "ghost", "DATABRICKS_HOST": workspace.host, "DATABRICKS_TOKEN": sp_token}
        args = [
            "--CodaIdentityProvider.owner_boot_attempts=1",
            "--CodaIdentityProvider.owner_retry_seconds=0.5",
            "--CodaIdentityProvider.owner_retry_max_seconds=1",
        ]
        with apps_server(tmp_path, env, args, direct=True) as (lab, proxy):
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
            assert Visitor(lab.url, token=lab.token).request("api/contents").status == 200

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
    scripts = entry_points(group="console_scripts", name=command[0])
    assert [s.value for s in scripts] == ["coda_jupyter.auth.launch:main"], "app.yaml must start the launcher"
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
