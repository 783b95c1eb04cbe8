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
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RUNS = 200
LIST_SECONDS = 5.0
TOKEN = "bench-token"
# The stub stays up: submit latency is measured without terminals ending
# meanwhile (terminado blocks its loop ~100 ms on every PTY close).
STUB = "#!/bin/sh\nexec sleep 120\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(home: Path, port: int) -> subprocess.Popen[bytes]:
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    stub = bin_dir / "bench-agent"
    stub.write_text(STUB)
    stub.chmod(0o755)
    (home / "root").mkdir()
    config = {
        "ServerApp": {
            "port": port, "ip": "127.0.0.1", "open_browser": False, "allow_root": True,
            "root_dir": str(home / "root"),
            "jpserver_extensions": {"coda_jupyter": True, "jupyter_server_terminals": True, "tests.mcp.coda_test_routes": True},
        },
        "IdentityProvider": {"token": TOKEN},
        "CodaApp": {"agents": {"bench": {"executable": "bench-agent"}}},
        "TaskRunner": {"default_agent": "bench", "max_concurrent": RUNS + 10},
    }
    (home / "config").mkdir()
    (home / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
    env = {
        **os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    log = open(home / "server.log", "wb")  # noqa: SIM115 (lives as long as the server)
    return subprocess.Popen([sys.executable, "-m", "jupyter_server"], env=env, stdout=log, stderr=subprocess.STDOUT)


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


def _wait(port: int) -> None:
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/status", headers={"Authorization": f"token {TOKEN}"})
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        server = _start(Path(tmp), port)
        try:
            _wait(port)
            client = Client(port)
            client.rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}})
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
            server.terminate()
            server.wait(timeout=30)
    report = {
        "coda_run_submit_ms": {
            "runs": RUNS,
            "p50": round(statistics.median(latencies), 2),
            "p99": round(_pct(latencies, 0.99), 2),
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
