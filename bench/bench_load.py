"""Load benchmark: agent terminals flooding output while API clients hammer the server.

Starts a real Jupyter Server (subprocess) with coda-jupyter and a stub agent that
prints without end, then for ``--seconds``:

* ``--floods`` agent terminals (``POST coda/api/agents/flood/terminals``), each
  with a websocket reader draining its output as fast as it can;
* ``--clients`` concurrent API clients cycling through the coda REST routes,
  each waiting ``--pause`` seconds between its requests (0, the default: as
  fast as the server answers, which saturates it; 1: a browser tab's pollers);
* one probe process measuring ``GET coda/api/health`` latency (every 50 ms) and
  the keystroke echo latency of a quiet plain terminal (every 100 ms).

Floods, clients and probes run in separate processes so the load generator's
own CPU time does not show up as server latency. Reports health p99, echo p99,
server RSS growth (start of load to end) and error counts, as JSON and Markdown.

Targets: health p99 <= 100 ms, echo p99 <= 50 ms, RSS growth <= 200 MiB.
Run: ``.venv/bin/python bench/bench_load.py`` (60 s, 8 floods, 50 clients).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import queue
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from coda_server import free_port, percentile, start_server, wait_ready
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

TOKEN = "bench-load-token"
# A flooding agent: the shell's own `yes` loop is what agents' big outputs look like to the PTY.
FLOOD_STUB = """#!/bin/sh
if [ "$1" = "--version" ]; then echo "1.0.0"; exit 0; fi
exec yes 'coda load benchmark: a long line of agent output, over and over'
"""
API_ROUTES = ("coda/api/health", "coda/api/agents", "coda/api/setup", "coda/api/gateway", "coda/api/sync")
AUTH = {"Authorization": f"token {TOKEN}"}


async def _post(base: str, path: str) -> dict[str, Any]:
    request = HTTPRequest(base + path, method="POST", body="{}", headers={**AUTH, "Content-Type": "application/json"})
    response = await AsyncHTTPClient().fetch(request)
    return json.loads(response.body)  # type: ignore[no-any-return]


def _ws_url(base: str, name: str) -> HTTPRequest:
    return HTTPRequest(base.replace("http", "ws", 1) + f"terminals/websocket/{name}", headers=AUTH)


async def _drain(base: str, name: str, until: float, counts: dict[str, int]) -> None:
    ws = await websocket_connect(_ws_url(base, name), max_message_size=64 * 1024 * 1024)
    while time.monotonic() < until:
        message = await ws.read_message()
        if message is None:
            counts["closed"] += 1
            return
        counts["bytes"] += len(message)
    ws.close()


def flood_process(base: str, names: list[str], seconds: float, out: Any) -> None:
    async def run() -> dict[str, int]:
        counts = {"bytes": 0, "closed": 0}
        until = time.monotonic() + seconds
        await asyncio.gather(*(_drain(base, name, until, counts) for name in names))
        return counts

    out.put(("flood", asyncio.run(run())))


def clients_process(base: str, clients: int, pause: float, seconds: float, out: Any) -> None:
    async def one(client: AsyncHTTPClient, index: int, until: float, tally: dict[str, int]) -> None:
        n = index
        while time.monotonic() < until:
            route = API_ROUTES[n % len(API_ROUTES)]
            n += 1
            try:
                await client.fetch(base + route, headers=AUTH, request_timeout=30)
                tally["ok"] += 1
            except HTTPClientError as err:
                tally["5xx" if err.code >= 500 else "other"] += 1
                if err.code >= 500:
                    tally[f"5xx {route}"] = tally.get(f"5xx {route}", 0) + 1
            except OSError:
                tally["other"] += 1
            if pause:
                await asyncio.sleep(pause)

    async def run() -> dict[str, int]:
        client = AsyncHTTPClient(force_instance=True, max_clients=clients)
        tally = {"ok": 0, "5xx": 0, "other": 0}
        until = time.monotonic() + seconds
        await asyncio.gather(*(one(client, i, until, tally) for i in range(clients)))
        return tally

    out.put(("clients", asyncio.run(run())))


async def _health_probe(base: str, until: float) -> list[float]:
    client = AsyncHTTPClient(force_instance=True)
    samples = []
    while time.monotonic() < until:
        start = time.perf_counter()
        await client.fetch(base + "coda/api/health", headers=AUTH, request_timeout=30)
        samples.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(0.05)
    return samples


async def _echo_probe(base: str, name: str, until: float) -> list[float]:
    """Type one character at a quiet shell prompt and time its echo."""
    ws = await websocket_connect(_ws_url(base, name))
    samples = []
    typed = 0
    while time.monotonic() < until:
        start = time.perf_counter()
        await ws.write_message(json.dumps(["stdin", "x"]))
        while True:
            message = await ws.read_message()
            if message is None:
                raise RuntimeError("quiet terminal closed")
            kind, *payload = json.loads(message)
            if kind == "stdout" and "x" in str(payload[0]):
                break
        samples.append((time.perf_counter() - start) * 1000)
        typed += 1
        if typed % 40 == 0:
            await ws.write_message(json.dumps(["stdin", "\x15"]))  # Ctrl+U: keep the line short
        await asyncio.sleep(0.1)
    ws.close()
    return samples


def probe_process(base: str, quiet: str, seconds: float, out: Any) -> None:
    async def run() -> dict[str, list[float]]:
        until = time.monotonic() + seconds
        health, echo = await asyncio.gather(_health_probe(base, until), _echo_probe(base, quiet, until))
        return {"health": health, "echo": echo}

    out.put(("probe", asyncio.run(run())))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def _prepare(base: str, floods: int) -> tuple[list[str], str]:
    names = [(await _post(base, "coda/api/agents/flood/terminals"))["name"] for _ in range(floods)]
    quiet = (await _post(base, "api/terminals"))["name"]
    return names, quiet


def run_load(seconds: float, floods: int, clients: int, pause: float = 0.0) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}/"
        server = start_server(
            Path(tmp),
            port,
            TOKEN,
            stubs={"flood-agent": FLOOD_STUB},
            config={
                "CodaApp": {"agents": {"flood": {"executable": "flood-agent"}}},
                "SetupService": {"builtin": False},
            },
        )
        try:
            wait_ready(port, TOKEN)
            names, quiet = asyncio.run(_prepare(base, floods))
            time.sleep(1.0)  # let the quiet shell print its prompt
            rss_start = rss_mib(server.pid)
            rss_peak = rss_start
            out = context.Queue()
            workers = [
                context.Process(target=flood_process, args=(base, names, seconds, out)),
                context.Process(target=clients_process, args=(base, clients, pause, seconds, out)),
                context.Process(target=probe_process, args=(base, quiet, seconds, out)),
            ]
            for worker in workers:
                worker.start()
            results: dict[str, Any] = {}
            deadline = time.monotonic() + seconds + 120
            while len(results) < len(workers) and time.monotonic() < deadline:
                rss_peak = max(rss_peak, rss_mib(server.pid))
                try:
                    kind, value = out.get(timeout=0.5)
                    results[kind] = value
                except queue.Empty:
                    continue
            rss_end = rss_mib(server.pid)
            for worker in workers:
                worker.join(timeout=30)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            log_lines = (Path(tmp) / "server.log").read_text(errors="replace").splitlines()
            errors = [line for line in log_lines if " 5" in line and "[W" in line]
            if errors:
                print("\n".join(errors[:5]), file=sys.stderr)
    if len(results) < len(workers):
        raise RuntimeError(f"load workers did not report: got {sorted(results)}")
    health, echo = results["probe"]["health"], results["probe"]["echo"]
    return {
        "seconds": seconds,
        "flood_terminals": floods,
        "api_clients": clients,
        "client_pause_s": pause,
        "flood_mb_read": round(results["flood"]["bytes"] / 1e6, 1),
        "api_requests": results["clients"],
        "health_ms": _summary(health),
        "echo_ms": _summary(echo),
        "server_rss_mib": {"start": round(rss_start, 1), "peak": round(rss_peak, 1), "end": round(rss_end, 1)},
        "rss_growth_mib": round(rss_end - rss_start, 1),
        "targets": {"health_p99_ms": 100, "echo_p99_ms": 50, "rss_growth_mib": 200},
        "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
    }


def _summary(samples: list[float]) -> dict[str, Any]:
    return {
        "samples": len(samples),
        "p50": round(percentile(samples, 0.5), 1),
        "p99": round(percentile(samples, 0.99), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--floods", type=int, default=8)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds each API client waits between requests")
    args = parser.parse_args()
    report = run_load(args.seconds, args.floods, args.clients, args.pause)
    print(json.dumps(report, indent=2))
    print()
    print("| measure | value | target |")
    print("| --- | --- | --- |")
    health, echo = report["health_ms"], report["echo_ms"]
    print(f"| `coda/api/health` p99 ({health['samples']} samples) | {health['p99']} ms | ≤ 100 ms |")
    print(f"| echo p99 in a quiet terminal ({echo['samples']} keys) | {echo['p99']} ms | ≤ 50 ms |")
    print(f"| server RSS growth | {report['rss_growth_mib']} MiB | ≤ 200 MiB |")
    api = report["api_requests"]
    print(f"| API requests ok / 5xx / other | {api['ok']} / {api['5xx']} / {api['other']} | no 5xx |")


if __name__ == "__main__":
    main()
