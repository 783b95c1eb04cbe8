"""Benchmark the real setup: every agent install plus the tools, from an empty HOME.

Reports the sum of step times (a sequential setup's cost), the wall time
with the engine, the critical path (longest chain through ``needs``), and
the time to ``done`` on a second start with everything installed. Package
caches are shared (``CODA_TEST_CACHE``) so the numbers measure install
work, not first-ever downloads, unless the cache is empty.

    .venv/bin/python bench/bench_setup.py [--keep-home DIR] [--max-parallel N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from coda_jupyter.agents import BUILTIN
from coda_jupyter.setup import SetupEngine
from coda_jupyter.setup.installers import InstallSettings
from coda_jupyter.setup.plan import build_plan
from coda_jupyter.setup.tools import ToolSettings


def critical_path(steps: list[dict[str, Any]]) -> tuple[float, list[str]]:
    by_id = {s["id"]: s for s in steps}
    memo: dict[str, tuple[float, list[str]]] = {}

    def chain(step_id: str) -> tuple[float, list[str]]:
        if step_id not in memo:
            step = by_id[step_id]
            before = max((chain(n) for n in step["needs"]), default=(0.0, []))
            memo[step_id] = (before[0] + (step["duration_s"] or 0.0), [*before[1], step_id])
        return memo[step_id]

    return max((chain(s["id"]) for s in steps), default=(0.0, []))


async def one_start(home: Path, max_parallel: int) -> tuple[float, dict[str, Any], SetupEngine]:
    cache = Path(os.environ.get("CODA_TEST_CACHE", "~/.cache/coda-jupyter-tests")).expanduser()
    install = InstallSettings(home=home, npm_cache=cache / "npm", pip_cache=cache / "pip")
    plan = build_plan(BUILTIN, install, ToolSettings(home=home))
    state_dir = home / ".local" / "share" / "coda-jupyter" / "state"
    engine = SetupEngine(plan, state_dir=state_dir, max_parallel=max_parallel)
    started = time.monotonic()
    engine.start()
    snapshot = await engine.wait_settled(timeout=3600)
    return time.monotonic() - started, snapshot, engine


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep-home", type=Path, help="use (and keep) this HOME instead of a temp dir")
    parser.add_argument("--max-parallel", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coda-bench-") as temp:
        home = args.keep_home or Path(temp)
        wall, snapshot, engine = await one_start(home, args.max_parallel)
        second_wall, second, _ = await one_start(home, args.max_parallel)
    steps = snapshot["steps"]
    path_s, path = critical_path(steps)
    result = {
        "status": snapshot["status"],
        "sum_of_steps_s": round(sum(s["duration_s"] or 0 for s in steps), 2),
        "wall_s": round(wall, 2),
        "critical_path_s": round(path_s, 2),
        "critical_path": path,
        "wall_over_critical_path": round(wall / path_s, 3) if path_s else None,
        "second_start_status": second["status"],
        "second_start_s": round(second_wall, 3),
        "max_parallel": args.max_parallel,
        "cpus": os.cpu_count(),
        "steps": [
            {
                "id": s["id"],
                "status": s["status"],
                "duration_s": s["duration_s"],
                "outcome": engine.outcome(s["id"]),
                "error": s["error"],
            }
            for s in steps
        ],
    }
    print(json.dumps(result, indent=2))
    print()
    print("| step | status | seconds | outcome / error |")
    print("| --- | --- | ---: | --- |")
    for s in result["steps"]:
        detail = s["outcome"] or (s["error"] or "")[:90]
        print(f"| {s['id']} | {s['status']} | {s['duration_s'] or 0:.2f} | {detail} |")
    print()
    print("| measure | seconds |")
    print("| --- | ---: |")
    print(f"| sum of step times (sequential) | {result['sum_of_steps_s']:.2f} |")
    print(f"| wall time with the engine | {result['wall_s']:.2f} |")
    print(f"| critical path ({' → '.join(path)}) | {result['critical_path_s']:.2f} |")
    print(f"| wall / critical path | {result['wall_over_critical_path']} |")
    print(f"| second start to `{result['second_start_status']}` | {result['second_start_s']:.3f} |")


if __name__ == "__main__":
    asyncio.run(main())
