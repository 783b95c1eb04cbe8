"""Terminals over the HTTP fallback next to the same terminals over their websocket.

Both sides run in one JupyterLab (Databricks App mode) behind the stand-in Apps
proxy (tests/apps/proxy.py); for the HTTP side the proxy refuses websocket
upgrades, so the lab extension switches terminals to HTTP. Measured per side:

- echo latency in an idle terminal: key event to the echoed character parsed
  by xterm (p50, p99 of ``--keys``);
- Ctrl+C after ``yes`` has flooded the terminal for 3 s: time until the
  prompt is in xterm's buffer (median of ``--runs``);
- ``cat`` of a ``--cat-mb`` MB text file: MB/s until the line after it is parsed.

Usage: ``python bench/bench_terminal_http.py [--keys 40] [--runs 3] [--cat-mb 2]``.
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

from bench.bench_terminal_flow import (  # noqa: E402
    HAS_LINE,
    close_all_terminals,
    ctrl_c,
    open_terminal,
    percentile,
    run,
    timed_echoes,
)
from tests.apps.conftest import APP_NAME, OWNER, SERVICE_PRINCIPAL_ENV, apps_server  # noqa: E402
from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS, Lab  # noqa: E402


def echo_latency(page: Any, lab: Lab, keys: int) -> list[float]:
    samples = timed_echoes(page, open_terminal(page), keys)
    close_all_terminals(page, lab)
    return samples


def cat_throughput(page: Any, lab: Lab, big: Path) -> float:
    term_id = open_terminal(page)
    start = time.monotonic()
    run(page, term_id, f"cat {big}; echo CAT-DONE-$((20+22))")
    page.wait_for_function(HAS_LINE, arg=[term_id, "CAT-DONE-42"], timeout=600_000, polling="raf")
    elapsed = time.monotonic() - start
    close_all_terminals(page, lab)
    return big.stat().st_size / 1e6 / elapsed


def measure(browser: Any, lab: Lab, proxy: Any, http: bool, args: argparse.Namespace, big: Path) -> dict[str, Any]:
    proxy.refuse_websockets = http
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    later = page.locator(".jp-Dialog").filter(has=page.get_by_role("button", name="Later"))
    page.add_locator_handler(later, lambda dialog: dialog.get_by_role("button", name="Later").click())
    page.goto(proxy.url + "lab?reset")  # the other side closed every tab, the launcher too
    page.locator('.jp-LauncherCard[data-category="Other"]', has_text="Terminal").wait_for()
    probe = open_terminal(page)
    transport = page.evaluate("(id) => document.getElementById(id).dataset.codaTransport", probe)
    assert transport == ("http" if http else "websocket"), transport
    close_all_terminals(page, lab)
    print(f"measuring over {transport}…", file=sys.stderr, flush=True)
    result = {
        "echo_ms": echo_latency(page, lab, args.keys),
        "ctrl_c_s": [ctrl_c(page, lab) for _ in range(args.runs)],
        "cat_mb_s": [cat_throughput(page, lab, big) for _ in range(args.cat_runs)],
    }
    context.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=40, help="echo samples per side")
    parser.add_argument("--runs", type=int, default=3, help="Ctrl+C repetitions per side")
    parser.add_argument("--cat-mb", type=int, default=2)
    parser.add_argument("--cat-runs", type=int, default=1)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    env = {"DATABRICKS_APP_NAME": APP_NAME, "APP_OWNER_EMAIL": OWNER, **SERVICE_PRINCIPAL_ENV}
    results: dict[str, dict[str, Any]] = {}
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.txt"
        line = "".join(chr(33 + i % 90) for i in range(79)) + "\n"
        big.write_text(line * (args.cat_mb * 1_000_000 // len(line)))
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        server_args = ["--LabApp.expose_app_in_browser=True"]
        with apps_server(Path(tmp) / "lab", env, args=server_args) as (lab, proxy):
            proxy.identity = OWNER
            for name, http in (("websocket", False), ("http", True)):
                results[name] = measure(browser, lab, proxy, http, args, big)
                print(json.dumps({name: results[name]}), file=sys.stderr, flush=True)
        browser.close()

    def summary(side: dict[str, Any]) -> dict[str, float]:
        return {
            "echo_p50_ms": percentile(side["echo_ms"], 0.5),
            "echo_p99_ms": percentile(side["echo_ms"], 0.99),
            "ctrl_c_median_s": statistics.median(side["ctrl_c_s"]),
            "cat_median_mb_s": statistics.median(side["cat_mb_s"]),
        }

    ws, http = summary(results["websocket"]), summary(results["http"])
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {platform.system()} {platform.release()}",
        "args": vars(args),
        "websocket": ws,
        "http": http,
        "samples": results,
    }
    print(json.dumps(report, indent=2))
    print()
    print("| measure | websocket | HTTP fallback | HTTP / websocket |")
    print("| --- | --- | --- | --- |")
    for key in ws:
        print(f"| {key} | {ws[key]:.3g} | {http[key]:.3g} | {http[key] / ws[key]:.2f} |")


if __name__ == "__main__":
    main()
