"""Benchmark the local model gateway against going to the HTTPS upstream directly.

Three processes, as in production: the fake upstream over TLS (its own
process, with a throwaway CA that the gateway trusts through
``SSL_CERT_FILE``, as a deployment would), the gateway (this process, on its
event loop, as inside Jupyter Server) and a load client (a child of this
script holding blocking keep-alive connections, as an agent would). Three
targets, measured in one run, interleaved request by request:

- ``direct``: a keep-alive HTTPS connection to the upstream;
- ``gateway``: a keep-alive connection to the gateway, which reuses its
  upstream connections;
- ``per-request``: a second gateway with ``pool_size=0``, which opens a new
  upstream connection (TCP and TLS handshakes) for every request, as the
  gateway did before it pooled them.

Measures: small JSON chat completion, latency to the last byte; a short
streamed Anthropic answer (11 events, each flushed on its own), time to the
first SSE byte and to the last; p50 / p90 / p99 of each, and
the gateway's added latency (gateway minus direct, per percentile); then the
throughput of a large SSE stream, median of several runs.

Prints a JSON summary and a Markdown table; writes no files outside a
temporary folder. Usage:
``.venv/bin/python bench/bench_gateway.py [--requests 400] [--runs 5] [--stream-mb 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.coda_server import percentile  # noqa: E402
from coda_jupyter.gateway import ModelGateway, upstream_base  # noqa: E402

LOCAL_KEY = "bench-local-key"
SMALL_BODY = json.dumps({"model": "databricks-bench", "messages": [{"role": "user", "content": "ping"}]}).encode()
STREAM_BODY = json.dumps(
    {"model": "databricks-bench", "stream": True, "max_tokens": 64, "messages": [{"role": "user", "content": "go"}]}
).encode()
# Paths per API on the upstream (AI Gateway layout) and on the gateway. Chat
# streams are the fake's large stream; Anthropic streams are a short answer.
CHAT, MESSAGES = "chat", "messages"
DIRECT_PATHS = {CHAT: "/openai/v1/chat/completions", MESSAGES: "/anthropic/v1/messages"}
GATEWAY_PATHS = {CHAT: "/openai/chat/completions", MESSAGES: "/anthropic/v1/messages"}
WARMUP = 30
TARGETS = ("direct", "gateway", "per-request")
PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


# ---------------------------------------------------------------- load client (child process)


class _Target:
    """One keep-alive connection to the upstream (HTTPS) or to a gateway (loopback HTTP)."""

    def __init__(self, connection: http.client.HTTPConnection, paths: dict[str, str]) -> None:
        self.connection = connection
        self.paths = paths
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {LOCAL_KEY}"}

    def post(self, api: str, body: bytes) -> tuple[float, float, int]:
        """Seconds from sending to the first body byte and to the last, and bytes received."""
        start = time.perf_counter()
        self.connection.request("POST", self.paths[api], body=body, headers=self.headers)
        response = self.connection.getresponse()
        first = response.read1(65536)
        first_byte = time.perf_counter()
        received = len(first)
        while True:
            piece = response.read(65536)
            if not piece:
                break
            received += len(piece)
        last_byte = time.perf_counter()
        if response.status != 200:
            raise RuntimeError(f"{self.paths[api]} answered {response.status}")
        return first_byte - start, last_byte - start, received


def _summary(samples: dict[str, list[float]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for target, values in samples.items():
        result[target] = {name: percentile(values, q) * 1000 for name, q in PERCENTILES}
    for target in ("gateway", "per-request"):
        result[f"{target}_added"] = {name: result[target][name] - result["direct"][name] for name, _ in PERCENTILES}
    return result


def run_client(config: dict[str, Any]) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=config["ca"])
    targets = {
        "direct": _Target(
            http.client.HTTPSConnection("127.0.0.1", config["upstream_port"], timeout=60, context=context),
            DIRECT_PATHS,
        ),
        "gateway": _Target(http.client.HTTPConnection("127.0.0.1", config["gateway_port"], timeout=60), GATEWAY_PATHS),
        "per-request": _Target(
            http.client.HTTPConnection("127.0.0.1", config["fresh_gateway_port"], timeout=60), GATEWAY_PATHS
        ),
    }
    for _ in range(WARMUP):
        for target in targets.values():
            target.post(CHAT, SMALL_BODY)
            target.post(MESSAGES, STREAM_BODY)
    small: dict[str, list[float]] = {name: [] for name in TARGETS}
    first_sse: dict[str, list[float]] = {name: [] for name in TARGETS}
    whole_sse: dict[str, list[float]] = {name: [] for name in TARGETS}
    for index in range(config["requests"]):
        # Rotate who goes first so that no target always gets the warmest caches.
        order = TARGETS[index % 3 :] + TARGETS[: index % 3]
        for name in order:
            small[name].append(targets[name].post(CHAT, SMALL_BODY)[1])
            first, last, _ = targets[name].post(MESSAGES, STREAM_BODY)
            first_sse[name].append(first)
            whole_sse[name].append(last)
    throughput: dict[str, list[float]] = {"direct": [], "gateway": []}
    ratios: list[float] = []
    stream_bytes = 0
    for _ in range(config["runs"]):
        _, d_seconds, stream_bytes = targets["direct"].post(CHAT, STREAM_BODY)
        _, g_seconds, g_bytes = targets["gateway"].post(CHAT, STREAM_BODY)
        if g_bytes != stream_bytes:
            raise RuntimeError(f"gateway relayed {g_bytes} bytes, upstream sent {stream_bytes}")
        throughput["direct"].append(stream_bytes / d_seconds / 1e6)
        throughput["gateway"].append(g_bytes / g_seconds / 1e6)
        ratios.append(throughput["gateway"][-1] / throughput["direct"][-1])
    return {
        "requests": config["requests"],
        "small_json_ms": _summary(small),
        "first_sse_byte_ms": _summary(first_sse),
        "whole_sse_ms": _summary(whole_sse),
        "big_sse": {
            "bytes": stream_bytes,
            "runs": config["runs"],
            "direct_mb_per_s": statistics.median(throughput["direct"]),
            "gateway_mb_per_s": statistics.median(throughput["gateway"]),
            "throughput_ratio": statistics.median(ratios),
        },
    }


# ---------------------------------------------------------------- orchestration (this process)


def _start_upstream(ca: Path, stream_bytes: int) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.gateway.tls_upstream", str(ca), "--big-sse-bytes", str(stream_bytes)],
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


async def _measure(upstream_port: int, ca: Path, requests: int, runs: int) -> dict[str, Any]:
    base = f"https://127.0.0.1:{upstream_port}"
    # The deployment's way of trusting a private CA; the gateway reads it when it starts.
    os.environ["SSL_CERT_FILE"] = str(ca)
    gateways = [
        ModelGateway(
            upstream=lambda route: upstream_base(route, gateway=base, host=None),
            token=lambda: "dapi-bench-token",
            local_key=LOCAL_KEY,
            pool_size=pool_size,
        )
        for pool_size in (16, 0)
    ]
    for gateway in gateways:
        await gateway.start()
    try:
        config = {
            "upstream_port": upstream_port,
            "gateway_port": gateways[0].port,
            "fresh_gateway_port": gateways[1].port,
            "ca": str(ca),
            "requests": requests,
            "runs": runs,
        }
        child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--client", json.dumps(config), stdout=asyncio.subprocess.PIPE
        )
        out, _ = await child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"load client failed with exit code {child.returncode}")
        result: dict[str, Any] = json.loads(out)
        result["upstream_connections_opened"] = {
            "gateway": gateways[0].pool().connections_opened,
            "per-request": gateways[1].pool().connections_opened,
        }
        result["gateway_errors"] = sum(gateway.status()["errors"] for gateway in gateways)
        return result
    finally:
        for gateway in gateways:
            await gateway.stop()


def _row(label: str, measures: dict[str, Any]) -> str:
    return f"| {label} | " + " / ".join(f"{measures[name]:.2f}" for name, _ in PERCENTILES) + " |"


def _table(result: dict[str, Any]) -> str:
    lines = ["| measure (ms) | p50 / p90 / p99 |", "| --- | --- |"]
    for key, title in (
        ("small_json_ms", "small JSON, last byte"),
        ("first_sse_byte_ms", "SSE, first byte"),
        ("whole_sse_ms", "SSE, last byte"),
    ):
        section = result[key]
        lines += [
            _row(f"{title}: direct (keep-alive HTTPS)", section["direct"]),
            _row(f"{title}: through the gateway (pooled)", section["gateway"]),
            _row(f"{title}: through the gateway, new connection per request", section["per-request"]),
            _row(f"{title}: **added by the gateway (pooled)**", section["gateway_added"]),
            _row(f"{title}: added, new connection per request", section["per-request_added"]),
        ]
    big = result["big_sse"]
    lines += [
        "",
        f"{big['bytes'] / 1e6:.1f} MB SSE stream, median of {big['runs']}: direct {big['direct_mb_per_s']:.0f} MB/s, "
        f"gateway {big['gateway_mb_per_s']:.0f} MB/s, ratio {big['throughput_ratio']:.2f}.",
        f"Upstream connections opened: {result['upstream_connections_opened']}; gateway errors: "
        f"{result['gateway_errors']}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stream-mb", type=float, default=5.0)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(run_client(json.loads(args.client))))
        return
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as folder:
        ca = Path(folder) / "ca.pem"
        upstream, port = _start_upstream(ca, int(args.stream_mb * 1_000_000))
        try:
            result = asyncio.run(_measure(port, ca, args.requests, args.runs))
        finally:
            upstream.terminate()
            upstream.wait(timeout=10)
    result["targets_met"] = {
        "added_p50_le_2ms": result["small_json_ms"]["gateway_added"]["p50"] <= 2.0,
        "added_first_sse_byte_p50_le_2ms": result["first_sse_byte_ms"]["gateway_added"]["p50"] <= 2.0,
    }
    print(json.dumps(result, indent=2))
    print()
    print(_table(result))


if __name__ == "__main__":
    main()
