"""`cat` throughput in Chromium, coda-jupyter and stock JupyterLab interleaved.

bench_terminal_flow.py measures each side in turn; on a shared machine the
load moves between the two halves. Here both servers run at once and the
`cat` step alternates between them (coda, stock, stock, coda, …), so each
pair of runs sees about the same load.

Besides MB/s, each run reports how xterm.js spent it, read from its write
loop (private fields of xterm 5.5, diagnostic only):

- ``loops``: write-loop turns (each ends in at most one render);
- ``renders``: frames xterm drew; ``chars_per_render`` = characters / renders;
- ``dry_s``: seconds the write buffer sat empty between turns while the
  `cat` ran, that is, xterm waiting for output rather than the other way round.

``--variant NAME=ARG[,ARG…]`` adds another coda-jupyter side started with those
server arguments (``--variant once=--CodaTerminalManager.read_burst=0``), to compare a
setting within the same run.

``--pin`` runs Chromium on the first CPU and the servers (and so `cat`) on the
others, so the page never waits for a CPU the server holds, as on a machine
with more cores than this benchmark's two.

Usage: ``python bench/bench_terminal_cat.py [--cat-mb 1] [--pairs 3] [--variant …] [--pin]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_terminal_flow import HAS_LINE, close_all_terminals, open_terminal, run  # noqa: E402

from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS, Lab, running_lab  # noqa: E402

# Wraps the terminal's xterm write loop (WriteBuffer._innerWrite) to count
# its turns, the characters each parsed, and the time the buffer was empty.
WRITE_LOOP_PROBE = """(id) => {
  const widget = [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id);
  const term = widget.content._term;
  const buffer = term._core._writeBuffer;
  const stats = (window.__catStats = { loops: 0, chars: 0, renders: 0, dry_ms: 0 });
  let dryFrom = null;
  const inner = buffer._innerWrite.bind(buffer);
  buffer._innerWrite = (...args) => {
    const pending = buffer._pendingData;
    const start = performance.now();
    if (dryFrom !== null) {
      stats.dry_ms += start - dryFrom;
      dryFrom = null;
    }
    inner(...args);
    stats.loops++;
    stats.chars += pending - buffer._pendingData;
    if (buffer._writeBuffer.length === 0) dryFrom = performance.now();
  };
  term.onRender(() => stats.renders++);
}"""


def one_cat(page: Any, lab: Lab, big: Path) -> dict[str, float]:
    term_id = open_terminal(page)
    page.evaluate(WRITE_LOOP_PROBE, term_id)
    start = time.monotonic()
    run(page, term_id, f"cat {big}; echo CAT-DONE-$((20+22))")
    page.wait_for_function(HAS_LINE, arg=[term_id, "CAT-DONE-42"], timeout=900_000, polling=250)
    elapsed = time.monotonic() - start
    stats: dict[str, float] = page.evaluate("() => window.__catStats")
    close_all_terminals(page, lab)
    return {
        "mb_s": big.stat().st_size / 1e6 / elapsed,
        "seconds": elapsed,
        "loops": stats["loops"],
        "renders": stats["renders"],
        "chars_per_render": stats["chars"] / max(1, stats["renders"]),
        "dry_s": stats["dry_ms"] / 1000,
    }


def chromium(tmp: Path, pin: bool) -> str:
    """The browser to launch; with ``pin``, a wrapper keeping it on CPU 0 and
    this process (whose children are the servers) off it."""
    if not pin:
        return CHROMIUM
    cpus = os.sched_getaffinity(0)
    if len(cpus) < 2 or 0 not in cpus:
        raise SystemExit("--pin needs CPU 0 and at least one more")
    os.sched_setaffinity(0, cpus - {0})
    wrapper = tmp / "chromium-on-cpu0"
    wrapper.write_text(f'#!/bin/sh\nexec taskset -c 0 {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cat-mb", type=float, default=1)
    parser.add_argument("--pairs", type=int, default=3, help="runs per side, alternating")
    parser.add_argument("--variant", action="append", default=[], help="NAME=ARG[,ARG...]: another coda side")
    parser.add_argument("--pin", action="store_true", help="Chromium on CPU 0, the servers on the rest")
    args = parser.parse_args()
    variants = dict(variant.split("=", 1) for variant in args.variant)
    from playwright.sync_api import sync_playwright

    samples: dict[str, list[dict[str, float]]] = {"coda": [], "stock": [], **{name: [] for name in variants}}
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        big = Path(tmp) / "big.txt"
        line = "".join(chr(33 + i % 90) for i in range(79)) + "\n"
        big.write_text(line * int(args.cat_mb * 1_000_000 // len(line)))
        browser = playwright.chromium.launch(executable_path=chromium(Path(tmp), args.pin), args=CHROMIUM_ARGS)
        sides = {}
        for name in samples:
            lab = stack.enter_context(
                running_lab(
                    Path(tmp) / name,
                    extension_enabled=name != "stock",
                    extra_args=[
                        "--LabApp.expose_app_in_browser=True",
                        *filter(None, variants.get(name, "").split(",")),
                    ],
                )
            )
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.set_default_timeout(60_000)
            page.goto(lab.page_url())
            page.locator('.jp-LauncherCard[data-category="Other"]', has_text="Terminal").wait_for()
            sides[name] = (page, lab)
        for pair in range(args.pairs):
            order = list(samples)
            for name in order if pair % 2 == 0 else reversed(order):
                result = one_cat(*sides[name], big)
                samples[name].append(result)
                print(name, json.dumps({k: round(v, 3) for k, v in result.items()}), file=sys.stderr, flush=True)
        browser.close()

    medians = {name: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for name, runs in samples.items()}
    print(json.dumps({"args": vars(args), "median": medians, "samples": samples}, indent=2))
    for name in samples:
        if name == "stock":
            continue
        ratios = [c["mb_s"] / s["mb_s"] for c, s in zip(samples[name], samples["stock"], strict=True)]
        listed = ", ".join(f"{r:.2f}" for r in ratios)
        print(f"{name} / stock MB/s per pair: {listed}; median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
