"""Benchmark of the MCP endpoint: coda_run submit latency and tools/list throughput.

Starts a real Jupyter Server (subprocess) with coda-jupyter and a stub agent
that exits at once, then over one MCP session:

* 200 ``coda_run`` calls, one after the other: latency p50 / p99 (target p50 <= 50 ms);
* ``tools/list`` for a few seconds: requests per second.

Prints a JSON document and a Markdown table. Run: ``.venv/bin/python bench/bench_mcp.py``.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from coda_server import free_port, percentile, start_server, wait_ready

RUNS = 200
LIST_SECONDS = 5.0
TOKEN = "bench-token"
# The stub stays up: submit latency is measured without terminals ending
# meanwhile (terminado blocks its loop ~100 ms on every PTY close).
STUB = "#!/bin/sh\nexec sleep 120\n"


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Content-Type": "application/json", "Authorization": f"token {TOKEN}"}
        self.ids = 0

    def rpc(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.ids += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params or {}})
        self.conn.request("POST", "/coda/mcp", body, self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method}: HTTP {response.status} {data[:200]!r}")
        if "Mcp-Session-Id" in response.headers:
            self.headers["Mcp-Session-Id"] = response.headers["Mcp-Session-Id"]
            self.headers["MCP-Protocol-Version"] = "2025-11-25"
        return json.loads(data)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_server(
            Path(tmp),
            port,
            TOKEN,
            stubs={"bench-agent": STUB},
            config={
                "CodaApp": {"agents": {"bench": {"executable": "bench-agent"}}},
                "TaskRunner": {"default_agent": "bench", "max_concurrent": RUNS + 10},
            },
            extensions=("tests.mcp.coda_test_routes",),
        )
        try:
            wait_ready(port, TOKEN)
            client = Client(port)
            client_info = {"name": "bench", "version": "1"}
            client.rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": client_info})
            latencies = []
            for n in range(RUNS):
                start = time.perf_counter()
                reply = client.rpc("tools/call", {"name": "coda_run", "arguments": {"prompt": f"bench {n}"}})
                latencies.append((time.perf_counter() - start) * 1000)
                if reply["result"].get("isError"):
                    raise RuntimeError(reply["result"]["content"][0]["text"])
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < LIST_SECONDS:
                client.rpc("tools/list")
                count += 1
            rps = count / (time.perf_counter() - start)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    report = {
        "coda_run_submit_ms": {
            "runs": RUNS,
            "p50": round(statistics.median(latencies), 2),
            "p99": round(percentile(latencies, 0.99), 2),
            "max": round(max(latencies), 2),
        },
        "tools_list_rps": round(rps, 1),
        "target_p50_ms": 50,
        "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
    }
    print(json.dumps(report, indent=2))
    print()
    print("| metric | value |")
    print("| --- | --- |")
    print(f"| coda_run submit p50 ({RUNS} calls) | {report['coda_run_submit_ms']['p50']} ms |")
    print(f"| coda_run submit p99 | {report['coda_run_submit_ms']['p99']} ms |")
    print(f"| tools/list over one session | {report['tools_list_rps']} req/s |")


if __name__ == "__main__":
    main()
