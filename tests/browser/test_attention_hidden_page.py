"""Attention while the JupyterLab page is hidden: a browser (system) notification.

How the page is really hidden. Chromium hides a tab when another tab of its
window comes to the front: ``document.visibilityState`` becomes ``"hidden"``
and ``visibilitychange`` fires, headless included. Pages Playwright creates
never hide, though: for each page it enables DevTools focus emulation
(``Emulation.setFocusEmulationEnabled``, Playwright's ``crPage`` frame
session), and Chromium implements that by counting the page as captured, and a
captured page stays visible. ``connect_over_cdp(no_defaults=True)`` is
Playwright's documented switch to leave the default browser context without
that override, so these tests start Chromium themselves and attach to it:
opening a second tab hides the lab, ``bring_to_front`` shows it again, all
real browser state (no overridden ``visibilityState``).

How notifications are observed: an init script replaces ``window.Notification``
with a subclass that records each construction and each ``requestPermission``
call and then calls the real one (a spy: the real browser decides and shows).
Headless Chromium has no permission prompt; a request is answered "denied",
as by a user who blocks notifications. ``grant_permissions`` stands for a user
who allowed them.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coda_jupyter.agents.writers import ConfigContext, claude

from ..conftest import write_stub
from .conftest import lab_fixture
from .lab import CHROMIUM, CHROMIUM_ARGS, Lab, chromium_available, stop

# Waits for go1, go2, ... in its own folder and answers each with what the file
# says: an OSC 9 notification (as Codex prints), a BEL, or Claude Code's Stop
# hook run as Claude runs it (through sh, stdout captured, the pty as its tty).
NOTIFY_AGENT = r"""if [ "$1" = "--version" ]; then echo "1.0.0"; exit 0; fi
cd "GO_DIR" || exit 1
echo "stub notify ready"
n=1
while true; do
  while [ ! -e "go$n" ]; do sleep 0.1; done
  case "$(cat "go$n")" in
    osc) printf '\033]9;stub asks %s\007\r\n' "$n" ;;
    bell) printf 'ringing %s\007\r\n' "$n" ;;
    stop) sh stop-hook.sh > /dev/null ;;
  esac
  echo "answered $n"
  n=$((n + 1))
done
"""

# A hidden page runs no animation frames, Playwright's default polling.
HIDDEN_POLL_MS = 100

TAB = '.lm-DockPanel-tabBar .lm-TabBar-tab:has-text("Stub Notify")'

# The spy. `permission` is inherited from the real class (a static getter).
NOTIFICATION_SPY = """(() => {
  const Real = window.Notification;
  if (typeof Real !== 'function') { return; }
  const record = { shown: [], asked: 0 };
  class Spy extends Real {
    constructor(title, options) {
      super(title, options);
      record.shown.push({ title, body: options?.body ?? '', tag: options?.tag ?? '', instance: this });
    }
  }
  Spy.requestPermission = (...args) => { record.asked += 1; return Real.requestPermission(...args); };
  window.Notification = Spy;
  window.__notificationSpy = record;
})();"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    config = {"CodaApp": {"agents": {"stubnotify": {"executable": "stub-notify-agent", "label": "Stub Notify"}}}}
    for running in lab_fixture(
        tmp_path_factory, "attention-hidden", server_config=config, extra_args=["--LabApp.expose_app_in_browser=True"]
    ):
        write_stub(
            running.home / ".local" / "bin", "stub-notify-agent", NOTIFY_AGENT.replace("GO_DIR", str(running.root))
        )
        running.root.joinpath("stop-hook.sh").write_text(stop_hook_command(tmp_path_factory.mktemp("claude")) + "\n")
        yield running


def stop_hook_command(home: Path) -> str:
    """The Stop hook command exactly as coda's Claude writer configures it."""
    claude.write(ConfigContext(home=home))
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    commands = [hook["command"] for group in settings["hooks"]["Stop"] for hook in group["hooks"]]
    assert len(commands) == 1
    return str(commands[0])


@pytest.fixture
def context(lab: Lab) -> Iterator[Any]:
    """A fresh Chromium profile (no permission answered, empty localStorage), attached without focus emulation."""
    if not chromium_available():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs it with apt-get")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="h2-chromium-") as profile:
        process = subprocess.Popen(
            [
                CHROMIUM,
                *CHROMIUM_ARGS,
                "--headless",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "--window-size=1400,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port = devtools_port(Path(profile), process)
            with sync_playwright() as playwright:
                browser = playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}", no_defaults=True)
                context = browser.contexts[0]
                context.set_default_timeout(30_000)
                context.add_init_script(NOTIFICATION_SPY)
                yield context
                browser.close()
        finally:
            stop(process)


def devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> str:
    """Chromium writes the port it chose for ``--remote-debugging-port=0`` into the profile."""
    announced = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Chromium exited with {process.returncode}")
        text = announced.read_text() if announced.exists() else ""
        if text.strip():
            return text.split()[0]
        time.sleep(0.05)
    raise RuntimeError("Chromium did not announce its DevTools port")


def fresh_agent(lab: Lab) -> None:
    """End the previous test's terminals (their agents watch the same go files) and remove the files."""
    terminals = lab.api("api/terminals")
    assert isinstance(terminals, list)
    for terminal in terminals:
        lab.api(f"api/terminals/{terminal['name']}", method="DELETE")
    for old in lab.root.glob("go*"):
        old.unlink()


def open_lab(context: Any, lab: Lab) -> Any:
    fresh_agent(lab)
    page = next((p for p in context.pages if p.url == "about:blank"), None) or context.new_page()
    page.goto(lab.page_url())
    page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('coda:open-agent')")
    page.evaluate("window.jupyterapp.commands.execute('coda:open-agent', {id: 'stubnotify'}).then(() => null)")
    wait_for_text(page, ".jp-Terminal .xterm-accessibility", "stub notify ready")
    # A launcher in front: clicking a notification has a tab to bring back.
    page.evaluate("window.jupyterapp.commands.execute('launcher:create').then(() => null)")
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current", has_text="Launcher").wait_for()
    return page


def hide(context: Any, page: Any) -> None:
    """Open another tab in the lab's window, as a user switching tabs: the lab tab is hidden."""
    context.new_page()
    page.wait_for_function("() => document.visibilityState === 'hidden'", polling=HIDDEN_POLL_MS)


def show(page: Any) -> None:
    page.bring_to_front()
    page.wait_for_function("() => document.visibilityState === 'visible'")


# What the in-lab notification of each call says (a bell says nothing more).
TOASTS = {
    "osc": r"Stub Notify needs your input: stub asks {n}",
    "bell": r"Stub Notify needs your input(?!:)",
    "stop": r"Stub Notify is done: Claude Code finished its answer",
}


def call(lab: Lab, page: Any, n: int, what: str) -> None:
    """Make the agent call (osc, bell or stop) and wait for its in-lab notification,
    which the lab shows in the same step as the browser one."""
    (lab.root / f"go{n}").write_text(what)
    page.wait_for_function(
        "(pattern) => [...document.querySelectorAll('.Toastify__toast')].some(t => new RegExp(pattern).test(t.textContent))",
        arg=TOASTS[what].format(n=n),
        polling=HIDDEN_POLL_MS,
    )


def wait_for_text(page: Any, selector: str, text: str) -> None:
    page.wait_for_function(
        "([sel, text]) => [...document.querySelectorAll(sel)].some(n => (n.textContent ?? '').includes(text))",
        arg=[selector, text],
        polling=HIDDEN_POLL_MS,
    )


def shown(page: Any) -> list[dict[str, str]]:
    return page.evaluate("window.__notificationSpy.shown.map(({title, body, tag}) => ({title, body, tag}))")


def asked(page: Any) -> int:
    return int(page.evaluate("window.__notificationSpy.asked"))


def test_hidden_page_gets_one_browser_notification_per_call_and_its_click_brings_the_terminal(
    context: Any, lab: Lab
) -> None:
    context.grant_permissions(["notifications"], origin=lab.url.rstrip("/"))
    page = open_lab(context, lab)
    terminal = page.evaluate(
        "[...window.jupyterapp.shell.widgets('main')].find(w => w.title.label === 'Stub Notify').content.session.name"
    )
    hide(context, page)

    call(lab, page, 1, "osc")
    call(lab, page, 2, "bell")
    call(lab, page, 3, "stop")
    assert shown(page) == [
        {"title": "Stub Notify needs your input", "body": "stub asks 1", "tag": f"coda-attention-{terminal}"},
        # A bell says nothing: the body names the terminal.
        {"title": "Stub Notify needs your input", "body": terminal, "tag": f"coda-attention-{terminal}"},
        {
            "title": "Stub Notify is done",
            "body": "Claude Code finished its answer",
            "tag": f"coda-attention-{terminal}",
        },
    ]
    assert asked(page) == 0  # already allowed: nothing to ask

    # The browser runs the notification's click handler; the page brings the terminal.
    page.evaluate("window.__notificationSpy.shown[2].instance.dispatchEvent(new Event('click'))")
    page.locator(f"{TAB}.lm-mod-current").wait_for()
    show(page)
    page.locator(f"{TAB}[data-coda-attention]").wait_for(state="detached")


def test_visible_page_gets_no_browser_notification(context: Any, lab: Lab) -> None:
    context.grant_permissions(["notifications"], origin=lab.url.rstrip("/"))
    page = open_lab(context, lab)

    call(lab, page, 1, "osc")
    wait_for_text(page, ".Toastify__toast", "stub asks 1")
    assert shown(page) == []

    # The same call once the user switched to another tab does reach the system.
    hide(context, page)
    call(lab, page, 2, "osc")
    assert [n["body"] for n in shown(page)] == ["stub asks 2"]


def test_permission_is_asked_once_at_a_user_gesture_and_a_denial_is_respected(context: Any, lab: Lab) -> None:
    page = open_lab(context, lab)
    assert page.evaluate("Notification.permission") == "default"
    hide(context, page)

    # Nobody is there to answer: not asked yet.
    call(lab, page, 1, "osc")
    call(lab, page, 2, "bell")
    assert asked(page) == 0

    # The user comes back and clicks (the logo: a click that does nothing else):
    # asked now, and (headless) denied.
    show(page)
    page.locator("#jp-MainLogo").click()
    page.wait_for_function("() => Notification.permission === 'denied'")
    assert asked(page) == 1

    hide(context, page)
    call(lab, page, 3, "osc")
    show(page)
    page.locator("#jp-MainLogo").click()
    assert asked(page) == 1
    assert shown(page) == []


def test_settings_editor_switch_turns_browser_notifications_off(context: Any, lab: Lab) -> None:
    context.grant_permissions(["notifications"], origin=lab.url.rstrip("/"))
    page = open_lab(context, lab)
    try:
        page.evaluate("() => { window.jupyterapp.commands.execute('settingeditor:open', {query: 'Agent Attention'}); }")
        switch = page.get_by_role("checkbox", name="Browser notifications")
        switch.uncheck()
        wait_for_saved(lab)
        page.evaluate("window.jupyterapp.commands.execute('launcher:create').then(() => null)")
        hide(context, page)
        call(lab, page, 1, "osc")
        assert shown(page) == []
    finally:
        lab.api("lab/api/settings/coda-jupyter:attention", method="PUT", body=json.dumps({"raw": "{}"}).encode())


def wait_for_saved(lab: Lab) -> None:
    """The Settings Editor saves on its own, shortly after a change."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        saved = lab.api("lab/api/settings/coda-jupyter:attention")
        assert isinstance(saved, dict)
        if saved.get("settings", {}).get("browserNotifications") is False:
            return
        time.sleep(0.2)
    raise AssertionError("the Settings Editor did not save browserNotifications=false")
