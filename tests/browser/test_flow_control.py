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
from .lab import Lab
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
