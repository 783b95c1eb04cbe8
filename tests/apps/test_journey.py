"""The owner's first day with the app, in Chromium, through the Apps simulation.

The server starts as ``app.yaml`` starts it (the launcher finds the owner with
the service principal against the fake workspace), behind the stand-in proxy.
Models are a fake upstream reached through the server's gateway, as the AI
Gateway would be; Claude Code is the real CLI.

With ``CODA_SCREENSHOTS=<folder>`` the test saves the screenshots that
illustrate docs/deployment.md (``make screenshots``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.model_upstream import FakeModelUpstream
from tests.fakes.threaded_upstream import ThreadedUpstream
from tests.fakes.workspace import FakeWorkspace

from ..browser.conftest import browser  # noqa: F401 - module-scoped Chromium fixture
from ..browser.lab import Lab
from .conftest import APP_NAME, OTHER, OWNER, SERVICE_PRINCIPAL_ENV, Visitor, apps_server
from .pages import apps_page
from .proxy import AppsProxy

pytestmark = pytest.mark.browser

ANSWER = "The fake model says the answer is forty-two."
SCREENSHOTS = os.environ.get("CODA_SCREENSHOTS")


@pytest.fixture(scope="module")
def workspace() -> Iterator[FakeWorkspace]:
    with FakeWorkspace(user_name=OWNER, apps={APP_NAME: OWNER}) as fake:
        fake.seed_service_principal(
            SERVICE_PRINCIPAL_ENV["DATABRICKS_CLIENT_ID"], SERVICE_PRINCIPAL_ENV["DATABRICKS_CLIENT_SECRET"], "app-sp"
        )
        yield fake


@pytest.fixture(scope="module")
def model() -> Iterator[FakeModelUpstream]:
    with ThreadedUpstream(ANSWER) as fake:
        yield fake


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory,
    workspace: FakeWorkspace,
    model: FakeModelUpstream,
) -> Iterator[tuple[Lab, AppsProxy]]:
    env = {
        # What the platform sets (docs/deployment.md, section 9).
        "DATABRICKS_APP_NAME": APP_NAME,
        "DATABRICKS_HOST": workspace.host,
        "DATABRICKS_WORKSPACE_ID": "1234567890",
        **SERVICE_PRINCIPAL_ENV,
        # What an owner may set in app.yaml: the AI Gateway, here the fake.
        "DATABRICKS_GATEWAY_HOST": model.url,
    }
    args = [
        "--CredentialManager.token_lifetime=600",
        "--CredentialManager.rotation_interval=20",
        "--AgentAdmission.max_sessions=2",
    ]
    # No remote MCP servers: with no network here, Claude Code would wait on them.
    config: dict[str, object] = {"AgentConfig": {"mcp_servers": []}}
    # The real first run: setup installs every agent from the package
    # registries. (GitHub release tools cannot download here; they fail.)
    with apps_server(tmp_path_factory.mktemp("journey"), env, args, server_config=config, builtin_setup=True) as (
        lab,
        proxy,
    ):
        proxy.workspace_host = workspace.host
        yield lab, proxy


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    # The journey answers the token dialog itself.
    yield from apps_page(browser, skip_token_dialog=False, timeout_ms=60_000)


def shot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))


def terminal_text(page: Any, name: str) -> str:
    return str(
        page.evaluate(
            "(sel) => document.querySelector(sel)?.textContent ?? ''",
            f"#coda-agent-terminal-{name} .xterm-accessibility",
        )
    )


def wait_for_terminal_text(page: Any, name: str, text: str) -> None:
    page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel)?.textContent ?? '').includes(text)",
        arg=[f"#coda-agent-terminal-{name} .xterm-accessibility", text],
    )


def paste_token(page: Any, token: str) -> None:
    dialog = page.locator(".jp-Dialog").filter(has_text="Connect to Databricks")
    dialog.wait_for()
    dialog.get_by_label("Databricks personal access token").fill(token)
    dialog.get_by_role("button", name="Connect").click()


def launcher_card(page: Any, label: str) -> Any:
    """The launcher tile for ``label``, opening a launcher (as File > New Launcher) if none shows."""
    card = page.locator('.jp-LauncherCard[data-category="Coding Agents"]:visible').filter(has_text=label).first
    if not card.count():
        # The "+" on the main area's tab bar opens a new launcher.
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-addButton").first.click()
    card.wait_for()
    return card


def open_agent(page: Any, label: str) -> str:
    before = page.locator("[data-coda-agent-terminal]").count()
    launcher_card(page, label).click()
    page.wait_for_function("(n) => document.querySelectorAll('[data-coda-agent-terminal]').length > n", arg=before)
    return str(page.locator("[data-coda-agent-terminal]").nth(before).get_attribute("data-coda-agent-terminal"))


def run_in_terminal(lab: Lab, command: str, until: str) -> str:
    """Type ``command`` into a new terminal; its output up to ``until``.

    In a thread of its own: Playwright's sync API keeps an event loop running here.
    """
    created = lab.api("api/terminals", "POST", b"{}")
    assert isinstance(created, dict)
    with ThreadPoolExecutor(1) as pool:
        status, output = pool.submit(
            Visitor(lab.url, token=lab.token).websocket,
            f"terminals/websocket/{created['name']}",
            send=[json.dumps(["stdin", command + "\r"])],
            until=until,
            timeout=60,
        ).result()
    assert status == 101
    return output


def setup_settled(lab: Lab) -> bool:
    steps = lab.api("coda/api/setup")["steps"]  # type: ignore[index]
    return all(step["status"] not in ("pending", "running") for step in steps)


def wait_for(predicate: Any, what: str, seconds: float = 60, detail: Any = None) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {detail() if detail else ''}"
        time.sleep(0.3)


def test_the_owners_first_day(
    page: Any, app: tuple[Lab, AppsProxy], workspace: FakeWorkspace, model: FakeModelUpstream
) -> None:
    lab, proxy = app
    proxy.identity = OWNER

    # 1. The owner opens the app: the token dialog asks for a PAT; a wrong one is refused.
    response = page.goto(proxy.url + "lab?reset")
    assert response is not None and response.status == 200
    paste_token(page, "dapi-not-a-real-token")
    page.locator(".jp-Dialog").filter(has_text="That token was not accepted").wait_for()
    shot(page, "first-run-token-refused")
    paste_token(page, workspace.seed_token(user_name=OWNER))
    status_bar = page.locator(".coda-CredentialsStatus")
    status_bar.filter(has_text=f"Databricks: {OWNER}").wait_for()
    wait_for(lambda: setup_settled(lab), "setup to finish", seconds=900, detail=lambda: lab.api("coda/api/setup"))

    # 2. The launcher that was open all along shows Claude Code ready.
    tile = page.locator('.jp-LauncherCard[data-category="Coding Agents"]').filter(has_text="Claude Code").first
    tile.wait_for()
    page.wait_for_function("(el) => !el.textContent.includes('not installed')", arg=tile.element_handle())
    shot(page, "first-run-launcher")

    # 3. Claude Code answers through the gateway; it never asks to trust ~/projects.
    name = open_agent(page, "Claude Code")
    # "? for shortcuts" sits under Claude Code's input box once it takes input.
    wait_for(
        lambda: "? for shortcuts" in terminal_text(page, name),
        "Claude Code's prompt",
        detail=lambda: terminal_text(page, name),
    )
    assert "Is this a project you created or one you trust" not in terminal_text(page, name)
    page.locator(f"#coda-agent-terminal-{name} .xterm-helper-textarea").type("What is the answer?")
    page.keyboard.press("Enter")
    wait_for_terminal_text(page, name, "forty-two")
    assert "one you trust" not in terminal_text(page, name)
    assert any(seen.path.endswith("/v1/messages") for seen in model.requests)
    shot(page, "first-run-claude")

    # 4. The SDK in a terminal is the owner, before and after a rotation.
    # The interpreter coda-jupyter runs in has databricks-sdk, as the app's does.
    probe = f"{sys.executable} -c \"from databricks.sdk import WorkspaceClient as W; print('me=' + W().current_user.me().user_name)\""
    assert f"me={OWNER}" in run_in_terminal(lab, probe, f"me={OWNER}")
    first = lab.api("coda/api/credentials")
    assert isinstance(first, dict)
    wait_for(
        lambda: lab.api("coda/api/credentials")["last_rotation"] != first["last_rotation"],  # type: ignore[index]
        "a rotation",
        seconds=90,
    )
    assert f"me={OWNER}" in run_in_terminal(lab, probe, f"me={OWNER}")

    # 5. A commit in ~/projects/demo lands in the workspace.
    commit = (
        "mkdir -p ~/projects/demo && cd ~/projects/demo && git init -q && echo hello > notes.md && "
        "git add notes.md && git commit -qm first && echo committed-$((40+2))"
    )
    run_in_terminal(lab, commit, "committed-42")
    wait_for(
        lambda: any(path.endswith("/projects/demo/notes.md") for path in workspace.files()),
        "the commit in the workspace",
    )

    # 6. The Agent tasks panel offers what works from outside the app: the
    # bridge, with this app's /api/ endpoint (test_mcp_through_proxy.py runs
    # that configuration end to end); no snippet relying on the Jupyter token.
    page.locator('.jp-SideBar .lm-TabBar-tab[data-id="coda-tasks-panel"]').click()
    clients = page.locator("#coda-tasks-panel .coda-TasksPanel-clients")
    clients.locator("summary").click()
    snippet = clients.locator(".coda-TasksPanel-client").first
    snippet.wait_for()
    assert clients.locator(".coda-TasksPanel-client").count() == 1
    assert "coda-bridge" in snippet.inner_text() and f"{proxy.url}api/coda/mcp" in snippet.inner_text()
    assert "JUPYTER_TOKEN" not in clients.inner_text()
    shot(page, "first-run-mcp-clients")

    # 7 has tests of its own too: test_access.py (every route and websocket).
    assert Visitor(proxy.url, identity=OTHER).request("lab").status == 403
    assert Visitor(proxy.url, identity="").request("api/contents").status == 403

    # 8. With the session cap at 2, a third agent is refused with a message.
    open_agent(page, "Claude Code")
    launcher_card(page, "Claude Code").click()
    refusal = page.locator(".jp-Dialog").filter(has_text="was not started")
    refusal.wait_for()
    assert "2" in refusal.inner_text()
    shot(page, "session-cap")
