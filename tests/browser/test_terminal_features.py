"""Agent-grade terminal features in a real JupyterLab, driven in Chromium."""

from __future__ import annotations

import base64
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from ..conftest import write_stub
from .conftest import lab_fixture
from .lab import Lab

# A valid 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a4"
    "a9c80000000049454e44ae426082"
)

# Stands in for the browser's speech service: the test says when words arrive.
FAKE_SPEECH = """
window.SpeechRecognition = class {
  constructor() {
    this.continuous = false; this.interimResults = false; this.lang = '';
    this.onresult = null; this.onend = null; this.onerror = null;
    window.__speech = this;
  }
  start() { window.__speechStarted = (window.__speechStarted || 0) + 1; window.__speechLang = this.lang; }
  stop() { setTimeout(() => this.onend && this.onend(), 0); }
  abort() {}
  say(text, isFinal) {
    const result = Object.assign([{ transcript: text }], { isFinal });
    this.onresult({ resultIndex: 0, results: [result] });
  }
};
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from lab_fixture(tmp_path_factory, "terminal-features", extra_args=["--LabApp.expose_app_in_browser=True"])


def open_terminal(page: Any) -> str:
    """Open a new terminal (core command, as File > New > Terminal does); return its content node id."""
    before = set(page.eval_on_selector_all(".jp-Terminal", "nodes => nodes.map(n => n.id)"))
    page.evaluate("window.jupyterapp.commands.execute('terminal:create-new')")
    page.wait_for_function(
        "(before) => [...document.querySelectorAll('.jp-Terminal')].some(n => !before.includes(n.id) && n.querySelector('.xterm-accessibility'))",
        arg=list(before),
    )
    new = [i for i in page.eval_on_selector_all(".jp-Terminal", "nodes => nodes.map(n => n.id)") if i not in before]
    term_id = new[0]
    # The shell prompt ends in $ or # (root).
    page.wait_for_function(
        "(sel) => /[$#]/.test(document.querySelector(sel)?.textContent ?? '')",
        arg=f"#{term_id} .xterm-accessibility",
    )
    return term_id


def focus(page: Any, term_id: str) -> None:
    page.locator(f"#{term_id} .xterm-helper-textarea").focus()


def run(page: Any, term_id: str, command: str) -> None:
    focus(page, term_id)
    page.keyboard.type(command)
    page.keyboard.press("Enter")


def wait_for_text(page: Any, term_id: str, text: str) -> None:
    page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel)?.textContent ?? '').includes(text)",
        arg=[f"#{term_id} .xterm-accessibility", text],
    )


def terminal_text(page: Any, term_id: str) -> str:
    return page.locator(f"#{term_id} .xterm-accessibility").text_content() or ""


def xterm_option(page: Any, term_id: str, option: str) -> Any:
    return page.evaluate(
        """([id, option]) => {
          const widget = [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id);
          return widget.content._term.options[option];
        }""",
        [term_id, option],
    )


def viewport_background(page: Any, term_id: str) -> str:
    return page.eval_on_selector(f"#{term_id} .xterm-viewport", "n => getComputedStyle(n).backgroundColor")


def palette_run(page: Any, label: str) -> None:
    # Opened by command, not Ctrl+Shift+C: a focused terminal would take that
    # key, and a terminal restored after a reload may grab focus at any time.
    palette_input = page.locator(".lm-CommandPalette-input")
    for _attempt in range(3):
        page.evaluate("window.jupyterapp.commands.execute('apputils:activate-command-palette')")
        try:
            palette_input.wait_for(state="visible", timeout=3000)
            palette_input.fill(label)
            # Clicked, not Enter: a restored terminal that takes focus after the
            # fill would swallow the key and the command would never run.
            page.locator(".lm-CommandPalette-item.lm-mod-active", has_text=label).click(timeout=3000)
            return
        except PlaywrightTimeoutError:
            continue
    raise AssertionError(f"could not run {label!r} from the command palette")


def start_lab(page: Any, lab: Lab) -> None:
    page.goto(lab.page_url())
    page.locator('.jp-LauncherCard[data-category="Other"]', has_text="Terminal").wait_for()
    page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('coda-terminal:voice')")


def test_theme_applies_live_from_palette_and_context_menu_and_survives_reload(page: Any, lab: Lab) -> None:
    start_lab(page, lab)
    term_id = open_terminal(page)
    palette_run(page, "Use Terminal Theme: Dracula")
    page.wait_for_function("(id) => document.getElementById(id).dataset.codaTheme === 'dracula'", arg=term_id)
    theme = xterm_option(page, term_id, "theme")
    assert (theme["background"], theme["red"], theme["brightBlue"]) == ("#282a36", "#ff5555", "#d6acff")
    assert viewport_background(page, term_id) == "rgb(40, 42, 54)"

    # A second terminal opened now gets the theme too; the context menu switches both.
    second = open_terminal(page)
    assert xterm_option(page, second, "theme")["background"] == "#282a36"
    page.locator(f"#{second} .xterm-screen").click(button="right")
    page.locator(".lm-Menu-item", has_text="Terminal Theme").hover()
    page.locator(".lm-Menu-item", has_text=re.compile(r"^Nord$")).click()
    for term in (term_id, second):
        page.wait_for_function("(id) => document.getElementById(id).dataset.codaTheme === 'nord'", arg=term)
        assert viewport_background(page, term) == "rgb(46, 52, 64)"

    page.goto(lab.page_url("lab"))
    page.locator(".jp-Terminal .xterm-accessibility >> visible=true").first.wait_for()
    restored = page.eval_on_selector_all(".jp-Terminal", "nodes => nodes.filter(n => n.offsetParent).map(n => n.id)")
    assert restored
    page.wait_for_function("(id) => document.getElementById(id).dataset.codaTheme === 'nord'", arg=restored[0])
    assert xterm_option(page, restored[0], "theme")["background"] == "#2e3440"

    # The toggle goes to the last light theme (default Light), then back to Nord.
    palette_run(page, "Toggle Terminal Light/Dark Theme")
    page.wait_for_function("(id) => document.getElementById(id).dataset.codaTheme === 'light'", arg=restored[0])
    palette_run(page, "Toggle Terminal Light/Dark Theme")
    page.wait_for_function("(id) => document.getElementById(id).dataset.codaTheme === 'nord'", arg=restored[0])
    # Follow JupyterLab hands colours back to core.
    palette_run(page, "Use Terminal Theme: Follow JupyterLab")
    page.wait_for_function("(id) => !document.getElementById(id).dataset.codaTheme", arg=restored[0])
    assert xterm_option(page, restored[0], "theme")["background"] != "#2e3440"


def test_a_theme_is_remembered_for_the_toggle_before_it_shows(page: Any, lab: Lab) -> None:
    """A reload right after a theme shows must not lose it as the toggle's "last dark theme".

    Each settings save is held, as a slow server would hold it, and answered
    one at a time until the theme shows; saves still pending then are dropped,
    as a reload drops them.
    """
    start_lab(page, lab)
    term_id = open_terminal(page)
    assert page.evaluate("(id) => document.getElementById(id).dataset.codaTheme", term_id) != "solarized-dark"
    held: list[Any] = []
    page.route(
        "**/lab/api/settings/coda-jupyter:terminal*",
        lambda route: held.append(route) if route.request.method == "PUT" else route.continue_(),
    )
    palette_run(page, "Use Terminal Theme: Solarized Dark")
    shown = "(id) => document.getElementById(id).dataset.codaTheme === 'solarized-dark'"
    deadline = time.monotonic() + 30
    while not page.evaluate(shown, term_id):
        assert time.monotonic() < deadline, "the theme never showed"
        if held:
            held.pop(0).continue_()
        page.wait_for_timeout(50)
    for route in held:
        route.abort()
    page.unroute("**/lab/api/settings/coda-jupyter:terminal*")
    saved = lab.api("lab/api/settings/coda-jupyter:terminal")["settings"]  # type: ignore[index]
    assert saved["theme"] == "solarized-dark"
    assert saved.get("lastDarkTheme") == "solarized-dark", saved


def test_pasting_a_png_uploads_it_and_types_its_path(page: Any, lab: Lab) -> None:
    start_lab(page, lab)
    term_id = open_terminal(page)
    focus(page, term_id)
    page.evaluate(
        """([id, data]) => {
          const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], 'image.png', { type: 'image/png' }));
          const target = document.querySelector(`#${id} .xterm-helper-textarea`);
          target.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
        }""",
        [term_id, base64.b64encode(PNG).decode()],
    )
    page.get_by_text(re.compile(r"^Image saved: .*/uploads/")).first.wait_for()
    wait_for_text(page, term_id, "/uploads/")
    match = re.search(r"(/\S+/uploads/[0-9a-f]{8}_clipboard-\d+\.png)", terminal_text(page, term_id))
    assert match, terminal_text(page, term_id)
    saved = Path(match.group(1))
    assert saved.parent == lab.home / "uploads"
    assert saved.read_bytes() == PNG

    # Text paste is untouched: it reaches the shell as typed text.
    page.evaluate(
        """(id) => {
          const transfer = new DataTransfer();
          transfer.setData('text/plain', 'echo pasted-$((40+2))');
          document.querySelector(`#${id} .xterm-helper-textarea`).dispatchEvent(
            new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
        }""",
        term_id,
    )
    focus(page, term_id)
    page.keyboard.press("Control+u")
    run(page, term_id, "echo pasted-$((40+2))")
    wait_for_text(page, term_id, "pasted-42")
    # One upload: text pastes stay text (the hidden file is the server's list of its uploads).
    assert len([p for p in (lab.home / "uploads").iterdir() if not p.name.startswith(".")]) == 1


def test_dropping_a_file_browser_item_types_its_absolute_path(page: Any, lab: Lab) -> None:
    (lab.root / "drop me.txt").write_text("x", encoding="utf-8")
    start_lab(page, lab)
    term_id = open_terminal(page)
    item = page.locator(".jp-DirListing-item", has_text="drop me.txt")
    item.wait_for()
    source = item.bounding_box()
    target = page.locator(f"#{term_id} .xterm-screen").bounding_box()
    assert source and target
    page.mouse.move(source["x"] + 20, source["y"] + source["height"] / 2)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(
            source["x"] + 20 + (target["x"] + 100 - source["x"] - 20) * step / 10,
            source["y"] + (target["y"] + 100 - source["y"]) * step / 10,
        )
    page.mouse.up()
    expected = f"'{lab.root}/drop me.txt'"
    wait_for_text(page, term_id, expected)
    # No upload and no editor tab: the path is all that happened.
    assert not (lab.home / "uploads").exists() or not any((lab.home / "uploads").glob("*drop*"))
    assert page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="drop me.txt").count() == 0


def test_voice_input_previews_and_sends_on_enter(browser: Any, lab: Lab) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_init_script(FAKE_SPEECH)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        start_lab(page, lab)
        term_id = open_terminal(page)
        focus(page, term_id)
        page.keyboard.press("Alt+v")
        panel = page.locator(f"#{term_id} .coda-VoicePanel")
        panel.wait_for()
        assert page.evaluate("window.__speechStarted") == 1
        page.evaluate("window.__speech.say('echo spoken', false)")
        assert panel.locator(".coda-VoicePanel-interim").text_content() == "echo spoken"
        page.evaluate("window.__speech.say('echo spoken-words', true)")
        assert panel.locator(".coda-VoicePanel-text").input_value() == "echo spoken-words"
        assert panel.locator(".coda-VoicePanel-interim").text_content() == ""
        page.keyboard.press("Enter")
        panel.wait_for(state="detached")
        wait_for_text(page, term_id, "echo spoken-words")
        # Sent without a newline: the command has not run yet, so what is typed
        # next joins it on the same command line.
        focus(page, term_id)
        page.keyboard.type(" more-$((40+2))")
        page.keyboard.press("Enter")
        wait_for_text(page, term_id, "more-42")
        assert "spoken-words more-42" in terminal_text(page, term_id), terminal_text(page, term_id)

        # Esc cancels: nothing is typed.
        focus(page, term_id)
        page.keyboard.press("Alt+v")
        panel.wait_for()
        page.evaluate("window.__speech.say('never-sent', true)")
        # Shift+Enter adds a line to the preview instead of sending.
        page.keyboard.press("Shift+Enter")
        page.evaluate("window.__speech.say('second line', true)")
        assert panel.locator(".coda-VoicePanel-text").input_value() == "never-sent\nsecond line"
        page.keyboard.press("Escape")
        panel.wait_for(state="detached")
        # Anything Esc typed reaches the shell before this command, and shows first.
        run(page, term_id, "echo esc-$((40+2))")
        page.wait_for_function(
            "(sel) => /esc-42|never-sent/.test(document.querySelector(sel)?.textContent ?? '')",
            arg=f"#{term_id} .xterm-accessibility",
        )
        assert "never-sent" not in terminal_text(page, term_id), terminal_text(page, term_id)
    finally:
        context.close()


def test_voice_command_is_hidden_without_the_speech_api(browser: Any, lab: Lab) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_init_script("delete window.SpeechRecognition; delete window.webkitSpeechRecognition;")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        start_lab(page, lab)
        term_id = open_terminal(page)
        assert page.evaluate("window.jupyterapp.commands.isVisible('coda-terminal:voice')") is False
        page.locator(f"#{term_id} .xterm-screen").click(button="right")
        menu = page.locator(".lm-Menu").first
        menu.locator(".lm-Menu-item", has_text="Split Terminal Right").wait_for()
        assert menu.locator(".lm-Menu-item >> visible=true", has_text="Dictate").count() == 0
        page.keyboard.press("Escape")
        focus(page, term_id)
        page.keyboard.press("Alt+v")
        page.wait_for_timeout(300)
        assert page.locator(".coda-VoicePanel").count() == 0
    finally:
        context.close()


def test_split_below_with_an_agent(page: Any, lab: Lab) -> None:
    write_stub(lab.home / ".local" / "bin", "claude", 'echo "stub claude beside you"')
    start_lab(page, lab)
    term_id = open_terminal(page)
    focus(page, term_id)
    page.evaluate("window.jupyterapp.commands.execute('coda-terminal:split-agent', {id: 'claude', direction: 'below'})")
    agent = page.locator("[data-coda-agent-terminal] .jp-Terminal >> visible=true").first
    agent.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-coda-agent-terminal] .xterm-accessibility')].some(n => n.textContent.includes('stub claude beside you'))"
    )
    above = page.locator(f"#{term_id}").bounding_box()
    below = agent.bounding_box()
    assert above and below
    assert below["y"] >= above["y"] + above["height"] - 5
    assert abs(below["x"] - above["x"]) < 5


def test_split_right_puts_terminals_side_by_side_and_focus_moves(page: Any, lab: Lab) -> None:
    start_lab(page, lab)
    first = open_terminal(page)
    focus(page, first)
    page.keyboard.press("Alt+Shift+d")
    page.wait_for_function(
        "(first) => [...document.querySelectorAll('.jp-Terminal')].some(n => n.id !== first && n.querySelector('.xterm-accessibility') && n.offsetParent !== null)",
        arg=first,
    )
    second = page.eval_on_selector_all(
        ".jp-Terminal", "(nodes, first) => nodes.filter(n => n.id !== first && n.offsetParent).map(n => n.id)", first
    )[0]
    left = page.locator(f"#{first}").bounding_box()
    right = page.locator(f"#{second}").bounding_box()
    assert left and right
    assert right["x"] >= left["x"] + left["width"] - 5
    assert abs(right["y"] - left["y"]) < 5
    page.wait_for_function("(id) => document.getElementById(id).contains(document.activeElement)", arg=second)
    run(page, second, "echo in-the-new-pane")
    wait_for_text(page, second, "in-the-new-pane")

    page.keyboard.press("Alt+Shift+BracketLeft")
    page.wait_for_function("(id) => document.getElementById(id).contains(document.activeElement)", arg=first)
    page.keyboard.press("Alt+Shift+BracketRight")
    page.wait_for_function("(id) => document.getElementById(id).contains(document.activeElement)", arg=second)
    # No two-pane limit: split the new pane below.
    page.keyboard.press("Alt+Shift+s")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-Terminal')].filter(n => n.offsetParent).length === 3"
    )
    boxes = page.eval_on_selector_all(
        ".jp-Terminal", "nodes => nodes.filter(n => n.offsetParent).map(n => n.getBoundingClientRect().toJSON())"
    )
    lower = max(boxes, key=lambda box: box["y"])
    assert lower["y"] > min(box["y"] for box in boxes) + 50
    third = page.eval_on_selector_all(
        ".jp-Terminal",
        "(nodes, known) => nodes.filter(n => n.offsetParent && !known.includes(n.id)).map(n => n.id)",
        [first, second],
    )[0]
    page.wait_for_function("(id) => document.getElementById(id).contains(document.activeElement)", arg=third)
    # With three panes previous and next differ (with two they are the same
    # pane): back to the pane above, forward again, on past the last to the
    # first, and back past the first to the last.
    for key, pane in (
        ("BracketLeft", second),
        ("BracketRight", third),
        ("BracketRight", first),
        ("BracketLeft", third),
    ):
        page.keyboard.press(f"Alt+Shift+{key}")
        page.wait_for_function("(id) => document.getElementById(id).contains(document.activeElement)", arg=pane)

    page.keyboard.press("Alt+Shift+w")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-Terminal')].filter(n => n.offsetParent).length === 2"
    )


def clipboard_page(browser: Any, lab: Lab) -> tuple[Any, Any]:
    """A page allowed to use the async clipboard API, as a user who clicked "Allow" would be."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url.rstrip("/"))
    page = context.new_page()
    page.set_default_timeout(30_000)
    return context, page


def read_clipboard_until(page: Any, expected: str, seconds: float = 15) -> str:
    """Poll the page's clipboard; return what it last held (``expected`` once it arrives).

    A ``wait_for_function`` on an async predicate would pass at once (a Promise
    is truthy), so the clipboard is read from Python in a loop instead.
    """
    deadline = time.monotonic() + seconds
    value = page.evaluate("() => navigator.clipboard.readText()")
    while value != expected and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        value = page.evaluate("() => navigator.clipboard.readText()")
    return str(value)


def test_osc52_copy_reaches_the_page_clipboard(browser: Any, lab: Lab) -> None:
    context, page = clipboard_page(browser, lab)
    try:
        start_lab(page, lab)
        term_id = open_terminal(page)
        page.evaluate("() => navigator.clipboard.writeText('before')")
        assert read_clipboard_until(page, "before") == "before"
        run(page, term_id, "printf '\\e]52;c;aGk=\\a'; echo osc-done")
        wait_for_text(page, term_id, "osc-done")
        assert read_clipboard_until(page, "hi") == "hi"
        # UTF-8 survives the base64 round trip (typed as octal escapes: only
        # ASCII can be typed into the terminal reliably).
        run(
            page,
            term_id,
            "printf '\\e]52;c;%s\\a' \"$(printf 'h\\303\\251llo \\342\\234\\223' | base64)\"; echo utf8-done",
        )
        wait_for_text(page, term_id, "utf8-done")
        assert read_clipboard_until(page, "héllo ✓") == "héllo ✓"
    finally:
        context.close()


def test_osc52_query_never_hands_the_clipboard_to_the_terminal(browser: Any, lab: Lab) -> None:
    context, page = clipboard_page(browser, lab)
    try:
        start_lab(page, lab)
        term_id = open_terminal(page)
        page.evaluate("() => navigator.clipboard.writeText('secret-xyz')")
        assert read_clipboard_until(page, "secret-xyz") == "secret-xyz"
        # The shell reads whatever the terminal answers (up to the BEL that ends
        # an OSC 52 report) and prints it without the escape prefix.
        run(
            page,
            term_id,
            "printf '\\e]52;c;?\\a'; IFS= read -r -s -t 5 -n 200 -d \"$(printf '\\a')\" x;"
            ' echo "got:[${x#*52;}]-$((40+2))"',
        )
        wait_for_text(page, term_id, "]-42")
        text = terminal_text(page, term_id)
        # The query was answered (so this checks something), with nothing in it.
        assert "got:[c;]-42" in text, text
        assert "secret" not in text and base64.b64encode(b"secret-xyz").decode() not in text
        assert read_clipboard_until(page, "secret-xyz") == "secret-xyz"
    finally:
        context.close()


def test_sixel_image_is_drawn_inline(page: Any, lab: Lab) -> None:
    start_lab(page, lab)
    term_id = open_terminal(page)
    assert page.locator(f"#{term_id} .xterm-image-layer").count() == 0
    # An 80x60 pixel red sixel block (ten bands of six rows).
    run(
        page,
        term_id,
        "printf '\\ePq#0;2;100;0;0#0'; for i in 1 2 3 4 5 6 7 8 9 10; do printf '!80~-'; done;"
        " printf '\\e\\\\'; echo sixel-done",
    )
    wait_for_text(page, term_id, "sixel-done")
    layer = page.locator(f"#{term_id} .xterm-image-layer")
    layer.wait_for(state="attached")
    page.wait_for_function(
        """(sel) => {
          const canvas = document.querySelector(sel);
          const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          for (let i = 0; i < data.length; i += 4) {
            if (data[i] > 200 && data[i + 1] < 50 && data[i + 2] < 50 && data[i + 3] > 200) return true;
          }
          return false;
        }""",
        arg=f"#{term_id} .xterm-image-layer",
    )


def test_search_and_font_shortcuts(page: Any, lab: Lab) -> None:
    start_lab(page, lab)
    term_id = open_terminal(page)
    run(page, term_id, "echo findable-text")
    wait_for_text(page, term_id, "findable-text")
    focus(page, term_id)
    page.keyboard.press("Control+Shift+f")
    overlay = page.locator(".jp-DocumentSearch-overlay")
    overlay.wait_for()
    page.keyboard.type("findable")
    page.locator(".jp-DocumentSearch-index-counter", has_text=re.compile(r"[1-9]/")).wait_for()
    page.keyboard.press("Escape")

    size = xterm_option(page, term_id, "fontSize")
    focus(page, term_id)
    page.keyboard.press("Control+Equal")
    page.wait_for_function(
        "([id, size]) => [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id).content._term.options.fontSize === size + 1",
        arg=[term_id, size],
    )
    focus(page, term_id)
    page.keyboard.press("Control+Minus")
    page.wait_for_function(
        "([id, size]) => [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id).content._term.options.fontSize === size",
        arg=[term_id, size],
    )
    # Every shortcut is a real key binding, so the shortcut settings list it.
    bindings = page.evaluate(
        "() => window.jupyterapp.commands.keyBindings.map(b => b.command + ' ' + b.keys.join(','))"
    )
    for expected in (
        "coda-terminal:voice Alt V",
        "coda-terminal:split-right Alt Shift D",
        "documentsearch:start Ctrl Shift F",
    ):
        assert expected in bindings


def test_rename_tab_survives_reload(page: Any, lab: Lab) -> None:
    start_lab(page, lab)
    term_id = open_terminal(page)
    focus(page, term_id)
    page.keyboard.press("Alt+Shift+r")
    dialog_input = page.locator(".jp-Dialog input")
    dialog_input.fill("my review agent")
    page.keyboard.press("Enter")
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="my review agent")
    tab.wait_for()
    # Programs retitling the terminal do not undo the name.
    run(page, term_id, "printf '\\e]0;spinner\\a'; sleep 0.2; printf '\\e]0;spinner 2\\a'; echo titled")
    wait_for_text(page, term_id, "titled")
    page.wait_for_timeout(300)
    assert tab.count() == 1

    page.goto(lab.page_url("lab"))
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="my review agent").wait_for()


def test_font_chooser_lists_installed_fonts_and_sets_the_core_setting(page: Any, lab: Lab) -> None:
    start_lab(page, lab)
    term_id = open_terminal(page)
    palette_run(page, "Choose Terminal Font")
    select = page.locator(".jp-Dialog select")
    select.wait_for()
    options = select.locator("option").all_inner_texts()
    assert options[0] == "System default"
    assert "DejaVu Sans Mono" in options
    system = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True, check=True).stdout
    families = {name.strip() for line in system.splitlines() for name in line.split(",")}
    assert set(options[1:]) <= families
    select.select_option("Liberation Mono")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.wait_for_function(
        """(id) => [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id)
             .content._term.options.fontFamily === '"Liberation Mono", monospace'""",
        arg=term_id,
    )
    # Back to the default: the core setting is removed, not duplicated.
    palette_run(page, "Choose Terminal Font")
    page.locator(".jp-Dialog select").select_option("System default")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.wait_for_function(
        """(id) => [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id)
             .content._term.options.fontFamily !== '"Liberation Mono", monospace'""",
        arg=term_id,
    )


# Asks the terminal for device attributes, the cursor position and the
# background colour, then records every byte it is sent. Octal escapes: the
# stub agent runs under sh, whose printf has no \e. --foreground: outside an
# interactive shell, timeout's own process group would leave cat unable to
# read the terminal.
QUERY_THEN_RECORD = "printf '\\033[c\\033[6n\\033]11;?\\a'; echo queries-sent; stty raw -echo; timeout --foreground 120 cat > {received}"


def open_agent_terminal(page: Any, lab: Lab, received: Path) -> str:
    """An agent tab (the launcher's path, restored by coda after a reload) whose agent runs the probe.

    The agent waits for the tab to be connected before it asks: queries sent
    before any page is attached are replayed, not live, and stay unanswered.
    """
    go = received.with_suffix(".go")
    probe = QUERY_THEN_RECORD.format(received=received)
    write_stub(
        lab.home / ".local" / "bin",
        "claude",
        # It answers --version at once: the server probes agent versions when a page loads.
        'if [ "$1" = "--version" ]; then echo "1.0.0 (Claude Code)"; exit 0; fi\n'
        f"echo agent-waiting; until [ -e {go} ]; do sleep 0.1; done; {probe}",
    )
    before = set(page.eval_on_selector_all(".jp-Terminal", "nodes => nodes.map(n => n.id)"))
    page.evaluate("window.jupyterapp.commands.execute('coda:open-agent', {id: 'claude'}).then(() => null)")
    page.wait_for_function(
        "(before) => [...document.querySelectorAll('.jp-Terminal')].some(n => !before.includes(n.id))",
        arg=list(before),
    )
    [term_id] = [
        i for i in page.eval_on_selector_all(".jp-Terminal", "nodes => nodes.map(n => n.id)") if i not in before
    ]
    wait_for_text(page, term_id, "agent-waiting")
    go.touch()
    return term_id


@pytest.mark.parametrize("kind", ["plain", "agent"])
def test_a_reload_types_nothing_into_the_running_program(page: Any, lab: Lab, kind: str) -> None:
    """The output replayed on reattach holds terminal queries; their answers must not reach the program.

    xterm answers the live queries once; after a reload the program must
    receive nothing more. In a plain terminal and in an agent tab alike.
    """
    received = lab.home / f"reattach-received-{kind}.bin"
    start_lab(page, lab)
    if kind == "agent":
        term_id = open_agent_terminal(page, lab, received)
    else:
        term_id = open_terminal(page)
        run(page, term_id, QUERY_THEN_RECORD.format(received=received))
    wait_for_text(page, term_id, "queries-sent")
    deadline = time.monotonic() + 10
    while (not received.exists() or not received.read_bytes()) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    page.wait_for_timeout(1000)
    live = received.read_bytes()
    assert b"c" in live, f"xterm never answered the live queries: {live!r}; screen: {terminal_text(page, term_id)}"

    page.goto(lab.page_url("lab"))
    page.locator(".jp-Terminal .xterm-accessibility >> visible=true").first.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-Terminal .xterm-accessibility')]"
        ".some(n => n.textContent.includes('queries-sent'))"
    )
    page.wait_for_timeout(3000)
    assert received.read_bytes() == live, "the replayed queries were answered into the program"


def test_a_dropped_connection_is_shown_and_typing_is_kept(page: Any, lab: Lab) -> None:
    """The terminal's connection drops and cannot come back for a while (a
    network change): the terminal says so, what is typed meanwhile arrives once
    it is back, and the banner goes away."""
    blocked = {"now": False}

    def gate(ws: Any) -> None:
        # Playwright stands in for the network here: a refused upgrade closes at once.
        if blocked["now"]:
            ws.close()
        else:
            ws.connect_to_server()

    def gate_http(route: Any) -> None:
        # The network is gone for the HTTP fallback too, or the terminal would rightly switch to it.
        if blocked["now"]:
            route.abort()
        else:
            route.continue_()

    page.route_web_socket(re.compile(r"/terminals/websocket/"), gate)
    page.route(re.compile(r"/coda/api/terminals/"), gate_http)
    start_lab(page, lab)
    term_id = open_terminal(page)
    banner = page.locator(f"#{term_id} .coda-TerminalConnection")
    assert banner.count() == 1 and not banner.is_visible()

    blocked["now"] = True
    page.evaluate(
        """(id) => {
          const widget = [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id);
          void widget.content.session.reconnect();
        }""",
        term_id,
    )
    banner.wait_for(state="visible")
    assert "Disconnected" in (banner.text_content() or "")
    run(page, term_id, "echo kept-$((40+2))")
    page.wait_for_timeout(500)
    assert "kept-42" not in terminal_text(page, term_id)

    # The network comes back as the user presses "Reconnect now", not before: a
    # retry the terminal schedules itself would otherwise race the click and
    # could hide the banner, and its button, just before the click lands.
    reconnect = banner.get_by_role("button", name="Reconnect now")
    page.expose_binding("networkBack", lambda _source: blocked.update(now=False))
    reconnect.evaluate("button => button.addEventListener('mousedown', () => window.networkBack())")
    reconnect.click()
    banner.wait_for(state="hidden")
    wait_for_text(page, term_id, "kept-42")


def test_a_full_screen_program_is_asked_to_redraw_after_a_reload(page: Any, lab: Lab) -> None:
    """A program on the alternate screen gets SIGWINCH once the replay is parsed, so it redraws."""
    tui = lab.home / "tui.sh"
    tui.write_text(
        "printf '\\033[?1049h'; n=0\n"
        "draw() { n=$((n+1)); printf '\\033[2J\\033[H'; echo \"tui redraws=$n.\"; }\n"
        "trap draw WINCH; draw\n"
        "while :; do sleep 0.2; done\n"
    )
    start_lab(page, lab)
    term_id = open_terminal(page)
    run(page, term_id, f"bash {tui}")
    wait_for_text(page, term_id, "tui redraws=")
    page.wait_for_timeout(1500)
    before = int(re.findall(r"tui redraws=(\d+)\.", terminal_text(page, term_id))[-1])

    page.goto(lab.page_url("lab"))
    page.locator(".jp-Terminal .xterm-accessibility >> visible=true").first.wait_for()
    restored = page.eval_on_selector_all(".jp-Terminal", "nodes => nodes.filter(n => n.offsetParent).map(n => n.id)")
    deadline = time.monotonic() + 15
    after = before
    while after <= before and time.monotonic() < deadline:
        page.wait_for_timeout(300)
        counts = re.findall(r"tui redraws=(\d+)\.", terminal_text(page, restored[0]))
        after = int(counts[-1]) if counts else before
    assert after > before, f"no redraw after the reload (still {before})"
