"""A page reload while the real Claude Code runs in an agent tab: same screen, nothing typed into it.

The pinned CLI (``tests/clis.py``) runs in a real agent terminal opened as the
launcher opens it, configured by coda's own writer and answered by the fake
model upstream. One exchange puts real content on the screen; the page is
reloaded; the restored tab must show the very same rows, Claude Code's input
box must be empty, and the next prompt must reach the model exactly as typed.

Claude Code asks the terminal for its device attributes (``CSI c``) and its
version (``CSI > 0 q``) at startup (seen in its output on a pseudo-terminal),
so the output replayed on reattach holds queries that xterm.js would answer
again into Claude Code's input.

Both of its renderers are covered: the default one draws inline on the main
screen; ``"tui": "fullscreen"`` (its settings schema: "the flicker-free
alt-screen renderer") draws on the alternate screen, whose cut replay needs
the redraw coda asks for after a reattach.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coda_jupyter.agents.writers import ConfigContext, claude
from tests.clis import RealClis, real_clis
from tests.fakes.model_upstream import FakeModelUpstream
from tests.fakes.threaded_upstream import ThreadedUpstream
from tests.writers.helpers import direct_endpoints

from .lab import Lab, running_lab

__all__ = ["real_clis"]  # the session fixture, imported so pytest finds it here

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ANSWER = "Parsnips are the canned answer here."
FIRST_PROMPT = "what is the canned answer"
SECOND_PROMPT = "and once more after the reload"
# Claude Code's quiet settings from tests/clis.py, without TERM, NO_COLOR and
# CI: the terminal is a real xterm here and the CLI must run as a user's does.
CLAUDE_ENV = {
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "NO_UPDATE_NOTIFIER": "1",
}

# The viewport of the tab's xterm, row by row (trailing spaces dropped), and
# which buffer it shows. `id` is the agent tab's widget id.
READ_SCREEN = """(id) => {
  const widget = [...window.jupyterapp.shell.widgets('main')].find(w => w.id === id);
  const term = widget?.content?._term;
  if (!term) { return null; }
  const buffer = term.buffer.active;
  const rows = [];
  for (let y = buffer.viewportY; y < buffer.viewportY + term.rows; y++) {
    rows.push(buffer.getLine(y)?.translateToString(true) ?? '');
  }
  return { rows, buffer: buffer.type, size: [term.cols, term.rows] };
}"""


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeModelUpstream]:
    with ThreadedUpstream(ANSWER) as fake:
        yield fake


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, upstream: FakeModelUpstream, real_clis: RealClis) -> Iterator[Lab]:
    cli = real_clis.require("claude")
    base = tmp_path_factory.mktemp("claude-reattach")
    home, root = base / "home", base / "root"
    root.mkdir(parents=True)
    # Written before the server starts, as setup would have: the model is the
    # fake, the workspace is trusted, and no remote MCP server is reached.
    ctx = ConfigContext(
        home=home,
        endpoints=direct_endpoints(gateway=upstream.url, host=None),
        api_key="coda-reattach-key",
        mcp_servers=(),
        workspace_dir=root,
    )
    claude.write(ctx)
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "claude").symlink_to(cli.executable)
    with running_lab(
        base,
        extra_env=CLAUDE_ENV,
        # The configs above are in HOME, where Claude Code reads them without coda's overlay.
        extra_args=["--LabApp.expose_app_in_browser=True", "--AgentConfig.write_user_configs=True"],
    ) as lab:
        yield lab


def use_renderer(home: Path, renderer: str) -> None:
    settings_path = home / ".claude" / "settings.json"
    settings = json.loads(settings_path.read_text(encoding="utf-8"))
    settings["tui"] = renderer
    settings_path.write_text(json.dumps(settings, indent=2), encoding="utf-8")


def read_screen(page: Any, widget_id: str) -> dict[str, Any] | None:
    return page.evaluate(READ_SCREEN, widget_id)  # type: ignore[no-any-return]


def screen_text(screen: dict[str, Any] | None) -> str:
    return "\n".join(screen["rows"]) if screen else "(no terminal)"


# Claude Code's footer notices (such as "◉ xhigh · /effort" after the first
# answer) go away by themselves after 10 s (`timeoutMs: 1e4` in its footer):
# a screen unchanged for longer holds none that may still vanish, so the
# screens compared are whole, with no row left out.
QUIET_MS = 11_000


def settled_screen(page: Any, widget_id: str, wanted: str, timeout: float = 120) -> dict[str, Any]:
    """The screen once it shows ``wanted``, Claude Code is idle, and nothing changed for ``QUIET_MS``."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] | None = None
    still_since = time.monotonic()
    while True:
        screen = read_screen(page, widget_id)
        if screen != last:
            last, still_since = screen, time.monotonic()
        text = screen_text(screen)
        # "esc to interrupt" is Claude Code's busy line: gone once the answer is complete.
        idle = screen is not None and wanted in text and "esc to interrupt" not in text
        if idle and (time.monotonic() - still_since) * 1000 >= QUIET_MS:
            assert screen is not None
            return screen
        assert time.monotonic() < deadline, f"the screen never settled on {wanted!r}:\n{text}"
        page.wait_for_timeout(250)


def input_line(screen: dict[str, Any]) -> str:
    """What Claude Code's input box holds: the text after its last ``❯`` prompt."""
    rows = [row for row in screen["rows"] if row.lstrip().startswith("❯")]
    assert rows, f"no input box on screen:\n{screen_text(screen)}"
    return rows[-1].lstrip()[1:].strip()


def user_texts(request_json: dict[str, Any]) -> list[str]:
    """The text blocks of a request's last user message, without Claude Code's own reminders."""
    content = request_json["messages"][-1]["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    return [
        block["text"]
        for block in blocks
        if block.get("type") == "text" and not block["text"].lstrip().startswith("<system-reminder>")
    ]


def conversation_requests(fake: FakeModelUpstream) -> list[dict[str, Any]]:
    """The main model's requests (the ones offering tools), not the title or topic side requests."""
    bodies = [seen.json() for seen in list(fake.requests) if seen.path.endswith("/v1/messages")]
    return [body for body in bodies if body and body.get("tools")]


def ask(page: Any, widget_id: str, prompt: str) -> None:
    """Type a prompt into Claude Code as a user does, and send it once it shows in the input box."""
    page.locator(f"#{widget_id} .xterm-helper-textarea").focus()
    page.keyboard.type(prompt)
    deadline = time.monotonic() + 30
    while prompt not in screen_text(read_screen(page, widget_id)):
        assert time.monotonic() < deadline, f"{prompt!r} never showed:\n{screen_text(read_screen(page, widget_id))}"
        page.wait_for_timeout(100)
    page.keyboard.press("Enter")


# Focus reports: Claude Code turns them on (`CSI ? 1004 h`), so xterm rightly
# sends one when the restored tab takes focus; they are events the program
# asked for, not replies to replayed queries.
FOCUS_REPORTS = ("\x1b[I", "\x1b[O")


# Claude Code's startup queries: device attributes and the terminal's version.
STARTUP_QUERIES = ("\x1b[c", "\x1b[>0q")


class TerminalTraffic:
    """terminado's messages on the page's terminal websockets: ``["stdin", text]`` sent, ``["stdout", text]`` received."""

    def __init__(self, page: Any) -> None:
        self.sent: list[str] = []
        self.received: list[str] = []
        page.on("websocket", self._watch)

    def _watch(self, socket: Any) -> None:
        if "/terminals/websocket/" in socket.url:
            socket.on("framesent", lambda payload: self._record(payload, "stdin", self.sent))
            socket.on("framereceived", lambda payload: self._record(payload, "stdout", self.received))

    @staticmethod
    def _record(payload: str | bytes, kind: str, into: list[str]) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            return
        if isinstance(message, list) and message[:1] == [kind]:
            into.append(str(message[1]))

    def since(self, start: int) -> str:
        text = "".join(self.sent[start:])
        for report in FOCUS_REPORTS:
            text = text.replace(report, "")
        return text


def wait_for_request(fake: FakeModelUpstream, count: int, page: Any, widget_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while len(conversation_requests(fake)) < count:
        assert time.monotonic() < deadline, f"the model got no request:\n{screen_text(read_screen(page, widget_id))}"
        page.wait_for_timeout(200)
    return conversation_requests(fake)[-1]


@pytest.mark.parametrize("renderer", ["default", "fullscreen"])
def test_a_reload_shows_the_same_claude_code_screen_and_types_nothing_into_it(
    page: Any, lab: Lab, upstream: FakeModelUpstream, renderer: str
) -> None:
    use_renderer(lab.home, renderer)
    already = len(conversation_requests(upstream))
    page.goto(lab.page_url())
    page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('coda:open-agent')")
    before_ids = set(page.eval_on_selector_all("[data-coda-agent-terminal]", "ns => ns.map(n => n.id)"))
    page.evaluate("window.jupyterapp.commands.execute('coda:open-agent', {id: 'claude'}).then(() => null)")
    page.wait_for_function(
        "(before) => [...document.querySelectorAll('[data-coda-agent-terminal]')].some(n => !before.includes(n.id))",
        arg=list(before_ids),
    )
    [widget_id] = [
        i
        for i in page.eval_on_selector_all("[data-coda-agent-terminal]", "ns => ns.map(n => n.id)")
        if i not in before_ids
    ]
    # Claude Code's main prompt, ready for a question.
    settled_screen(page, widget_id, "? for shortcuts")

    ask(page, widget_id, FIRST_PROMPT)
    first = wait_for_request(upstream, already + 1, page, widget_id)
    assert user_texts(first) == [FIRST_PROMPT]
    before = settled_screen(page, widget_id, ANSWER)
    expected_buffer = "alternate" if renderer == "fullscreen" else "normal"
    settings = (lab.home / ".claude" / "settings.json").read_text(encoding="utf-8")
    assert before["buffer"] == expected_buffer, f"{screen_text(before)}\n--- settings.json ---\n{settings}"
    assert input_line(before) == "", screen_text(before)

    typed = TerminalTraffic(page)
    page.goto(lab.page_url("lab"))
    page.locator(f"#{widget_id} .xterm-accessibility").wait_for()
    after = settled_screen(page, widget_id, ANSWER)
    replay = "".join(typed.received)
    assert all(query in replay for query in STARTUP_QUERIES), "the replay no longer holds Claude Code's queries"
    # Their answers were not sent to Claude Code.
    assert typed.since(0) == "", typed.sent
    assert after["size"] == before["size"]
    assert after["buffer"] == before["buffer"]
    assert input_line(after) == "", screen_text(after)

    ask(page, widget_id, SECOND_PROMPT)
    second = wait_for_request(upstream, already + 2, page, widget_id)
    # The page's frames reach this process as events, which can trail the model's request.
    deadline = time.monotonic() + 10
    while typed.since(0) != SECOND_PROMPT + "\r" and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert typed.since(0) == SECOND_PROMPT + "\r", typed.sent
    assert user_texts(second) == [SECOND_PROMPT], screen_text(read_screen(page, widget_id))

    # Last, so that every check on Claude Code's input above has run.
    assert after["rows"] == before["rows"], (
        f"--- before the reload ---\n{screen_text(before)}\n--- after ---\n{screen_text(after)}"
    )
