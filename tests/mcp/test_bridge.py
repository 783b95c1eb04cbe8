"""coda-bridge against the live server, directly and behind a fake Databricks Apps proxy."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tornado.testing import bind_unused_port

from coda_jupyter.mcp.bridge import Bridge, DatabricksToken, StaticToken

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "stdio", "version": "1"}},
}


async def _exchange(bridge: Bridge, *messages: dict[str, Any]) -> list[dict[str, Any] | None]:
    replies = []
    for message in messages:
        out = await asyncio.to_thread(bridge.handle, json.dumps(message))
        replies.append(None if out is None else json.loads(out))
    return replies


def _handshake() -> tuple[dict[str, Any], ...]:
    return (
        INIT,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    )


async def test_bridge_direct_with_jupyter_token(mcp_url: str, jp_serverapp: Any, stub_agent: Path) -> None:
    bridge = Bridge(mcp_url, StaticToken(jp_serverapp.identity_provider.token), timeout=30)
    init, note, tools = await _exchange(bridge, *_handshake())
    assert init["result"]["protocolVersion"] == "2025-11-25"
    assert note is None
    assert bridge.session_id and bridge.protocol_version == "2025-11-25"
    assert {"coda_run", "coda_notebook_execute"} <= {tool["name"] for tool in tools["result"]["tools"]}

    # The server forgets the session (e.g. a restart): the bridge initializes again by itself.
    first_session = bridge.session_id
    jp_serverapp.web_app.settings["coda_services"].mcp.endpoint.sessions.end(first_session)
    [run] = await _exchange(
        bridge,
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "coda_run", "arguments": {"prompt": "hi"}},
        },
    )
    assert run["result"]["structuredContent"]["status"] == "running"
    assert bridge.session_id != first_session

    [unknown] = await _exchange(bridge, {"jsonrpc": "2.0", "id": 4, "method": "nope"})
    assert unknown["error"]["code"] == -32601
    await asyncio.to_thread(bridge.close)
    assert len(jp_serverapp.web_app.settings["coda_services"].mcp.endpoint.sessions) == 0


async def test_bridge_errors_become_jsonrpc_errors() -> None:
    sock, port = bind_unused_port()
    sock.close()  # nothing listens there
    bridge = Bridge(f"http://127.0.0.1:{port}/mcp", StaticToken(None), timeout=5)
    [request, note] = await _exchange(
        bridge, {"jsonrpc": "2.0", "id": "a", "method": "ping"}, {"jsonrpc": "2.0", "method": "x"}
    )
    assert request["id"] == "a" and request["error"]["code"] == -32000
    assert "cannot reach" in request["error"]["message"]
    assert note is None
    assert bridge.handle("{not json") is None  # no id to answer


class _NoMetadata(BaseHTTPRequestHandler):
    """A workspace that has no host metadata: the SDK then uses the profile as given."""

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error_code": "ENDPOINT_NOT_FOUND", "message": "no"}')

    def log_message(self, *args: Any) -> None:
        pass


def test_databricks_token_source_uses_the_sdk_profile(tmp_path: Path, monkeypatch: Any) -> None:
    workspace = ThreadingHTTPServer(("127.0.0.1", 0), _NoMetadata)
    threading.Thread(target=workspace.serve_forever, daemon=True).start()
    host = f"http://127.0.0.1:{workspace.server_address[1]}"
    config = tmp_path / "databrickscfg"
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(config))
    try:
        config.write_text(f"[coda]\nhost = {host}\ntoken = dapi-profile-token\n")
        source = DatabricksToken("coda")
        assert source.token() == "dapi-profile-token"
        config.write_text(f"[coda]\nhost = {host}\ntoken = dapi-rotated\n")
        assert source.token() == "dapi-profile-token"  # cached
        assert source.token(refresh=True) == "dapi-rotated"
    finally:
        workspace.shutdown()
