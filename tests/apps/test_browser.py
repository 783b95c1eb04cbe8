"""JupyterLab in Chromium through the fake Databricks Apps proxy, as the owner and as others."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ..browser.conftest import browser  # noqa: F401 - module-scoped Chromium fixture
from ..browser.lab import Lab
from ..conftest import write_stub
from ..fakes.workspace import FakeWorkspace
from .conftest import APP_NAME, OTHER, OWNER, OWNER_MIXED_CASE, SERVICE_PRINCIPAL_ENV, apps_server
from .pages import apps_page
from .proxy import AppsProxy

pytestmark = pytest.mark.browser

STUB_CLAUDE = """if [ "$1" = "--version" ]; then echo "1.2.3 (Claude Code)"; exit 0; fi
echo "stub claude says hi"
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, AppsProxy]]:
    env = {"DATABRICKS_APP_NAME": APP_NAME, "APP_OWNER_EMAIL": OWNER, **SERVICE_PRINCIPAL_ENV}
    with apps_server(tmp_path_factory.mktemp("apps-browser"), env) as (lab, proxy):
        write_stub(lab.home / ".local" / "bin", "claude", STUB_CLAUDE)
        yield lab, proxy


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    yield from apps_page(browser)


def test_owner_types_into_an_agent_terminal_through_the_proxy(page: Any, app: tuple[Lab, AppsProxy]) -> None:
    lab, proxy = app
    proxy.identity = OWNER_MIXED_CASE
    seen_websockets = len(proxy.websocket_headers)
    response = page.goto(proxy.url + "lab")
    assert response is not None and response.status == 200
    card = page.locator('.jp-LauncherCard[data-category="Coding Agents"]').filter(has_text="Claude Code").first
    card.click()
    terminal = page.locator("[data-coda-agent-terminal]").first
    terminal.wait_for()
    name = terminal.get_attribute("data-coda-agent-terminal")
    text = f"#coda-agent-terminal-{name} .xterm-accessibility"
    page.wait_for_function(
        "(sel) => (document.querySelector(sel)?.textContent ?? '').includes('stub claude says hi')", arg=text
    )
    # The stub exited; typing reaches the shell over the terminal websocket.
    page.locator(f"#coda-agent-terminal-{name} .xterm-helper-textarea").focus()
    page.keyboard.type("echo typed-$((6*7))")
    page.keyboard.press("Enter")
    page.wait_for_function("(sel) => (document.querySelector(sel)?.textContent ?? '').includes('typed-42')", arg=text)
    upgrades = proxy.websocket_headers[seen_websockets:]
    assert upgrades, "lab's websockets went through the proxy"
    assert all("X-Forwarded-Email" not in h and "Cookie" in h for h in upgrades)


def test_another_identity_gets_the_403_page(page: Any, app: tuple[Lab, AppsProxy]) -> None:
    _, proxy = app
    proxy.identity = OTHER
    response = page.goto(proxy.url + "lab")
    assert response is not None and response.status == 403
    body = page.locator("body").inner_text()
    assert f"This app belongs to {OWNER}. You are signed in as {OTHER}." in body
    assert page.locator(".jp-LabShell").count() == 0


def test_no_header_and_no_cookie_gets_403(page: Any, app: tuple[Lab, AppsProxy]) -> None:
    _, proxy = app
    proxy.identity = None
    response = page.goto(proxy.url + "lab")
    assert response is not None and response.status == 403
    assert "You are not signed in" in page.locator("body").inner_text()


@pytest.fixture(scope="module")
def workspace_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, AppsProxy, FakeWorkspace]]:
    with FakeWorkspace() as workspace:
        env = {
            "DATABRICKS_APP_NAME": APP_NAME,
            "APP_OWNER_EMAIL": OWNER,
            "DATABRICKS_HOST": workspace.host,
            **SERVICE_PRINCIPAL_ENV,
        }
        with apps_server(tmp_path_factory.mktemp("apps-pat"), env) as (lab, proxy):
            write_stub(lab.home / ".local" / "bin", "claude", STUB_CLAUDE)
            yield lab, proxy, workspace


def test_owner_pastes_a_pat_in_the_dialog(browser: Any, workspace_app: tuple[Lab, AppsProxy, FakeWorkspace]) -> None:  # noqa: F811
    lab, proxy, workspace = workspace_app
    proxy.identity = OWNER_MIXED_CASE
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(proxy.url + "lab")
        dialog = page.locator(".jp-Dialog").filter(has_text="Connect to Databricks")
        dialog.wait_for()
        link = dialog.locator("a", has_text="token page")
        assert link.get_attribute("href") == f"{workspace.host}/#setting/account/token"
        field = dialog.locator("input[type=password]")
        assert field.get_attribute("type") == "password"
        field.fill("dapi-wrong-token")
        dialog.get_by_role("button", name="Connect").click()
        # A rejected token asks again, saying why, without echoing it.
        page.locator(".jp-Dialog", has_text="was not accepted").wait_for()
        assert "dapi-wrong-token" not in page.locator(".jp-Dialog").inner_text()
        page.locator(".jp-Dialog input[type=password]").fill(workspace.bootstrap_token)
        page.locator(".jp-Dialog").get_by_role("button", name="Connect").click()
        status = page.locator(".coda-CredentialsStatus")
        page.wait_for_function(
            "() => /Databricks: .+ · token rotates in \\d+:\\d\\d/.test("
            "document.querySelector('.coda-CredentialsStatus')?.textContent ?? '')"
        )
        assert workspace.user_name in status.inner_text()
        assert workspace.bootstrap_token not in page.content()
        assert workspace.minted_tokens(), "the server minted a short-lived token"
        # Then an agent terminal works as usual.
        page.locator('.jp-LauncherCard[data-category="Coding Agents"]').filter(has_text="Claude Code").first.click()
        terminal = page.locator("[data-coda-agent-terminal]").first
        terminal.wait_for()
        name = terminal.get_attribute("data-coda-agent-terminal")
        page.wait_for_function(
            "(sel) => (document.querySelector(sel)?.textContent ?? '').includes('stub claude says hi')",
            arg=f"#coda-agent-terminal-{name} .xterm-accessibility",
        )
    finally:
        context.close()
