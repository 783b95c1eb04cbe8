"""What the HTTP fallback learns holds for the whole page: JupyterLab in Chromium
behind a stand-in Apps proxy that refuses websocket upgrades.

Once one terminal had to fall back, a terminal opened later in the page goes
to HTTP without trying a websocket of its own again; and leaving the page
detaches its HTTP sessions, which the browser would not close by itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..browser.conftest import browser  # noqa: F401 - module-scoped Chromium fixture
from ..browser.lab import Lab
from ..browser.test_terminal_features import open_terminal
from .proxy import AppsProxy

# The same stand-in Apps server (websockets refused) and page, one per module.
from .test_http_fallback import app, assert_over_http, load_lab, page  # noqa: F401

pytestmark = pytest.mark.browser


def terminal_name(tab: Any, term_id: str) -> str:
    return str(
        tab.evaluate(
            "(id) => window.jupyterapp.shell.widgets('main').find(w => w.content?.id === id).content.session.name",
            term_id,
        )
    )


def test_later_terminals_skip_the_websocket_and_leaving_detaches(page: Any, app: tuple[Lab, AppsProxy]) -> None:  # noqa: F811
    _, proxy = app
    websockets: list[str] = []
    page.on("websocket", lambda socket: websockets.append(socket.url))
    deletes: list[str] = []
    page.on("request", lambda request: deletes.append(request.url) if request.method == "DELETE" else None)
    load_lab(page, proxy)
    first = open_terminal(page)
    assert_over_http(page, first)

    second = open_terminal(page)
    assert_over_http(page, second)
    name = terminal_name(page, second)
    tried = [url for url in websockets if url.split("?")[0].endswith(f"/terminals/websocket/{name}")]
    # JupyterLab's connection opens its first socket in its constructor, before
    # the fallback is installed (fallback.ts): that one attempt is unavoidable;
    # a second would mean the page forgot that websockets are refused.
    assert len(tried) == 1, tried

    # The event a page gets as it is left (dispatched here so the page stays
    # to watch its requests): every open HTTP session is detached.
    page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pagehide'))")
    page.wait_for_timeout(1000)
    detached = {url.rsplit("/", 3)[-3] for url in deletes if "/coda/api/terminals/" in url and "/sessions/" in url}
    assert detached >= {terminal_name(page, first), name}, deletes
