"""alice in Chromium: the hub's login form, then coda's launcher and Agent tasks panel under /user/alice/."""

from __future__ import annotations

from typing import Any

import pytest

from ..browser.conftest import browser, page
from .conftest import TwoUsers

__all__ = ["browser", "page"]  # the browser tests' fixtures, imported so pytest finds them here

pytestmark = pytest.mark.browser


def test_alice_logs_in_at_the_hub_and_uses_coda_under_her_prefix(page: Any, two_users: TwoUsers) -> None:
    hub = two_users.hub
    page.goto(f"{hub.url}hub/login")
    page.fill("#username_input", "alice")
    page.fill("#password_input", two_users.password)
    page.click("#login_submit")
    page.wait_for_url(f"{hub.url}user/alice/lab**")

    # The launcher's tile opens an agent terminal through alice's own server.
    page.locator('.jp-LauncherCard[data-category="Coding Agents"]', has_text="Stubby").first.click()
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Stubby").wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-Terminal .xterm-accessibility')]"
        ".some(n => n.textContent.includes('stubby reaches http') && n.textContent.includes('/user/alice/'))"
    )

    # The Agent tasks panel's client snippets point at her endpoint, under her prefix.
    page.locator('.jp-SideBar .lm-TabBar-tab[data-id="coda-tasks-panel"]').click()
    panel = page.locator("#coda-tasks-panel")
    panel.wait_for(state="visible")
    clients = panel.locator(".coda-TasksPanel-clients")
    clients.locator("summary").click()
    snippets = clients.locator(".coda-TasksPanel-client")
    snippets.first.wait_for()
    text = clients.inner_text()
    assert f'"{hub.url}user/alice/api/coda/mcp"' in text, text
    assert "__MCP_URL__" not in text
    assert two_users.tokens["alice"] not in text
