"""Notebook tools, live: from an agent's MCP request to the output in the open notebook's model.

One JupyterLab with coda-jupyter and a notebook open in Chromium. An MCP
client (the official one, one session, as an agent keeps it) inserts a
trivial cell and runs it, ``--runs`` times. Each sample is the time from
sending the insert request to the moment the cell's output, in the page's
notebook model, holds the printed text: what the user sees arrive.

The page records when the output lands with ``Date.now()`` and this script
reads ``time.time()`` before sending: the same machine's wall clock, so the
two are comparable to about a millisecond.
Usage: ``python bench/bench_notebook_tools.py [--runs 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS, Lab, running_lab  # noqa: E402

NOTEBOOK = "bench.ipynb"
T = TypeVar("T")

# Watches the open notebook's model: for each output whose text holds a
# token ``tok-<n>``, the wall-clock time it first appeared.
WATCH_MODEL = """(path) => {
  const panel = [...window.jupyterapp.shell.widgets('main')].find(w => w.context?.path === path);
  const seen = (window.__landed = {});
  const watchCell = cell => {
    if (!cell.outputs) return;
    cell.outputs.changed.connect(outputs => {
      for (let i = 0; i < outputs.length; i++) {
        const text = JSON.stringify(outputs.get(i).toJSON());
        for (const token of text.match(/tok-[0-9]+/g) || []) {
          if (!(token in seen)) seen[token] = Date.now();
        }
      }
    });
  };
  const cells = panel.content.model.cells;
  for (let i = 0; i < cells.length; i++) watchCell(cells.get(i));
  cells.changed.connect((_, change) => change.newValues.forEach(watchCell));
}"""


class AgentSession:
    """One MCP session on a loop of its own thread: Playwright's sync API owns the main one."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._session: Any = None
        self._closing: asyncio.Event | None = None
        self.run(self._open())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    async def _open(self) -> None:
        ready = asyncio.Event()
        self._closing = asyncio.Event()
        self._task = asyncio.ensure_future(self._hold(ready))
        await ready.wait()

    async def _hold(self, ready: asyncio.Event) -> None:
        import httpx2
        from mcp import ClientSession
        from mcp.client.streamable_http import streamable_http_client

        headers = {"Authorization": f"token {self.lab.token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            streamable_http_client(self.lab.url + "api/coda/mcp", http_client=http) as streams,
            ClientSession(streams[0], streams[1]) as session,
        ):
            await session.initialize()
            self._session = session
            ready.set()
            assert self._closing is not None
            await self._closing.wait()

    async def _closed(self) -> None:
        await asyncio.wait_for(self._task, 30)

    async def _call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        reply = await self._session.call_tool(name, arguments)
        if reply.is_error:
            raise RuntimeError(f"{name}: {reply.content[0].text}")
        result: dict[str, Any] = reply.structured_content
        return result

    def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return self.run(self._call(name, arguments))

    def close(self) -> None:
        if self._closing is not None:
            self.loop.call_soon_threadsafe(self._closing.set)
            self.run(self._closed())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def open_notebook(page: Any, lab: Lab, agent: AgentSession) -> None:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, str(lab.root / NOTEBOOK))
    page.goto(lab.page_url(f"lab/tree/{NOTEBOOK}?reset"))
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
    deadline = time.monotonic() + 60
    while True:
        listed = agent.call("coda_notebook_list", {})
        if any(entry["path"] == NOTEBOOK and entry["in_browser"] for entry in listed["open"]):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the page never reported the open notebook")
        time.sleep(0.2)
    page.evaluate(WATCH_MODEL, NOTEBOOK)


def sample(page: Any, agent: AgentSession, n: int) -> dict[str, float]:
    token = f"tok-{n}"
    sent = time.time() * 1000
    inserted = agent.call("coda_notebook_insert_cell", {"path": NOTEBOOK, "index": -1, "source": f"print('{token}')"})
    after_insert = time.time() * 1000
    ran = agent.call("coda_notebook_execute", {"path": NOTEBOOK, "cell_id": inserted["cell_id"]})
    replied = time.time() * 1000
    if ran["status"] != "ok":
        raise RuntimeError(f"run {n}: {ran}")
    deadline = time.monotonic() + 30
    landed = None
    while landed is None:
        landed = page.evaluate("(token) => window.__landed[token] ?? null", token)
        if landed is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {n}: the output never reached the page's model")
            time.sleep(0.005)
    return {
        "insert_ms": after_insert - sent,
        "execute_reply_ms": replied - after_insert,
        "to_model_ms": float(landed) - sent,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    samples: list[dict[str, float]] = []
    with (
        sync_playwright() as playwright,
        tempfile.TemporaryDirectory() as tmp,
        running_lab(Path(tmp), extra_args=["--LabApp.expose_app_in_browser=True"]) as lab,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        agent = AgentSession(lab)
        try:
            open_notebook(page, lab, agent)
            for n in range(args.warmup + args.runs):
                result = sample(page, agent, n)
                if n >= args.warmup:
                    samples.append(result)
        finally:
            agent.close()
            browser.close()
    summary = {
        key: {
            "p50": round(statistics.median(s[key] for s in samples), 1),
            "p90": round(percentile([s[key] for s in samples], 0.9), 1),
            "max": round(max(s[key] for s in samples), 1),
        }
        for key in ("insert_ms", "execute_reply_ms", "to_model_ms")
    }
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "runs": args.runs,
        "summary": summary,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
