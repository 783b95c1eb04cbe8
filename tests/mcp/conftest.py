"""A real Jupyter Server with coda-jupyter, its MCP endpoint and a stub agent on PATH."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from ..conftest import write_stub

# The stub plays a headless agent: it reads the task from stdin (a configured
# agent's last argument only names the prompt file), reports progress and
# writes result.json where the environment says.
STUB_AGENT = r"""if [ "$1" = "--version" ]; then echo "1.0.0"; exit 0; fi
prompt=$(cat)
case "$prompt" in
  *MODE:SLEEP*)
    echo '{"step": "wait", "message": "stub is sleeping"}' >> "$CODA_TASK_STATUS_FILE"
    echo "stub sleeping in $(pwd)"
    sleep 300 &
    echo $! > "$CODA_TASK_DIR/sleep.pid"
    wait
    ;;
  *MODE:CRASH*)
    echo "stub crashing on purpose"
    exit 3
    ;;
  *MODE:SILENT*)
    echo "stub answer without a result file"
    ;;
  *)
    echo '{"step": "plan", "message": "stub is planning"}' >> "$CODA_TASK_STATUS_FILE"
    echo "stub working on $CODA_TASK_ID in $(pwd)"
    echo '{"step": "done", "message": "stub wrote the result"}' >> "$CODA_TASK_STATUS_FILE"
    printf '{"status": "completed", "summary": "stub did %s", "files_changed": ["out.txt"]}' "$CODA_TASK_ID" > "$CODA_TASK_RESULT_FILE.tmp"
    mv "$CODA_TASK_RESULT_FILE.tmp" "$CODA_TASK_RESULT_FILE"
    ;;
esac
"""


def tasks_root() -> Path:
    """Where the server under test keeps task folders (``CodaApp.data_dir``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "coda-jupyter" / "tasks"


def server_config(max_concurrent: int = 2) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {
                "coda_jupyter": True,
                "jupyter_server_terminals": True,
            },
            "allow_unauthenticated_access": False,
        },
        "CodaApp": {"agents": {"stubby": {"executable": "stubby-agent", "label": "Stubby"}}},
        "SetupService": {"builtin": False},
        "TaskRunner": {"default_agent": "stubby", "max_concurrent": max_concurrent, "kill_grace_s": 1.0},
    }


@pytest.fixture
def jp_server_config(jp_server_config: Any) -> dict[str, Any]:
    return server_config()


@pytest.fixture
def stub_agent(jp_home_dir: Path) -> Path:
    return write_stub(Path(jp_home_dir) / ".local" / "bin", "stubby-agent", STUB_AGENT)


@pytest.fixture
def mcp_url(jp_serverapp: Any, http_server_client: Any, jp_http_port: int, jp_base_url: str) -> str:
    """The endpoint of the live test server (``http_server_client`` makes it listen)."""
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}coda/mcp"


@pytest.fixture
def mcp_session(jp_serverapp: Any, mcp_url: str, stub_agent: Path) -> Callable[[], Any]:
    """An initialized official-SDK ``ClientSession`` against the live server."""
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    @asynccontextmanager
    async def open_session() -> AsyncIterator[ClientSession]:
        headers = {"Authorization": f"token {jp_serverapp.identity_provider.token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            streamable_http_client(mcp_url, http_client=http) as streams,
            ClientSession(streams[0], streams[1]) as session,
        ):
            await session.initialize()
            yield session

    return open_session


async def call(session: Any, name: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool; returns its structured content, or ``{"error": text}`` for tool errors."""
    result = await session.call_tool(name, arguments)
    if result.is_error:
        return {"error": result.content[0].text}
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content
