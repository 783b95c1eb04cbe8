"""Terminal flow control in Chromium: coda-jupyter next to stock JupyterLab.

Measured on each side, in one run, on the same machine:

- Ctrl+C after ``yes`` has flooded a terminal for 3 s: time until the shell's
  prompt is in xterm's buffer (median of ``--runs``).
- ``cat`` of a 20 MB text file: MB/s until the line after it is parsed, once
  in the tab in front and once in a tab behind another (a background agent).
- Echo latency in a second terminal while a first one floods: from the key
  event (its timestamp) to the echoed character parsed by xterm (p50, p99).
- Server memory (RSS of the Jupyter process, terminals excluded) and the
  page's JS heap while ``yes | head -c <flood>`` runs for ``--flood-seconds``.

Stock JupyterLab is the same server and page with coda-jupyter disabled
(tests/browser/lab.py ``extension_enabled=False``).
Usage: ``python bench/bench_terminal_flow.py [--runs 5] [--cat-mb 20]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS, Lab, bring_to_front, running_lab  # noqa: E402

PROMPT = "READY> "

# The xterm of a terminal widget, by its content node id.
XTERM = "(id) => [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id).content._term"

PROMPT_AFTER_CTRL_C = f"""(id) => {{
  const buffer = ({XTERM})(id).buffer.active;
  let interrupted = false;
  for (let i = Math.max(0, buffer.length - 80); i < buffer.length; i++) {{
    const line = buffer.getLine(i).translateToString(true);
    if (line.includes('^C')) interrupted = true;
    else if (interrupted && line.startsWith({PROMPT!r})) return true;
  }}
  return false;
}}"""

HAS_LINE = f"""([id, text]) => {{
  const buffer = ({XTERM})(id).buffer.active;
  for (let i = Math.max(0, buffer.length - 80); i < buffer.length; i++) {{
    if (buffer.getLine(i).translateToString(true).startsWith(text)) return true;
  }}
  return false;
}}"""

# Records, for each key typed into the terminal, the key event's timestamp
# and when xterm next parsed output that moved the cursor (the echo).
ECHO_PROBE = f"""(id) => {{
  const term = ({XTERM})(id);
  const samples = (window.__echo = []);
  let pending = null;
  term.textarea.addEventListener('keydown', event => {{
    pending = {{ start: event.timeStamp, x: term.buffer.active.cursorX }};
  }}, true);
  term.onWriteParsed(() => {{
    if (pending && term.buffer.active.cursorX !== pending.x) {{
      samples.push(performance.now() - pending.start);
      pending = null;
    }}
  }});
}}"""


def open_terminal(page: Any) -> str:
    before = page.eval_on_selector_all(".jp-Terminal", "nodes => nodes.map(n => n.id)")
    page.evaluate("window.jupyterapp.commands.execute('terminal:create-new')")
    page.wait_for_function(
        "(before) => [...document.querySelectorAll('.jp-Terminal')].some(n => !before.includes(n.id))",
        arg=before,
    )
    term_id: str = next(
        i for i in page.eval_on_selector_all(".jp-Terminal", "nodes => nodes.map(n => n.id)") if i not in before
    )
    page.wait_for_function(f"(id) => !!({XTERM})(id)", arg=term_id)
    run(page, term_id, f"PS1='{PROMPT}'")
    page.wait_for_function(HAS_LINE, arg=[term_id, PROMPT])
    return term_id


def run(page: Any, term_id: str, command: str) -> None:
    # Keys typed into a hidden tab go nowhere.
    bring_to_front(page, term_id)
    page.locator(f"#{term_id} .xterm-helper-textarea").focus()
    page.keyboard.type(command)
    page.keyboard.press("Enter")


def close_all_terminals(page: Any, lab: Lab) -> None:
    page.evaluate("window.jupyterapp.commands.execute('application:close-all')")
    # A server still busy with a flood may answer slowly: retry rather than fail the run.
    for _attempt in range(10):
        try:
            for terminal in lab.api("api/terminals"):  # type: ignore[attr-defined]
                lab.api(f"api/terminals/{terminal['name']}", method="DELETE")
            return
        except OSError:
            continue


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def ctrl_c(page: Any, lab: Lab) -> float:
    term_id = open_terminal(page)
    run(page, term_id, "yes")
    time.sleep(3)
    start = time.monotonic()
    page.locator(f"#{term_id} .xterm-helper-textarea").focus()
    page.keyboard.press("Control+c")
    page.wait_for_function(PROMPT_AFTER_CTRL_C, arg=term_id, timeout=180_000, polling="raf")
    elapsed = time.monotonic() - start
    close_all_terminals(page, lab)
    return elapsed


def cat_throughput(page: Any, lab: Lab, big: Path) -> float:
    term_id = open_terminal(page)
    command = f"cat {big}; echo CAT-DONE-$((20+22))"
    start = time.monotonic()
    run(page, term_id, command)
    page.wait_for_function(HAS_LINE, arg=[term_id, "CAT-DONE-42"], timeout=600_000, polling="raf")
    elapsed = time.monotonic() - start
    close_all_terminals(page, lab)
    return big.stat().st_size / 1e6 / elapsed


def hidden_cat_throughput(page: Any, lab: Lab, big: Path) -> float:
    """``cat`` in a terminal whose tab is behind another's: what a background agent gets."""
    term_id = open_terminal(page)
    in_front = open_terminal(page)
    start = time.monotonic()
    run(page, term_id, f"cat {big}; echo CAT-DONE-$((20+22))")
    bring_to_front(page, in_front)
    page.wait_for_function(HAS_LINE, arg=[term_id, "CAT-DONE-42"], timeout=600_000, polling=50)
    elapsed = time.monotonic() - start
    close_all_terminals(page, lab)
    return big.stat().st_size / 1e6 / elapsed


def timed_echoes(page: Any, term_id: str, keys: int) -> list[float]:
    """Type ``keys`` keys one by one into the terminal; each one's key-to-echo time in ms."""
    page.evaluate(ECHO_PROBE, term_id)
    bring_to_front(page, term_id)
    page.locator(f"#{term_id} .xterm-helper-textarea").focus()
    for n in range(keys):
        page.keyboard.press("x")
        page.wait_for_function(f"() => window.__echo.length > {n}", timeout=60_000)
        time.sleep(0.05)
    samples: list[float] = page.evaluate("() => window.__echo")
    return samples


def echo_latency(page: Any, lab: Lab, keys: int) -> list[float]:
    flood = open_terminal(page)
    quiet = open_terminal(page)
    run(page, flood, "yes")
    time.sleep(2)
    samples = timed_echoes(page, quiet, keys)
    # Stock JupyterLab can take minutes to work through this flood's backlog:
    # a fresh page and shutting the terminals down end it on both sides alike.
    page.goto(lab.page_url())
    page.locator('.jp-LauncherCard[data-category="Other"]', has_text="Terminal").wait_for()
    close_all_terminals(page, lab)
    return samples


def flood_memory(page: Any, lab: Lab, flood_bytes: int, seconds: float) -> dict[str, float]:
    term_id = open_terminal(page)
    before = rss_mib(lab.process.pid)
    run(page, term_id, f"yes | head -c {flood_bytes}")
    peak_rss, peak_heap = before, 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(1)
        peak_rss = max(peak_rss, rss_mib(lab.process.pid))
        heap = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize / 1048576 : 0")
        peak_heap = max(peak_heap, heap)
    page.locator(f"#{term_id} .xterm-helper-textarea").focus()
    page.keyboard.press("Control+c")
    close_all_terminals(page, lab)
    return {"rss_before_mib": before, "rss_peak_mib": peak_rss, "page_heap_peak_mib": peak_heap}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(browser: Any, base: Path, enabled: bool, args: argparse.Namespace, big: Path) -> dict[str, Any]:
    with running_lab(base, extension_enabled=enabled, extra_args=["--LabApp.expose_app_in_browser=True"]) as lab:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(lab.page_url())
        page.locator('.jp-LauncherCard[data-category="Other"]', has_text="Terminal").wait_for()
        result: dict[str, Any] = {}
        print(f"measuring {'coda' if enabled else 'stock'}…", file=sys.stderr, flush=True)
        result["ctrl_c_s"] = [ctrl_c(page, lab) for _ in range(args.runs)]
        result["cat_mb_s"] = [cat_throughput(page, lab, big) for _ in range(args.cat_runs)]
        result["hidden_cat_mb_s"] = [hidden_cat_throughput(page, lab, big) for _ in range(args.cat_runs)]
        result["echo_ms"] = echo_latency(page, lab, args.keys)
        result["memory"] = flood_memory(page, lab, args.flood_mb * 1_000_000, args.flood_seconds)
        context.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="Ctrl+C repetitions per side")
    parser.add_argument("--cat-mb", type=int, default=20)
    parser.add_argument("--cat-runs", type=int, default=3)
    parser.add_argument("--keys", type=int, default=60, help="echo samples per side")
    parser.add_argument("--flood-mb", type=int, default=1000)
    parser.add_argument("--flood-seconds", type=float, default=30)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results: dict[str, dict[str, Any]] = {}
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.txt"
        line = "".join(chr(33 + i % 90) for i in range(79)) + "\n"
        big.write_text(line * (args.cat_mb * 1_000_000 // len(line)))
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, enabled in (("coda", True), ("stock", False)):
            results[name] = measure(browser, Path(tmp) / name, enabled, args, big)
            print(json.dumps({name: results[name]}), file=sys.stderr, flush=True)
        browser.close()

    def summary(side: dict[str, Any]) -> dict[str, float]:
        return {
            "ctrl_c_median_s": statistics.median(side["ctrl_c_s"]),
            "cat_median_mb_s": statistics.median(side["cat_mb_s"]),
            "hidden_cat_median_mb_s": statistics.median(side["hidden_cat_mb_s"]),
            "echo_p50_ms": percentile(side["echo_ms"], 0.5),
            "echo_p99_ms": percentile(side["echo_ms"], 0.99),
            "rss_growth_mib": side["memory"]["rss_peak_mib"] - side["memory"]["rss_before_mib"],
            "page_heap_peak_mib": side["memory"]["page_heap_peak_mib"],
        }

    coda, stock = summary(results["coda"]), summary(results["stock"])
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        "args": vars(args),
        "coda": coda,
        "stock": stock,
        "samples": results,
    }
    print(json.dumps(report, indent=2))
    print()
    print("| measure | coda-jupyter | stock JupyterLab | coda / stock |")
    print("| --- | --- | --- | --- |")
    rows = (
        (f"Ctrl+C to prompt after 3 s of `yes` (median of {args.runs})", "ctrl_c_median_s", "s"),
        (f"`cat` {args.cat_mb} MB to screen (median of {args.cat_runs})", "cat_median_mb_s", "MB/s"),
        (f"`cat` {args.cat_mb} MB in a background tab (median of {args.cat_runs})", "hidden_cat_median_mb_s", "MB/s"),
        (f"echo p50 in a 2nd terminal during a flood ({args.keys} keys)", "echo_p50_ms", "ms"),
        ("echo p99 in a 2nd terminal during a flood", "echo_p99_ms", "ms"),
        (f"server RSS growth, {args.flood_seconds:.0f} s of a {args.flood_mb} MB flood", "rss_growth_mib", "MiB"),
        ("page JS heap peak during that flood", "page_heap_peak_mib", "MiB"),
    )
    for title, key, unit in rows:
        ratio = coda[key] / stock[key] if stock[key] else float("nan")
        print(f"| {title} | {coda[key]:.2f} {unit} | {stock[key]:.2f} {unit} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
