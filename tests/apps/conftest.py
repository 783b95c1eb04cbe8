"""Databricks Apps simulation: ``jupyter lab`` started as ``app.yaml`` starts it, behind a fake Apps proxy."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import HTTPRedirectHandler, Request, build_opener

import pytest
import yaml

from ..browser.lab import Lab, running_lab
from ..terminal_io import websocket_text
from .proxy import TEST_IDENTITY_HEADER, AppsProxy

OWNER = "jane.doe@example.com"
OWNER_MIXED_CASE = "Jane.Doe@Example.com"
OTHER = "mallory@example.com"
APP_NAME = "coda"

REPO = Path(__file__).resolve().parents[2]
# running_lab binds its own loopback port, skips the browser and allows root.
_LAB_OWNED = ("--no-browser", "--allow-root", "--ip", "--port")


def app_yaml_command() -> list[str]:
    return [str(arg) for arg in yaml.safe_load((REPO / "app.yaml").read_text(encoding="utf-8"))["command"]]


def app_yaml_env(home: Path) -> dict[str, str]:
    """app.yaml's ``env``, with its HOME (the platform's source folder) moved under the test's folder."""
    entries = yaml.safe_load((REPO / "app.yaml").read_text(encoding="utf-8"))["env"]
    env = {str(entry["name"]): str(entry["value"]) for entry in entries}
    env["HOME"] = str(home)
    return env


# The server is started with app.yaml's own program and arguments, so the
# tests check what gets deployed rather than a copy of it. The program is the
# console script installed next to the interpreter running the tests.
APP_PROGRAM = str(Path(sys.executable).parent / app_yaml_command()[0])
APP_SERVER_ARGS = [arg for arg in app_yaml_command()[1:] if not arg.startswith(_LAB_OWNED)]

# Stand-ins for the app's service principal; they must not reach terminals.
SERVICE_PRINCIPAL_ENV = {
    "DATABRICKS_CLIENT_ID": "sp-client-id-0000",
    "DATABRICKS_CLIENT_SECRET": "sp-secret-do-not-leak",
}


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop that is never made current: these tests run their own loops
    (asyncio.run, the proxy's thread, Playwright's sync API)."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@contextmanager
def apps_server(
    base: Path,
    env: dict[str, str],
    args: list[str] | None = None,
    direct: bool = False,
    server_config: dict[str, object] | None = None,
    builtin_setup: bool = False,
) -> Iterator[tuple[Lab, AppsProxy]]:
    """A lab in Apps mode and the proxy in front of it. ``direct`` starts
    ``jupyter lab`` itself, as a deployment without the launcher would."""
    program = None if direct else [APP_PROGRAM]
    platform_env = {**app_yaml_env(base / "home"), **env}
    with (
        running_lab(
            base,
            extra_env=platform_env,
            extra_args=[*APP_SERVER_ARGS, *(args or [])],
            program=program,
            choose_root=direct,
            server_config=server_config,
            builtin_setup=builtin_setup,
        ) as lab,
        AppsProxy(lab.url) as proxy,
    ):
        yield lab, proxy


@pytest.fixture(scope="module")
def owner_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, AppsProxy]]:
    """Owner from ``APP_OWNER_EMAIL``, as most deployments will set it."""
    env = {"DATABRICKS_APP_NAME": APP_NAME, "APP_OWNER_EMAIL": OWNER_MIXED_CASE, **SERVICE_PRINCIPAL_ENV}
    with apps_server(tmp_path_factory.mktemp("apps-owner"), env) as server:
        yield server


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect (e.g. to a login page) is an answer to assert on


_OPENER = build_opener(_NoRedirect)


@dataclass
class Visitor:
    """One browser-like client of the proxy: an identity (or none), a token, its cookies."""

    base_url: str
    identity: str | None = None
    token: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.identity is not None:
            headers[TEST_IDENTITY_HEADER] = self.identity
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    @property
    def origin(self) -> str:
        return self.base_url.rstrip("/")

    def request(
        self, path: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        request = Request(self.base_url + path, method=method, data=body, headers={**self.headers(), **(headers or {})})
        try:
            with _OPENER.open(request, timeout=60) as response:
                reply = Reply(response.status, response.headers, response.read())
        except HTTPError as err:
            reply = Reply(err.code, err.headers, err.read())
        self._remember(reply.headers)
        return reply

    def _remember(self, headers: Message) -> None:
        for header in headers.get_all("Set-Cookie") or []:
            pair = header.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if value.strip('"'):
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)

    def websocket(
        self,
        path: str,
        send: list[str] | None = None,
        until: str | None = None,
        origin: str | None = None,
        forged_identity: str | None = None,
        timeout: float = 30,
    ) -> tuple[int, str]:
        """Open a websocket through the proxy: (101, text read) or (refusal status, "").

        ``forged_identity`` is sent as the client's own ``X-Forwarded-Email``,
        as any script (not a browser) could on an upgrade."""
        headers = {k: v for k, v in self.headers().items() if k != TEST_IDENTITY_HEADER}
        headers["Origin"] = origin or self.origin
        if forged_identity is not None:
            headers["X-Forwarded-Email"] = forged_identity
        url = "ws" + self.base_url.removeprefix("http") + path
        return asyncio.run(websocket_text(url, headers, send or [], until, timeout))


def kernel_info_request() -> str:
    """A kernel message in Jupyter's JSON websocket protocol (no subprotocol)."""
    return json.dumps(
        {
            "header": {
                "msg_id": uuid.uuid4().hex,
                "session": uuid.uuid4().hex,
                "username": "test",
                "msg_type": "kernel_info_request",
                "version": "5.3",
                "date": "2026-01-01T00:00:00Z",
            },
            "parent_header": {},
            "metadata": {},
            "content": {},
            "channel": "shell",
            "buffers": [],
        }
    )
