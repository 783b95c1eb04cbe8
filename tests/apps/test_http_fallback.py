"""Terminals behind a proxy that refuses websocket upgrades: JupyterLab in Chromium
switches them to the HTTP transport by itself, and they keep every feature.

The stand-in Apps proxy is told to refuse upgrades (``refuse_websockets``), as
a corporate proxy between the browser and the app may; nothing else changes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from ..browser.conftest import browser  # noqa: F401 - module-scoped Chromium fixture
from ..browser.lab import Lab
from ..browser.test_terminal_features import focus, open_terminal, run, wait_for_text
from .conftest import APP_NAME, OWNER, SERVICE_PRINCIPAL_ENV, apps_server
from .pages import apps_page
from .proxy import AppsProxy

pytestmark = pytest.mark.browser

TERMINAL_ROUTES = "/coda/api/terminals/"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, AppsProxy]]:
    env = {"DATABRICKS_APP_NAME": APP_NAME, "APP_OWNER_EMAIL": OWNER, **SERVICE_PRINCIPAL_ENV}
    base = tmp_path_factory.mktemp("http-fallback")
    with apps_server(base, env, args=["--LabApp.expose_app_in_browser=True"]) as (lab, proxy):
        proxy.identity = OWNER
        proxy.refuse_websockets = True
        yield lab, proxy


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    yield from apps_page(browser)


def load_lab(page: Any, proxy: AppsProxy) -> None:
    response = page.goto(proxy.url + "lab")
    assert response is not None and response.status == 200
    page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('coda-terminal:voice')")
    # Tabs of earlier tests come back first, so a terminal opened next is told apart from them.
    page.evaluate("() => window.jupyterapp.restored.then(() => true)")


def assert_over_http(page: Any, term_id: str) -> None:
    page.wait_for_function("(id) => document.getElementById(id).dataset.codaTransport === 'http'", arg=term_id)
    badge = page.locator(f"#{term_id} .coda-TerminalTransport")
    assert badge.is_visible() and badge.text_content() == "HTTP"


def test_a_terminal_works_over_http_when_the_proxy_refuses_websockets(page: Any, app: tuple[Lab, AppsProxy]) -> None:
    _, proxy = app
    upgrades_before = len(proxy.websocket_headers)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    load_lab(page, proxy)
    term_id = open_terminal(page)  # waits for the shell's prompt
    assert_over_http(page, term_id)

    run(page, term_id, "echo hello-$((6*7))")
    wait_for_text(page, term_id, "hello-42")

    # A flood stays interruptible: flow control works over HTTP too.
    run(page, term_id, "yes")
    time.sleep(3)  # the flood runs for a while; nothing is timed
    focus(page, term_id)
    page.keyboard.press("Control+c")
    run(page, term_id, "echo done-$((40+2))")
    wait_for_text(page, term_id, "done-42")

    assert len(proxy.websocket_headers) == upgrades_before, "no websocket reached the server"
    assert any(TERMINAL_ROUTES in url and url.split("?")[0].endswith("/output") for url in requests)


def test_a_reload_over_http_types_nothing_into_the_running_program(page: Any, app: tuple[Lab, AppsProxy]) -> None:
    """The replay after a reload holds terminal queries; over HTTP too, their answers must not reach the program."""
    lab, proxy = app
    received = lab.home / "http-reattach-received.bin"
    load_lab(page, proxy)
    term_id = open_terminal(page)
    assert_over_http(page, term_id)
    run(
        page,
        term_id,
        "printf '\\e[c\\e[6n\\e]11;?\\a'; echo queries-sent; stty raw -echo; timeout 120 cat > " + str(received),
    )
    wait_for_text(page, term_id, "queries-sent")
    deadline = time.monotonic() + 10
    while (not received.exists() or not received.read_bytes()) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    page.wait_for_timeout(1000)
    live = received.read_bytes()
    assert b"c" in live, f"xterm never answered the live queries: {live!r}"

    load_lab(page, proxy)
    restored = page.locator(".jp-Terminal", has_text="queries-sent").first
    restored.wait_for()
    restored_id = restored.get_attribute("id")
    assert restored_id
    assert_over_http(page, restored_id)
    page.wait_for_timeout(3000)
    assert received.read_bytes() == live, "the replayed queries were answered into the program"
    # The terminal is live over HTTP after the reload: a key reaches the program, alone.
    focus(page, restored_id)
    page.keyboard.type("z")
    deadline = time.monotonic() + 15
    while received.read_bytes() == live and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert received.read_bytes() == live + b"z"
