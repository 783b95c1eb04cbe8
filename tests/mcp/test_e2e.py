"""End to end with the official MCP Python client against a live Jupyter Server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from ..conftest import write_stub
from .conftest import STUB_AGENT, call, server_config, tasks_root


async def _until(session: Any, task_id: str, statuses: set[str], timeout: float = 20) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await call(session, "coda_get_result", task_id=task_id)
        if result["status"] in statuses:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"task {task_id} stayed {result['status']}: {result}")
        await asyncio.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_initialize_and_list_tools(mcp_session: Any) -> None:
    async with mcp_session() as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    task_tools = {name for name in tools if not name.startswith(("coda_notebook_", "coda_kernel_"))}
    assert task_tools == {"coda_run", "coda_inbox", "coda_get_result", "coda_cancel"}
    run = tools["coda_run"]
    assert run.input_schema["required"] == ["prompt"]
    assert "stubby" in run.input_schema["properties"]["agent"]["enum"]
    assert run.input_schema["properties"]["permissions"]["enum"] == ["workspace", "bypass"]
    assert run.annotations.read_only_hint is False
    assert tools["coda_inbox"].annotations.read_only_hint is True
    assert tools["coda_cancel"].annotations.destructive_hint is True


async def test_run_inbox_result(mcp_session: Any, jp_root_dir: Path) -> None:
    (Path(jp_root_dir) / "proj").mkdir()
    async with mcp_session() as session:
        started = await call(session, "coda_run", prompt="Refactor the module", cwd="proj", context={"table": "a.b.c"})
        task_id = started["task_id"]
        assert started["status"] == "running"
        assert started["terminal"] == f"task_{task_id}"
        assert started["lab_url"].endswith(f"/lab?coda-terminal=task_{task_id}")

        result = await _until(session, task_id, {"completed"})
        assert result["summary"] == f"stub did {task_id}"
        assert result["files_changed"] == ["out.txt"]
        assert result["exit_code"] == 0

        inbox = await call(session, "coda_inbox")
        assert inbox["counts"] == {"completed": 1}
        [entry] = inbox["tasks"]
        assert entry["task_id"] == task_id
        assert entry["prompt_summary"] == "Refactor the module"
        assert entry["summary"] == f"stub did {task_id}"

        # A follow-up points the agent at the earlier task's folder and result.
        follow = await call(session, "coda_run", prompt="MODE:SILENT continue", previous_task_id=task_id)
        silent = await _until(session, follow["task_id"], {"completed"})
        assert silent["previous_task_id"] == task_id
        assert "stub answer without a result file" in silent["summary"]
        inbox = await call(session, "coda_inbox", limit=1)
        assert [t["task_id"] for t in inbox["tasks"]] == [follow["task_id"]]
        assert inbox["counts"] == {"completed": 2}

    tasks = tasks_root()
    folder = tasks / task_id
    envelope = (folder / "prompt.txt").read_text()
    assert "Refactor the module" in envelope and '"table": "a.b.c"' in envelope
    assert str(folder / "status.jsonl") in envelope and str(folder / "result.json") in envelope
    steps = [json.loads(line) for line in (folder / "status.jsonl").read_text().splitlines()]
    assert [s.get("message") for s in steps if "step" in s] == ["stub is planning", "stub wrote the result"]
    assert steps[-1]["status"] == "completed"
    assert (
        f"stub working on {task_id} in {Path(jp_root_dir).resolve() / 'proj'}"
        in (folder / "transcript.log").read_text()
    )
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["agent"] == "stubby" and meta["status"] == "completed"
    follow_envelope = (tasks / follow["task_id"] / "prompt.txt").read_text()
    assert f"{folder}/result.json" in follow_envelope and f"stub did {task_id}" in follow_envelope


async def test_failure_without_result_uses_exit_code(mcp_session: Any) -> None:
    async with mcp_session() as session:
        started = await call(session, "coda_run", prompt="MODE:CRASH")
        result = await _until(session, started["task_id"], {"failed"})
    assert result["exit_code"] == 3
    assert "exit code 3" in result["summary"]
    assert "stub crashing on purpose" in result["transcript_tail"]


async def test_cancel_kills_the_process_group(mcp_session: Any) -> None:
    async with mcp_session() as session:
        started = await call(session, "coda_run", prompt="MODE:SLEEP")
        task_id = started["task_id"]
        running = await call(session, "coda_get_result", task_id=task_id)
        assert running["status"] == "running"
        pid_file = tasks_root() / task_id / "sleep.pid"
        for _ in range(100):
            if pid_file.exists() and pid_file.read_text().strip():
                break
            await asyncio.sleep(0.1)
        sleeper = int(pid_file.read_text())
        assert _alive(sleeper)
        assert (await _until(session, task_id, {"running"}))["progress"] == "stub is sleeping"

        cancelled = await call(session, "coda_cancel", task_id=task_id)
        assert cancelled == {"task_id": task_id, "status": "cancelled"}
        result = await _until(session, task_id, {"cancelled"})
        for _ in range(50):
            if "exit_code" in result:
                break
            await asyncio.sleep(0.1)
            result = await call(session, "coda_get_result", task_id=task_id)
        assert result["summary"] == "The task was cancelled."
        for _ in range(50):
            if not _alive(sleeper):
                break
            await asyncio.sleep(0.1)
        assert not _alive(sleeper), "the agent's child survived the cancel"
        # Cancelling a finished task changes nothing.
        assert await call(session, "coda_cancel", task_id=task_id) == {"task_id": task_id, "status": "cancelled"}


async def test_timeout(mcp_session: Any) -> None:
    async with mcp_session() as session:
        started = await call(session, "coda_run", prompt="MODE:SLEEP", timeout_s=1)
        result = await _until(session, started["task_id"], {"timeout"})
        assert result["status"] == "timeout"
        inbox = await call(session, "coda_inbox", status="timeout")
        assert [t["task_id"] for t in inbox["tasks"]] == [started["task_id"]]


async def test_concurrency_limit_and_errors(mcp_session: Any) -> None:
    async with mcp_session() as session:
        first = await call(session, "coda_run", prompt="MODE:SLEEP")
        second = await call(session, "coda_run", prompt="MODE:SLEEP")
        third = await call(session, "coda_run", prompt="MODE:SLEEP")
        assert "Concurrency limit reached" in third["error"]
        assert "at most 2" in third["error"]

        assert "unknown agent 'nope'" in (await call(session, "coda_run", prompt="x", agent="nope"))["error"]
        assert "outside the server root" in (await call(session, "coda_run", prompt="x", cwd="/etc"))["error"]
        assert "NUL" in (await call(session, "coda_run", prompt="x", cwd="a\u0000"))["error"]
        assert "invalid arguments" in (await call(session, "coda_run", prompt=""))["error"]
        assert "unknown task id" in (await call(session, "coda_get_result", task_id="0" * 12))["error"]

        await call(session, "coda_cancel", task_id=first["task_id"])
        await _until(session, first["task_id"], {"cancelled"})
        for _ in range(50):
            fourth = await call(session, "coda_run", prompt="MODE:SLEEP")
            if "error" not in fourth:
                break
            await asyncio.sleep(0.1)
        assert fourth["status"] == "running"
        for task in (second, fourth):
            await call(session, "coda_cancel", task_id=task["task_id"])


async def test_closing_the_terminal_interrupts(mcp_session: Any, jp_fetch: Any) -> None:
    async with mcp_session() as session:
        started = await call(session, "coda_run", prompt="MODE:SLEEP")
        await _until(session, started["task_id"], {"running"})
        response = await jp_fetch("api", "terminals", started["terminal"], method="DELETE")
        assert response.code == 204
        result = await _until(session, started["task_id"], {"interrupted"})
    assert result["summary"] == "The task's terminal was closed before the agent finished."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(home: Path, port: int, token: str) -> subprocess.Popen[bytes]:
    config_dir = home / "config"
    config_dir.mkdir(exist_ok=True)
    config = server_config(max_concurrent=4)
    config["ServerApp"].update(
        {"port": port, "ip": "127.0.0.1", "open_browser": False, "allow_root": True, "root_dir": str(home / "root")}
    )
    config["IdentityProvider"] = {"token": token}
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(config))
    env = {
        **os.environ,
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    log = open(home / f"server-{port}.log", "ab")  # noqa: SIM115 (lives as long as the server)
    return subprocess.Popen(
        [sys.executable, "-m", "jupyter_server"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home
    )


async def _wait_ready(port: int, token: str) -> None:
    client = AsyncHTTPClient()
    for _ in range(300):
        try:
            await client.fetch(f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token}"})
            return
        except (OSError, HTTPClientError):
            await asyncio.sleep(0.1)
    raise AssertionError("the server never came up")


@asynccontextmanager
async def _remote_session(port: int, token: str) -> AsyncIterator[Any]:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx2.AsyncClient(headers={"Authorization": f"token {token}"}, timeout=30) as http,
        streamable_http_client(f"http://127.0.0.1:{port}/coda/mcp", http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        yield session


async def test_restart_marks_running_tasks_interrupted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "root").mkdir(parents=True)
    write_stub(home / ".local" / "bin", "stubby-agent", STUB_AGENT)
    token = "restart-test-token"
    port = _free_port()
    server = _start_server(home, port, token)
    try:
        await _wait_ready(port, token)
        async with _remote_session(port, token) as session:
            done = await call(session, "coda_run", prompt="quick one")
            await _until(session, done["task_id"], {"completed"})
            sleeping = await call(session, "coda_run", prompt="MODE:SLEEP")
            await _until(session, sleeping["task_id"], {"running"})
    finally:
        server.kill()  # a crash: no chance to clean up
        server.wait()

    port = _free_port()
    server = _start_server(home, port, token)
    try:
        await _wait_ready(port, token)
        async with _remote_session(port, token) as session:
            inbox = await call(session, "coda_inbox")
            assert {t["task_id"]: t["status"] for t in inbox["tasks"]} == {
                sleeping["task_id"]: "interrupted",
                done["task_id"]: "completed",
            }
            result = await call(session, "coda_get_result", task_id=sleeping["task_id"])
            assert result["status"] == "interrupted"
            kept = await call(session, "coda_get_result", task_id=done["task_id"])
            assert kept["summary"] == f"stub did {done['task_id']}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        pid_file = home / "data" / "coda" / "tasks" / sleeping["task_id"] / "sleep.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


async def test_panel_rest_api(mcp_session: Any, jp_fetch: Any) -> None:
    async with mcp_session() as session:
        started = await call(session, "coda_run", prompt="MODE:SLEEP for the panel")
        task_id = started["task_id"]
        await _until(session, task_id, {"running"})
        listing = json.loads((await jp_fetch("coda", "api", "tasks")).body)
        assert [t["task_id"] for t in listing["tasks"]] == [task_id]
        assert listing["tasks"][0]["lab_url"].endswith(f"/lab?coda-terminal=task_{task_id}")
        for _ in range(50):
            detail = json.loads((await jp_fetch("coda", "api", "tasks", task_id)).body)
            if "stub sleeping" in detail["transcript_tail"]:
                break
            await asyncio.sleep(0.1)
        assert detail["status"] == "running" and detail["result"] is None
        assert detail["progress"] == "stub is sleeping"
        assert "stub sleeping" in detail["transcript_tail"]
        cancelled = await jp_fetch("coda", "api", "tasks", task_id, "cancel", method="POST", body="{}")
        assert json.loads(cancelled.body) == {"task_id": task_id, "status": "cancelled"}
        await _until(session, task_id, {"cancelled"})
    transcript = (await jp_fetch("coda", "api", "tasks", task_id, "transcript")).body.decode()
    assert "stub sleeping" in transcript and "\x1b" not in transcript
    with pytest.raises(HTTPClientError) as missing:
        await jp_fetch("coda", "api", "tasks", "0" * 12)
    assert missing.value.code == 404
