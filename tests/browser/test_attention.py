"""Attention in Chromium: an agent that calls for the user gets a notification,
a tab badge and a line in the Agent tasks panel; a page reload does not call again.

The stub agent prints what real agents print: OSC 9 (iTerm2's notification,
which Codex and others send) and BEL. Claude Code's Stop hook is the command
coda's writer puts in Claude's settings, run in a terminal as Claude runs it
(stdout captured, the terminal as its controlling tty).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coda_jupyter.agents.writers import ConfigContext, claude

from ..conftest import write_stub
from .conftest import lab_fixture
from .lab import Lab

# Waits for the test to touch go1, go2, go3 in GO_DIR, then calls for
# attention each time, as an agent waiting for approval would.
ATTENTION_AGENT = r"""if [ "$1" = "--version" ]; then echo "1.0.0"; exit 0; fi
cd "GO_DIR" || exit 1
echo "stub attention ready"
while [ ! -e go1 ]; do sleep 0.1; done
printf 'asking now\033]9;stub needs approval\007\r\n'
while [ ! -e go2 ]; do sleep 0.1; done
printf 'ringing now\007\r\n'
while [ ! -e go3 ]; do sleep 0.1; done
printf '\033]9;second call after reload\007called again\r\n'
exec sh
"""

TERMINAL = "stubattn_1"
TAB = '.lm-DockPanel-tabBar .lm-TabBar-tab:has-text("Stub Attention")'
CURRENT_TAB = ".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current"

# Records each main-area widget brought in front, from the page's start, so a
# test can tell whether the user was looking at a terminal at some point. The
# shell's signal sees every change, however brief (a poll can miss one); labels
# are read at the end, as a widget may get its title after it comes in front.
RECORD_CURRENT_TABS = """
window.codaCurrentWidgets = [];
const watchCurrent = () => {
  const shell = window.jupyterapp?.shell;
  if (!shell) {
    setTimeout(watchCurrent, 1);
    return;
  }
  shell.currentChanged.connect((_, change) => {
    if (change.newValue) {
      window.codaCurrentWidgets.push(change.newValue);
    }
  });
};
watchCurrent();
"""
CURRENT_TABS = "() => window.codaCurrentWidgets.map(widget => widget.title.label)"

# The text xterm has parsed into the stub terminal's buffer, shown or not.
# `_term` is the widget's xterm (private, as terminal/xterm.ts reads it too).
TERMINAL_BUFFER = """() => {
  const widgets = [...window.jupyterapp.shell.widgets('main')];
  const buffer = widgets.find(w => w.title.label === 'Stub Attention')?.content._term?.buffer.active;
  const lines = [];
  for (let i = 0; buffer && i < buffer.length; i++) {
    lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
  }
  return lines.join('\\n');
}"""

# The attention kind on the stub terminal's tab title, set as the call is raised
# (what the tab's badge is drawn from, without waiting for the tab bar to render).
TERMINAL_ATTENTION = """() => {
  const widgets = [...window.jupyterapp.shell.widgets('main')];
  const terminal = widgets.find(w => w.title.label === 'Stub Attention');
  return terminal?.title.dataset['coda-attention'] ?? null;
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    config = {"CodaApp": {"agents": {"stubattn": {"executable": "stub-attention-agent", "label": "Stub Attention"}}}}
    for running in lab_fixture(
        tmp_path_factory, "attention", server_config=config, extra_args=["--LabApp.expose_app_in_browser=True"]
    ):
        script = ATTENTION_AGENT.replace("GO_DIR", str(running.root))
        write_stub(running.home / ".local" / "bin", "stub-attention-agent", script)
        yield running


def start(page: Any, lab: Lab) -> None:
    page.goto(lab.page_url())
    page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('coda:open-task')")
    page.locator(".jp-LauncherCard", has_text="Stub Attention").wait_for()


def look_elsewhere(page: Any) -> None:
    """Put a launcher in front: the user is not looking at the terminal."""
    page.evaluate("window.jupyterapp.commands.execute('launcher:create')")
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current", has_text="Launcher").wait_for()


def toasts(page: Any) -> list[str]:
    return page.eval_on_selector_all(".Toastify__toast", "nodes => nodes.map(n => n.textContent)")


def wait_for_text(page: Any, selector: str, text: str) -> None:
    page.wait_for_function(
        "([sel, text]) => [...document.querySelectorAll(sel)].some(n => (n.textContent ?? '').includes(text))",
        arg=[selector, text],
    )


def test_osc9_and_bel_raise_a_notification_a_badge_and_the_panel_state_once(page: Any, lab: Lab) -> None:
    start(page, lab)
    page.evaluate("window.jupyterapp.commands.execute('coda:open-agent', {id: 'stubattn'})")
    wait_for_text(page, ".jp-Terminal .xterm-accessibility", "stub attention ready")

    look_elsewhere(page)
    (lab.root / "go1").touch()
    wait_for_text(page, ".Toastify__toast", "stub needs approval")
    toast = page.locator(".Toastify__toast", has_text="stub needs approval")
    assert "Stub Attention needs your input" in toast.inner_text()
    badge = page.locator(f'{TAB}[data-coda-attention="input"]')
    badge.wait_for()
    assert badge.get_attribute("data-coda-attention-label") == "needs input"
    page.locator('.jp-SideBar .lm-TabBar-tab[data-id="coda-tasks-panel"]').click()
    entry = page.locator(f'#coda-tasks-panel [data-attention-terminal="{TERMINAL}"][data-attention="input"]')
    entry.wait_for()
    assert "needs input" in entry.inner_text()

    # The notification's button brings the terminal; looking at it answers the call.
    toast.get_by_role("button", name="Show terminal").click()
    page.locator(f"{TAB}.lm-mod-current").wait_for()
    page.locator(f"{TAB}[data-coda-attention]").wait_for(state="detached")
    entry.wait_for(state="detached")

    look_elsewhere(page)
    (lab.root / "go2").touch()
    page.locator(f'{TAB}[data-coda-attention="input"]').wait_for()
    # The bell says nothing more than "needs your input" (the OSC 9 toast added its message).
    page.locator(".Toastify__toast", has_text=re.compile(r"Stub Attention needs your input(?!:)")).wait_for()
    entry.wait_for()

    # After a reload the terminal replays "asking now" and its OSC 9, and the bell: no new call.
    # Only a call from a terminal nobody looks at is raised, so the replay has to be parsed
    # while another tab is in front: a file opened now is restored in front of the terminal.
    (lab.root / "elsewhere.txt").write_text("not the terminal\n")
    page.evaluate("window.jupyterapp.commands.execute('docmanager:open', {path: 'elsewhere.txt'})")
    page.locator(f"{CURRENT_TAB}:has-text('elsewhere.txt')").wait_for()
    page.add_init_script(RECORD_CURRENT_TABS)
    page.reload()
    page.locator(f"{CURRENT_TAB}:has-text('elsewhere.txt')").wait_for()
    # A terminal in a hidden tab has no screen (xterm opens when shown), only its buffer.
    page.wait_for_function(f"() => ({TERMINAL_BUFFER})().includes('ringing now')")
    # The replay is parsed: a call from it would have set the tab's attention state.
    assert page.evaluate(TERMINAL_ATTENTION) is None
    (lab.root / "go3").touch()
    # Parsed after the replay: had the replay called, its toasts would be here by now.
    wait_for_text(page, ".Toastify__toast", "second call after reload")
    in_front = page.evaluate(CURRENT_TABS)
    assert "Stub Attention" not in in_front, in_front
    assert not [text for text in toasts(page) if "stub needs approval" in text], toasts(page)
    assert len([text for text in toasts(page) if "Stub Attention" in text]) == 1, toasts(page)
    assert page.evaluate(TERMINAL_ATTENTION) == "input"


def stop_hook_command(home: Path) -> str:
    """The Stop hook command exactly as coda's Claude writer configures it."""
    claude.write(ConfigContext(home=home))
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    commands = [hook["command"] for group in settings["hooks"]["Stop"] for hook in group["hooks"]]
    assert len(commands) == 1
    return str(commands[0])


def test_claude_stop_hook_in_a_terminal_raises_done(page: Any, lab: Lab, tmp_path: Path) -> None:
    (lab.root / "stop-hook.sh").write_text(stop_hook_command(tmp_path / "home") + "\n")
    start(page, lab)
    page.evaluate("window.jupyterapp.commands.execute('terminal:create-new')")
    prompt = ".jp-Terminal .xterm-accessibility"
    page.wait_for_function("(sel) => /[$#]/.test(document.querySelector(sel)?.textContent ?? '')", arg=prompt)
    page.locator(".jp-Terminal .xterm-helper-textarea >> visible=true").focus()
    # As Claude Code runs a hook: through a shell, stdout captured (here: discarded).
    page.keyboard.type("while [ ! -e hook-go ]; do sleep 0.1; done; sh stop-hook.sh > /dev/null; echo hook-ran")
    page.keyboard.press("Enter")
    look_elsewhere(page)
    (lab.root / "hook-go").touch()
    wait_for_text(page, ".Toastify__toast", "Claude Code finished its answer")
    toast = page.locator(".Toastify__toast", has_text="Claude Code finished its answer")
    assert "is done" in toast.inner_text()
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab[data-coda-attention="done"]').wait_for()
    page.locator('.jp-SideBar .lm-TabBar-tab[data-id="coda-tasks-panel"]').click()
    page.locator('#coda-tasks-panel [data-attention="done"]').wait_for()


def test_osc_777_and_kitty_99_notify_and_progress_reports_do_not(page: Any, lab: Lab) -> None:
    start(page, lab)
    page.evaluate("window.jupyterapp.commands.execute('terminal:create-new')")
    prompt = ".jp-Terminal .xterm-accessibility"
    page.wait_for_function("(sel) => /[$#]/.test(document.querySelector(sel)?.textContent ?? '')", arg=prompt)
    page.locator(".jp-Terminal .xterm-helper-textarea >> visible=true").focus()
    # A ConEmu progress report (OSC 9;4), then rxvt's notify, then kitty's
    # notification in two chunks (title, then body with d=1 by default).
    script = (
        r"printf '\033]9;4;1;50\007'; "
        r"printf '\033]777;notify;Build;compiled fine\007'; "
        r"printf '\033]99;i=7:d=0;Kitty title\033\\'; "
        r"printf '\033]99;i=7:p=body;kitty body\033\\'; echo osc-sent"
    )
    page.keyboard.type(f"while [ ! -e osc-go ]; do sleep 0.1; done; {script}")
    page.keyboard.press("Enter")
    look_elsewhere(page)
    (lab.root / "osc-go").touch()
    wait_for_text(page, ".Toastify__toast", "Kitty title: kitty body")
    wait_for_text(page, ".Toastify__toast", "Build: compiled fine")
    texts = toasts(page)
    assert not any("4;1;50" in text for text in texts), texts
