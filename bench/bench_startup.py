"""Start-up cost of coda-jupyter: server ready, launcher visible, bundle size.

Each measurement runs with and without the extension in the same run, on the
same machine, interleaved so drift hits both sides alike; ratios are what
matter. Usage: ``python bench/bench_startup.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import compileall
import gzip
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS, running_lab  # noqa: E402


def bundle_size() -> dict[str, int]:
    static = ROOT / "coda_jupyter" / "labextension" / "static"
    files = [path for path in static.rglob("*") if path.is_file() and path.suffix == ".js"]
    return {
        "files": len(files),
        "bytes": sum(path.stat().st_size for path in files),
        "gzip_bytes": sum(len(gzip.compress(path.read_bytes())) for path in files),
    }


def measure_once(enabled: bool, browser: object, base: Path) -> dict[str, float]:
    start = time.monotonic()
    with running_lab(base, extension_enabled=enabled) as lab:
        ready = time.monotonic() - start
        context = browser.new_context()  # type: ignore[attr-defined]
        page = context.new_page()
        page.set_default_timeout(60_000)
        t0 = time.monotonic()
        page.goto(lab.page_url())
        page.locator(".jp-Launcher").first.wait_for(state="visible")
        launcher = time.monotonic() - t0
        tiles = None
        if enabled:
            page.locator('.jp-LauncherCard[data-category="Coding Agents"]').first.wait_for()
            tiles = time.monotonic() - t0
        context.close()
    result = {"server_ready_s": ready, "launcher_visible_s": launcher}
    if tiles is not None:
        result["agent_tiles_visible_s"] = tiles
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    # An installed wheel has its bytecode compiled; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE would recompile every module at each start instead.
    compileall.compile_dir(ROOT / "coda_jupyter", quiet=1)
    from playwright.sync_api import sync_playwright

    samples: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as tmp:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # One unmeasured warm-up per side: the first start pays for cold disk caches.
        for enabled in (True, False):
            measure_once(enabled, browser, Path(tmp) / f"warm-{enabled}")
        for run in range(args.runs):
            for enabled in (True, False):
                samples[enabled].append(measure_once(enabled, browser, Path(tmp) / f"{run}-{enabled}"))
        browser.close()

    def median(enabled: bool, key: str) -> float:
        return statistics.median(sample[key] for sample in samples[enabled])

    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        "runs": args.runs,
        "server_ready_s": {"with": median(True, "server_ready_s"), "without": median(False, "server_ready_s")},
        "launcher_visible_s": {
            "with": median(True, "launcher_visible_s"),
            "without": median(False, "launcher_visible_s"),
        },
        "agent_tiles_visible_s": median(True, "agent_tiles_visible_s"),
        "bundle": bundle_size(),
        "samples": {"with": samples[True], "without": samples[False]},
    }
    for key in ("server_ready_s", "launcher_visible_s"):
        report[key]["ratio"] = report[key]["with"] / report[key]["without"]
    print(json.dumps(report, indent=2))
    print()
    print(f"| measure (median of {args.runs}) | with | without | ratio |")
    print("| --- | --- | --- | --- |")
    for key, title in (("server_ready_s", "server start to ready"), ("launcher_visible_s", "page load to launcher")):
        row = report[key]
        print(f"| {title} | {row['with']:.2f} s | {row['without']:.2f} s | {row['ratio']:.3f} |")
    print(f"| page load to agent tiles | {report['agent_tiles_visible_s']:.2f} s | | |")
    bundle = report["bundle"]
    size = f"{bundle['bytes']} B ({bundle['gzip_bytes']} B gzip, {bundle['files']} files)"
    print(f"| lab extension bundle | {size} | | |")


if __name__ == "__main__":
    main()
