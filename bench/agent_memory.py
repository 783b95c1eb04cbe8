"""Memory of a coda-jupyter server idle, and of each real agent CLI sitting idle in one of its terminals.

What a team's hub must budget per user: a single-user server (``jupyter lab``
with coda-jupyter, setup off so nothing installs meanwhile) and, per open
agent, the agent's process tree. Each agent is the pinned CLI (installed by
its catalogue entry into the tests' cache, see ``tests/clis.py``), configured
by its real config writer to use a local model gateway in front of the fake
model upstream (``tests/fakes/model_upstream.py``), opened from the REST API
as the launcher opens it, watched over a websocket as a browser tab would,
and left at its prompt for ``--settle`` seconds before it is measured.

Reported per process tree: RSS (what ``ps`` shows; shared pages counted in
every process) and PSS (shared pages split between the processes sharing
them; the better estimate of what one more user costs).

    .venv/bin/python -m bench.agent_memory --agents claude,codex
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from coda_jupyter.agents.writers import ConfigContext
from coda_jupyter.gateway import ModelGateway, Route, upstream_base
from tests.browser.lab import Lab, running_lab
from tests.clis import QUIET_ENV, InstalledCli, InstallFailure, _install_all
from tests.fakes.model_upstream import FakeModelUpstream

LOCAL_KEY = "coda-bench-local-key"
HOST = "https://adb-1.example.cloud.databricks.com"


@dataclass(frozen=True)
class Usage:
    processes: int
    rss_mib: float
    pss_mib: float


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        current = todo.pop()
        found.add(current)
        todo.extend(tree.get(current, []))
    return found


def working_under(base: Path) -> set[int]:
    """Processes whose working folder is inside ``base``: also finds daemons an agent
    detached from its terminal (Codex starts an app-server that re-parents to init)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")).is_relative_to(base):
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def usage(pids: set[int]) -> Usage:
    rss = pss = 0
    counted = 0
    for pid in pids:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue  # exited meanwhile
        values = {line.split(":")[0]: int(line.split()[1]) for line in rollup.splitlines()[1:] if line.endswith("kB")}
        rss += values.get("Rss", 0)
        pss += values.get("Pss", 0)
        counted += 1
    return Usage(counted, round(rss / 1024, 1), round(pss / 1024, 1))


def post(lab: Lab, path: str, body: Any = None, method: str = "POST") -> Any:
    request = urllib.request.Request(
        lab.url + path,
        method=method,
        data=json.dumps(body or {}).encode() if method == "POST" else None,
        headers={"Authorization": f"token {lab.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


async def watch(lab: Lab, terminal: str, seconds: float) -> str:
    """Stay attached to the terminal as a browser tab does; return the end of what it showed."""
    url = lab.url.replace("http", "ws", 1) + f"terminals/websocket/{terminal}"
    connection = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {lab.token}"}))
    screen = ""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        await connection.write_message(json.dumps(["set_size", 40, 120, 800, 1200]))
        while (remaining := deadline - loop.time()) > 0:
            try:
                message = await asyncio.wait_for(connection.read_message(), remaining)
            except asyncio.TimeoutError:
                break
            if message is None:
                break
            kind, *payload = json.loads(message)
            if kind == "stdout":
                screen = (screen + payload[0])[-4000:]
    finally:
        connection.close()
    return screen


def configure(cli: InstalledCli, home: Path, root: Path, gateway: ModelGateway) -> None:
    assert cli.spec.config_writer is not None
    cli.spec.config_writer(
        ConfigContext(
            home=home,
            endpoints={route: gateway.url(route) for route in gateway.routes},
            api_key=LOCAL_KEY,
            host=HOST,
            user_email="bench@example.com",
            # No remote MCP servers: this machine reaches none, and retries would not be idle.
            mcp_servers=(),
            workspace_dir=root,
        )
    )


async def measure(agent_ids: list[str], base: Path, settle: float) -> dict[str, Any]:
    results = await _install_all(agent_ids)
    failed = {agent: result.reason for agent, result in results.items() if isinstance(result, InstallFailure)}
    if failed:
        raise SystemExit(f"installing the pinned CLIs failed: {failed}")
    clis = {agent: result for agent, result in results.items() if isinstance(result, InstalledCli)}
    fake = FakeModelUpstream(reply_text="ok")
    await fake.start()

    def upstream(route: Route) -> str | None:
        return upstream_base(route, gateway=fake.url, host=None)

    gateway = ModelGateway(upstream=upstream, token=lambda: "dapi-bench-token", local_key=LOCAL_KEY)
    await gateway.start()
    home, root = base / "home", base / "root"
    home.mkdir(parents=True)
    root.mkdir(parents=True)
    for cli in clis.values():
        configure(cli, home, root, gateway)
    config = {"AgentTerminals": {"extra_path": sorted({str(cli.bin_dir) for cli in clis.values()})}}
    report: dict[str, Any] = {"agents": {}}
    try:
        with running_lab(base, extra_env=QUIET_ENV, server_config=config) as lab:
            await asyncio.sleep(settle)
            server = descendants(lab.process.pid)
            report["server_idle"] = usage(server).__dict__
            for agent_id, cli in clis.items():
                terminal = (await asyncio.to_thread(post, lab, f"coda/api/agents/{agent_id}/terminals"))["name"]
                screen = await watch(lab, terminal, settle)
                agent_pids = (descendants(lab.process.pid) | working_under(base)) - server
                report["agents"][agent_id] = {
                    "version": cli.spec.install.version,
                    **usage(agent_pids).__dict__,
                    "screen_tail": screen[-600:],
                }
                await asyncio.to_thread(post, lab, f"api/terminals/{terminal}", method="DELETE")
                await asyncio.sleep(2)
            report["server_after"] = usage(descendants(lab.process.pid)).__dict__
            # What outlived its terminal (closed above): counted, then stopped.
            leftovers = working_under(base) - descendants(lab.process.pid)
            report["left_after_terminals_closed"] = usage(leftovers).__dict__
            for pid in leftovers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    finally:
        await gateway.stop()
        await fake.stop()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="claude,codex", help="comma-separated built-in agent ids")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds an agent sits idle before it is measured")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="coda-agent-memory-") as scratch:
        report = asyncio.run(measure(args.agents.split(","), Path(scratch), args.settle))
    report["machine"] = f"{platform.node()} {platform.machine()}, {platform.platform()}"
    report["date"] = date.today().isoformat()
    report["seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
