"""Benchmark the local model gateway against going to the upstream directly.

Three processes, as in production: the fake upstream (its own process), the
gateway (this process, on its event loop, as inside Jupyter Server) and a
load client (a child of this script using blocking keep-alive connections, as
an agent would). Measures, in one run:

- small JSON chat completion: added latency p50 / p99 over paired requests;
- streamed SSE chat completion of ~5 MB: throughput through the gateway
  relative to direct, median of several runs.

Prints a JSON summary and a Markdown table; writes no files.
Usage: ``.venv/bin/python bench/bench_gateway.py [--requests 300] [--runs 5] [--stream-mb 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from coda_jupyter.gateway import ModelGateway, upstream_base  # noqa: E402

LOCAL_KEY = "bench-local-key"
SMALL_BODY = json.dumps({"model": "databricks-bench", "messages": [{"role": "user", "content": "ping"}]}).encode()
STREAM_BODY = json.dumps({"model": "databricks-bench", "stream": True, "messages": [{"role": "user", "content": "go"}]}).encode()
WARMUP = 30


# ---------------------------------------------------------------- load client (child process)


class _Target:
    """One keep-alive connection to either the upstream or the gateway."""

    def __init__(self, port: int, path: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.path = path
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {LOCAL_KEY}"}

    def post(self, body: bytes) -> tuple[float, int]:
        """Seconds from sending to the last byte, and bytes received."""
        start = time.perf_counter()
        self.connection.request("POST", self.path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        received = 0
        while True:
            piece = response.read(65536)
            if not piece:
                break
            received += len(piece)
        elapsed = time.perf_counter() - start
        if response.status != 200:
            raise RuntimeError(f"{self.path} answered {response.status}")
        return elapsed, received


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run_client(config: dict[str, Any]) -> dict[str, Any]:
    direct = _Target(config["upstream_port"], "/openai/v1/chat/completions")
    via = _Target(config["gateway_port"], "/openai/chat/completions")
    for _ in range(WARMUP):
        direct.post(SMALL_BODY)
        via.post(SMALL_BODY)
    direct_ms: list[float] = []
    via_ms: list[float] = []
    for index in range(config["requests"]):
        # Alternate who goes first so neither side always gets the warmer cache.
        order = (direct, via) if index % 2 == 0 else (via, direct)
        for target in order:
            seconds, _ = target.post(SMALL_BODY)
            (direct_ms if target is direct else via_ms).append(seconds * 1000)
    ratios: list[float] = []
    direct_mbps: list[float] = []
    via_mbps: list[float] = []
    stream_bytes = 0
    for _ in range(config["runs"]):
        d_seconds, stream_bytes = direct.post(STREAM_BODY)
        v_seconds, v_bytes = via.post(STREAM_BODY)
        if v_bytes != stream_bytes:
            raise RuntimeError(f"gateway relayed {v_bytes} bytes, upstream sent {stream_bytes}")
        direct_mbps.append(stream_bytes / d_seconds / 1e6)
        via_mbps.append(v_bytes / v_seconds / 1e6)
        ratios.append(via_mbps[-1] / direct_mbps[-1])
    return {
        "small_json": {
            "requests": config["requests"],
            "direct_p50_ms": _percentile(direct_ms, 0.5),
            "direct_p99_ms": _percentile(direct_ms, 0.99),
            "gateway_p50_ms": _percentile(via_ms, 0.5),
            "gateway_p99_ms": _percentile(via_ms, 0.99),
            "added_p50_ms": _percentile(via_ms, 0.5) - _percentile(direct_ms, 0.5),
            "added_p99_ms": _percentile(via_ms, 0.99) - _percentile(direct_ms, 0.99),
        },
        "sse_stream": {
            "bytes": stream_bytes,
            "runs": config["runs"],
            "direct_mb_per_s": statistics.median(direct_mbps),
            "gateway_mb_per_s": statistics.median(via_mbps),
            "throughput_ratio": statistics.median(ratios),
        },
    }


# ---------------------------------------------------------------- orchestration (this process)


def _start_upstream(stream_bytes: int) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.model_upstream", "--big-sse-bytes", str(stream_bytes)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise RuntimeError("the fake upstream did not start")
    return process, int(json.loads(line)["port"])


async def _measure(upstream_port: int, requests: int, runs: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{upstream_port}"
    gateway = ModelGateway(
        upstream=lambda route: upstream_base(route, gateway=base, host=None),
        token=lambda: "dapi-bench-token",
        local_key=LOCAL_KEY,
    )
    await gateway.start()
    try:
        config = {"upstream_port": upstream_port, "gateway_port": gateway.port, "requests": requests, "runs": runs}
        child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--client", json.dumps(config), stdout=asyncio.subprocess.PIPE
        )
        out, _ = await child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"load client failed with exit code {child.returncode}")
        result = json.loads(out)
        result["gateway_status"] = {k: gateway.status()[k] for k in ("requests_served", "errors")}
        return result
    finally:
        await gateway.stop()


def _table(result: dict[str, Any]) -> str:
    small, sse = result["small_json"], result["sse_stream"]
    rows = [
        ("Small JSON, added p50", f"{small['added_p50_ms']:.2f} ms", "≤ 2 ms"),
        ("Small JSON, added p99", f"{small['added_p99_ms']:.2f} ms", "—"),
        ("Small JSON, direct p50 / p99", f"{small['direct_p50_ms']:.2f} / {small['direct_p99_ms']:.2f} ms", "—"),
        ("Small JSON, gateway p50 / p99", f"{small['gateway_p50_ms']:.2f} / {small['gateway_p99_ms']:.2f} ms", "—"),
        (
            f"SSE {sse['bytes'] / 1e6:.1f} MB, throughput direct / gateway",
            f"{sse['direct_mb_per_s']:.0f} / {sse['gateway_mb_per_s']:.0f} MB/s",
            "—",
        ),
        ("SSE throughput ratio (median)", f"{sse['throughput_ratio']:.2f} × direct", "≥ 0.9 × direct"),
    ]
    lines = ["| Measure | Result | Target |", "| --- | --- | --- |"]
    lines += [f"| {name} | {value} | {target} |" for name, value, target in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stream-mb", type=float, default=5.0)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(run_client(json.loads(args.client))))
        return
    upstream, port = _start_upstream(int(args.stream_mb * 1_000_000))
    try:
        result = asyncio.run(_measure(port, args.requests, args.runs))
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
    result["targets_met"] = {
        "added_p50_le_2ms": result["small_json"]["added_p50_ms"] <= 2.0,
        "stream_ratio_ge_0_9": result["sse_stream"]["throughput_ratio"] >= 0.9,
    }
    print(json.dumps(result, indent=2))
    print()
    print(_table(result))


if __name__ == "__main__":
    main()
