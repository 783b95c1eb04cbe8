"""Terminal flow control in a real JupyterLab in Chromium: a flood stays
within reach of Ctrl+C, because the program is never far ahead of the screen.

Nothing here is timed (bench/bench_terminal_flow.py measures): the checks are
that the shell answers after Ctrl+C, and how far a flooding program got past
what xterm.js had shown when it was interrupted.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ..terminals import OVERSHOOT
from .conftest import lab_fixture
from .lab import Lab, bring_to_front
from .test_terminal_features import focus, open_terminal, run, start_lab, wait_for_text

# Prints 0, 1, 2, … in blocks; on Ctrl+C it writes how many numbers it had
# handed to the terminal in full.
FLOOD = """
import itertools, sys
done = 0
try:
    for start in itertools.count(0, 1000):
        sys.stdout.write("".join(f"{n}\\n" for n in range(start, start + 1000)))
        sys.stdout.flush()
        done = start + 1000
except KeyboardInterrupt:
    with open("produced.txt", "w") as out:
        out.write(str(done))
"""

# What may sit between the program and the screen: the server's window
# (100,000 characters), one read burst and one last PTY read (OVERSHOOT), the
# kernel's PTY buffers (about 70,000), and what xterm parsed between reading
# the screen and Ctrl+C. As a count of numbers of at least two characters
# ("7\n"), this bound is already twice that; without flow control the program
# runs millions of numbers ahead.
AHEAD_LIMIT = 100_000 + OVERSHOOT + 70_000

# Counts the turns of the terminal's xterm write loop (private to xterm 5.5)
# that had no output to parse, only empty writes: a turn xterm spends, and a
# frame it draws, on nothing.
IDLE_TURNS_PROBE = """(id) => {
  const widget = [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id);
  const buffer = widget.content._term._core._writeBuffer;
  const counts = (window.__writeTurns = { all: 0, idle: 0 });
  const inner = buffer._innerWrite.bind(buffer);
  buffer._innerWrite = (...args) => {
    const pending = buffer._pendingData;
    inner(...args);
    counts.all += 1;
    counts.idle += pending === 0 ? 1 : 0;
  };
}"""

# Records, for each turn of the terminal's xterm write loop, how many
# characters it parsed and whether the terminal was in view.
TURN_SIZES_PROBE = """(id) => {
  const widget = [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id);
  const buffer = widget.content._term._core._writeBuffer;
  const turns = (window.__turnSizes = []);
  const inner = buffer._innerWrite.bind(buffer);
  buffer._innerWrite = (...args) => {
    const pending = buffer._pendingData;
    inner(...args);
    turns.push({ parsed: pending - buffer._pendingData, inView: widget.content.isVisible });
  };
}"""

# The most a terminal out of view is handed at a time (labextension
# src/terminal/pacing.ts): a turn of its write loop parses no more.
HIDDEN_PIECE = 2_048


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from lab_fixture(tmp_path_factory, "flow-control", extra_args=["--LabApp.expose_app_in_browser=True"])


def last_number(page: Any, term_id: str) -> int:
    """The last complete number line xterm.js has parsed (its buffer, not the screen's paint)."""
    found: int = page.evaluate(
        """(id) => {
          const widget = [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id);
          const buffer = widget.content._term.buffer.active;
          for (let i = buffer.length - 1; i >= 0; i--) {
            const line = buffer.getLine(i).translateToString(true).trim();
            if (/^\\d+$/.test(line) && !buffer.getLine(i + 1)?.isWrapped) {
              // The last line may still be growing: take the one before it.
              const before = buffer.getLine(i - 1)?.translateToString(true).trim() ?? '';
              return /^\\d+$/.test(before) ? Number(before) : -1;
            }
          }
          return -1;
        }""",
        term_id,
    )
    return found


def terminal_lines(page: Any, term_id: str) -> list[str]:
    lines: list[str] = page.evaluate(
        """(id) => {
          const widget = [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id);
          const buffer = widget.content._term.buffer.active;
          const lines = [];
          for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
          return lines;
        }""",
        term_id,
    )
    return lines


def wait_for_line(page: Any, term_id: str, text: str) -> None:
    """Wait until xterm.js has parsed a line starting with ``text``: its buffer, drawn or not."""
    page.wait_for_function(
        """([id, text]) => {
          const widget = [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id);
          const buffer = widget.content._term.buffer.active;
          for (let i = Math.max(0, buffer.length - 50); i < buffer.length; i++) {
            if (buffer.getLine(i).translateToString(true).startsWith(text)) return true;
          }
          return false;
        }""",
        arg=[term_id, text],
        timeout=120_000,
    )


def interrupt(page: Any, term_id: str) -> None:
    focus(page, term_id)
    page.keyboard.press("Control+c")


def test_ctrl_c_stops_a_yes_flood_and_the_shell_answers(page: Any, lab: Lab) -> None:
    start_lab(page, lab)
    term_id = open_terminal(page)
    run(page, term_id, "yes")
    time.sleep(3)  # the flood runs for a while; nothing is timed
    interrupt(page, term_id)
    run(page, term_id, "echo done-$((40+2))")
    wait_for_text(page, term_id, "done-42")


def test_a_flooding_program_is_never_far_ahead_of_the_screen(page: Any, lab: Lab) -> None:
    (lab.root / "flood.py").write_text(FLOOD, encoding="utf-8")
    (lab.root / "produced.txt").unlink(missing_ok=True)
    start_lab(page, lab)
    term_id = open_terminal(page)
    run(page, term_id, f"{sys.executable} flood.py")
    time.sleep(3)
    shown = last_number(page, term_id)
    interrupt(page, term_id)
    run(page, term_id, 'echo "produced-$(cat produced.txt)"')
    pattern = re.compile(r"^produced-(\d+)")
    deadline = time.monotonic() + 120
    while not any(pattern.match(line) for line in terminal_lines(page, term_id)):
        assert time.monotonic() < deadline, "the flood's count never appeared"
        time.sleep(0.5)
    produced = next(int(m.group(1)) for line in terminal_lines(page, term_id) if (m := pattern.match(line)))
    assert shown > 0 and produced > 1000, (shown, produced)
    assert produced - shown <= AHEAD_LIMIT, f"the program was {produced - shown} numbers ahead of the screen"


def test_a_flood_is_acknowledged_in_the_turn_that_parses_it(page: Any, lab: Lab) -> None:
    # An acknowledgement that waits for a turn of its own reaches the server a
    # frame late, and the page draws that frame with nothing left to parse.
    (lab.root / "big.txt").write_text(("0123456789" * 8 + "\n") * 40_000, encoding="utf-8")
    start_lab(page, lab)
    term_id = open_terminal(page)
    page.evaluate(IDLE_TURNS_PROBE, term_id)
    run(page, term_id, "cat big.txt; echo cat-$((40+2))")
    wait_for_text(page, term_id, "cat-42")
    turns = page.evaluate("() => window.__writeTurns")
    assert turns["all"] > 10, turns
    assert turns["idle"] == 0, turns


def test_a_terminal_out_of_view_floods_a_piece_at_a_time_and_loses_nothing(page: Any, lab: Lab) -> None:
    # A key press waits for the turn of xterm's write loop under way: a flood
    # in a background tab must come in small turns, so typing elsewhere stays
    # quick (bench/bench_terminal_flow.py measures the echo).
    (lab.root / "numbers.txt").write_text("".join(f"{n:06d}\n" for n in range(100_000)), encoding="utf-8")
    start_lab(page, lab)
    flooding = open_terminal(page)
    typing = open_terminal(page)
    page.evaluate(TURN_SIZES_PROBE, flooding)
    # Room for every line, so that one lost anywhere shows.
    page.evaluate(
        """(id) => {
          const widget = [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id);
          widget.content._term.options.scrollback = 200_000;
        }""",
        flooding,
    )
    bring_to_front(page, flooding)
    run(page, flooding, "sleep 2; cat numbers.txt; echo hidden-$((40+2))")
    bring_to_front(page, typing)
    wait_for_line(page, flooding, "hidden-42")
    turns = page.evaluate("() => window.__turnSizes")
    hidden = [turn["parsed"] for turn in turns if not turn["inView"] and turn["parsed"] > 0]
    assert len(hidden) > 100, len(hidden)
    assert max(hidden) <= HIDDEN_PIECE, f"a turn out of view parsed {max(hidden)} characters"

    # Every line arrived, in order.
    lines = [int(line) for line in terminal_lines(page, flooding) if re.fullmatch(r"\d{6}", line)]
    assert lines == list(range(100_000)), f"{len(lines)} lines, first out of place: " + str(
        next((n for n, line in enumerate(lines) if line != n), None)
    )

    # Back in view, the terminal is handed its output in big pieces again.
    page.evaluate("() => { window.__turnSizes.length = 0; }")
    bring_to_front(page, flooding)
    run(page, flooding, "cat numbers.txt; echo shown-$((40+2))")
    wait_for_line(page, flooding, "shown-42")
    shown = [turn["parsed"] for turn in page.evaluate("() => window.__turnSizes") if turn["inView"]]
    assert max(shown) > 4 * HIDDEN_PIECE, f"turns in view parsed at most {max(shown)} characters"
