"""A real JupyterHub, with the real configurable-http-proxy from npm, spawning coda-jupyter servers.

Nothing here stands in for JupyterHub: the hub is the ``jupyterhub`` package
run as an admin runs it (``jupyterhub -f jupyterhub_config.py``), its proxy is
the npm ``configurable-http-proxy`` (``make test`` installs it under
``.make/chp``), and each user's server is ``jupyterhub-singleuser`` with
coda-jupyter enabled the way its wheel enables it. Two test-only choices,
both shipped by JupyterHub for tests:

- ``SimpleLocalProcessSpawner`` runs every user's server as the current
  (root) user with its own HOME under the test's folder, so no system user is
  created. JupyterHub documents it as offering no OS-level isolation between
  users; isolation is checked here where the hub provides it, at HTTP.
- ``SharedPasswordAuthenticator`` (the successor of ``DummyAuthenticator``'s
  deprecated password) logs ``alice`` and ``bob`` in with one password.

The tests talk to the hub from the outside: HTTP through the proxy with each
user's hub token, or with the OAuth cookies a browser gets by logging in.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from ..browser.lab import TEST_SETTING_OVERRIDES, free_port
from ..terminal_io import websocket_text

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
USERS = ("alice", "bob")
# What the single-user servers are given the admin's way: c.Spawner.args. The tests
# run as root, which Jupyter refuses without --allow-root.
ADMIN_ARGS = ["--allow-root", "--SetupService.builtin=False"]


def chp_command() -> str:
    """The npm configurable-http-proxy: CODA_CHP, else the one `make test` installs, else PATH."""
    candidates = [
        os.environ.get("CODA_CHP"),
        str(REPO / ".make" / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"),
        shutil.which("configurable-http-proxy"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise RuntimeError(
        "configurable-http-proxy (npm) is not installed: run `make .make/chp` (make test does) or set CODA_CHP"
    )


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes
    url: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect (to the hub's login, an OAuth step) is an answer to assert on


_PLAIN = urllib.request.build_opener(_NoRedirect)


def request(
    url: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    opener: urllib.request.OpenerDirector = _PLAIN,
) -> Reply:
    req = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with opener.open(req, timeout=60) as response:
            return Reply(response.status, response.headers, response.read(), response.url)
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.headers, err.read(), url)


@dataclass
class Hub:
    url: str  # the public URL (the proxy), ending in "/"
    admin_token: str  # a hub service's token with admin rights on users and servers
    base: Path
    process: subprocess.Popen[bytes]
    log: Path

    def home(self, user: str) -> Path:
        return self.base / "homes" / user

    def api(self, path: str, method: str = "GET", body: Any = None) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        return request(f"{self.url}hub/api/{path}", method, data, {"Authorization": f"token {self.admin_token}"})

    def server(self, user: str) -> dict[str, Any] | None:
        """The user's default server as the hub's REST API reports it (None when stopped)."""
        reply = self.api(f"users/{user}")
        assert reply.status == 200, reply.text
        servers: dict[str, Any] = reply.json().get("servers", {})
        return servers.get("")

    def start_server(self, user: str, timeout: float = 90) -> None:
        reply = self.api(f"users/{user}/server", "POST")
        assert reply.status in (201, 202), f"starting {user}'s server: {reply.status} {reply.text}"
        deadline = time.monotonic() + timeout
        while not (self.server(user) or {}).get("ready"):
            if time.monotonic() > deadline:
                raise AssertionError(f"{user}'s server never became ready:\n{self.log_tail()}")
            time.sleep(0.25)

    def new_token(self, user: str) -> str:
        """A hub API token of ``user``'s own (it inherits their permissions, as tokens users create do)."""
        reply = self.api(f"users/{user}/tokens", "POST", {"note": "coda-jupyter hub test"})
        assert reply.status in (200, 201), reply.text
        return str(reply.json()["token"])

    def user_url(self, user: str, path: str = "") -> str:
        return f"{self.url}user/{user}/{path}"

    def log_tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def as_user(
    token: str, url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> Reply:
    """A request with a user's hub token, as a script or an MCP client outside the hub sends it."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    all_headers = {
        "Authorization": f"token {token}",
        **({"Content-Type": "application/json"} if data else {}),
        **(headers or {}),
    }
    return request(url, method, data, all_headers)


@dataclass
class BrowserSession:
    """A cookie jar that logs in at the hub's form and follows redirects, as a browser does."""

    hub: Hub
    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, url: str, headers: dict[str, str] | None = None) -> Reply:
        return request(url, headers=headers, opener=self.opener)

    def login(self, user: str, password: str) -> Reply:
        page = self.get(f"{self.hub.url}hub/login")
        assert page.status == 200, page.text
        match = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text)
        assert match, "the hub's login form has no _xsrf field"
        form = urllib.parse.urlencode({"username": user, "password": password, "_xsrf": match.group(1)}).encode()
        return request(
            f"{self.hub.url}hub/login",
            "POST",
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
            opener=self.opener,
        )

    def cookie(self, name: str, path_prefix: str) -> str | None:
        for cookie in self.jar:
            if cookie.name == name and cookie.path.startswith(path_prefix):
                return cookie.value
        return None


def websocket(
    url: str, token: str, send: list[str] | None = None, until: str | None = None, timeout: float = 30
) -> tuple[int, str]:
    """Open a websocket with a user's hub token: (101, text read until ``until``) or (refusal status, "")."""
    return asyncio.run(
        websocket_text(url.replace("http", "ws", 1), {"Authorization": f"token {token}"}, send or [], until, timeout)
    )


def _admin_config(base: Path, stubs: dict[str, str]) -> Path:
    """A site-wide Jupyter config folder, as an admin ships one in an image (on JUPYTER_CONFIG_PATH)."""
    folder = base / "site-config"
    bin_dir = base / "site-bin"
    (folder / "labconfig").mkdir(parents=True)
    bin_dir.mkdir()
    for name, script in stubs.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + script + "\n", encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    server_config = {
        "CodaApp": {"agents": {"stubby": {"executable": "stubby-agent", "label": "Stubby"}}},
        "AgentTerminals": {"extra_path": [str(bin_dir)]},
        "TaskRunner": {"default_agent": "stubby", "kill_grace_s": 1.0},
    }
    (folder / "jupyter_server_config.json").write_text(json.dumps(server_config), encoding="utf-8")
    (folder / "labconfig" / "default_setting_overrides.json").write_text(
        json.dumps(TEST_SETTING_OVERRIDES), encoding="utf-8"
    )
    return folder


def _hub_config(
    base: Path,
    port: int,
    admin_token: str,
    password: str,
    environment: dict[str, str],
    args: list[str],
    culler: list[str] | None,
) -> str:
    services: list[dict[str, Any]] = [{"name": "coda-test", "api_token": admin_token}]
    roles: list[dict[str, Any]] = [
        {"name": "coda-test", "scopes": ["admin:users", "admin:servers", "tokens"], "services": ["coda-test"]}
    ]
    if culler is not None:
        services.append({"name": "idle-culler", "command": culler})
        roles.append(
            {
                "name": "idle-culler",
                "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
                "services": ["idle-culler"],
            }
        )
    settings = {
        "bind_url": f"http://127.0.0.1:{port}",
        "hub_ip": "127.0.0.1",
        "hub_port": free_port(),
        "proxy_api_url": f"http://127.0.0.1:{free_port()}",
        "chp": chp_command(),
        "db_url": f"sqlite:///{base / 'hub.sqlite'}",
        "cookie_secret_file": str(base / "cookie_secret"),
        "password": password,
        "users": list(USERS),
        "homes": str(base / "homes") + "/{username}",
        "singleuser": str(VENV_BIN / "jupyterhub-singleuser"),
        "environment": environment,
        "args": args,
        "services": services,
        "roles": roles,
    }
    # The config is Python, as every hub's is; values go in as JSON literals.
    return f"""
import json
s = json.loads({json.dumps(json.dumps(settings))})
c = get_config()  # noqa: F821
c.JupyterHub.bind_url = s["bind_url"]
c.JupyterHub.hub_ip = s["hub_ip"]
c.JupyterHub.hub_port = s["hub_port"]
c.ConfigurableHTTPProxy.api_url = s["proxy_api_url"]
c.ConfigurableHTTPProxy.command = [s["chp"]]
c.JupyterHub.db_url = s["db_url"]
c.JupyterHub.cookie_secret_file = s["cookie_secret_file"]
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = s["password"]
c.Authenticator.allowed_users = set(s["users"])
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = s["homes"]
c.Spawner.cmd = [s["singleuser"]]
c.Spawner.default_url = "/lab"
c.Spawner.environment = s["environment"]
c.Spawner.args = s["args"]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.JupyterHub.services = s["services"]
c.JupyterHub.load_roles = s["roles"]
c.JupyterHub.last_activity_interval = 2
"""


@contextmanager
def running_hub(
    base: Path,
    stubs: dict[str, str],
    environment: dict[str, str] | None = None,
    args: list[str] | None = None,
    culler: list[str] | None = None,
    timeout: float = 90,
) -> Iterator[tuple[Hub, str]]:
    """Start a hub on a free loopback port; yield it and the users' password; stop it and every server."""
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    admin_token = secrets.token_hex(24)
    password = secrets.token_urlsafe(16)
    site_config = _admin_config(base, stubs)
    user_env = {
        "JUPYTER_CONFIG_PATH": str(site_config),
        **(environment or {}),
    }
    config = base / "jupyterhub_config.py"
    config.write_text(_hub_config(base, port, admin_token, password, user_env, [*ADMIN_ARGS, *(args or [])], culler))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "DATABRICKS_", "CONFIGPROXY_"))},
        "HOME": str(base),
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    }
    log = base / "hub.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            env=env,
            cwd=base,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    hub = Hub(f"http://127.0.0.1:{port}/", admin_token, base, process, log)
    try:
        _wait_for_hub(hub, timeout)
        yield hub, password
    finally:
        _stop(hub)


def _wait_for_hub(hub: Hub, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if hub.process.poll() is not None:
            raise RuntimeError(f"jupyterhub exited early:\n{hub.log_tail()}")
        with contextlib.suppress(OSError):
            if hub.api("").status == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"jupyterhub not ready:\n{hub.log_tail()}")
        time.sleep(0.2)


def _stop(hub: Hub) -> None:
    """SIGTERM lets the hub stop every user's server and its proxy; leftovers of this test are killed."""
    if hub.process.poll() is None:
        os.killpg(hub.process.pid, signal.SIGTERM)
        try:
            hub.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(hub.process.pid, signal.SIGKILL)
            hub.process.wait(timeout=5)
    for pid in _processes_under(hub.base):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _processes_under(base: Path) -> list[int]:
    """Processes whose working folder is inside ``base``: the servers and terminals this hub started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if Path(os.readlink(entry / "cwd")).is_relative_to(base):
                found.append(int(entry.name))
    return found
