"""The MCP endpoint's HTTP and JSON-RPC edges, through a real Jupyter Server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPResponse

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def post(jp_fetch: Any, stub_agent: Path) -> Any:
    async def send(message: Any, headers: dict[str, str] | None = None, raw: bytes | None = None) -> HTTPResponse:
        body = raw if raw is not None else json.dumps(message).encode()
        try:
            return await jp_fetch("coda", "mcp", method="POST", body=body, headers={**JSON, **(headers or {})})
        except HTTPClientError as err:
            assert err.response is not None
            return err.response

    return send


async def _open(post: Any) -> dict[str, str]:
    response = await post(INIT)
    assert response.code == 200
    return {"Mcp-Session-Id": response.headers["Mcp-Session-Id"], "MCP-Protocol-Version": "2025-11-25"}


def _error(response: HTTPResponse) -> dict[str, Any]:
    return json.loads(response.body)["error"]


async def test_initialize_negotiates_and_issues_a_session(post: Any) -> None:
    response = await post(INIT)
    result = json.loads(response.body)["result"]
    assert result["protocolVersion"] == "2025-11-25"
    assert result["capabilities"] == {"tools": {"listChanged": False}}
    assert result["serverInfo"]["name"] == "coda-jupyter"
    assert len(response.headers["Mcp-Session-Id"]) >= 20
    older = await post({**INIT, "params": {**INIT["params"], "protocolVersion": "2025-03-26"}})
    assert json.loads(older.body)["result"]["protocolVersion"] == "2025-03-26"
    future = await post({**INIT, "params": {**INIT["params"], "protocolVersion": "2099-01-01"}})
    assert json.loads(future.body)["result"]["protocolVersion"] == "2025-11-25"


async def test_invalid_json_is_a_parse_error(post: Any) -> None:
    response = await post(None, raw=b'{"jsonrpc": "2.0", "id": 1,')
    assert response.code == 400
    assert _error(response)["code"] == -32700


async def test_batches_are_rejected(post: Any) -> None:
    session = await _open(post)
    response = await post([{"jsonrpc": "2.0", "id": 1, "method": "ping"}], session)
    assert response.code == 400
    body = json.loads(response.body)
    assert body["id"] is None and body["error"]["code"] == -32600
    assert "batch" in body["error"]["message"]


async def test_not_jsonrpc_is_an_invalid_request(post: Any) -> None:
    session = await _open(post)
    response = await post({"jsonrpc": "1.0", "id": 7, "method": "ping"}, session)
    assert response.code == 400
    assert json.loads(response.body)["id"] == 7
    assert _error(response)["code"] == -32600


async def test_missing_and_unknown_sessions(post: Any) -> None:
    session = await _open(post)
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    assert (await post(ping, {"MCP-Protocol-Version": "2025-11-25"})).code == 400
    unknown = await post(ping, {**session, "Mcp-Session-Id": "not-a-session"})
    assert unknown.code == 404
    ok = await post(ping, session)
    assert ok.code == 200 and json.loads(ok.body) == {"jsonrpc": "2.0", "id": 2, "result": {}}


async def test_protocol_version_header(post: Any) -> None:
    session = await _open(post)
    ping = {"jsonrpc": "2.0", "id": 3, "method": "ping"}
    absent = {"Mcp-Session-Id": session["Mcp-Session-Id"]}
    assert (await post(ping, absent)).code == 200  # assumed 2025-03-26
    bad = await post(ping, {**session, "MCP-Protocol-Version": "1999-01-01"})
    assert bad.code == 400
    assert "Unsupported MCP-Protocol-Version" in _error(bad)["message"]


async def test_notifications_and_responses_get_202(post: Any) -> None:
    session = await _open(post)
    note = await post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    assert note.code == 202 and note.body == b""
    reply = await post({"jsonrpc": "2.0", "id": 9, "result": {}}, session)
    assert reply.code == 202 and reply.body == b""


async def test_unknown_method_and_tool(post: Any) -> None:
    session = await _open(post)
    method = await post({"jsonrpc": "2.0", "id": 4, "method": "resources/list"}, session)
    assert method.code == 200 and _error(method)["code"] == -32601
    tool = await post(
        {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "rm_rf", "arguments": {}}}, session
    )
    assert _error(tool) == {"code": -32601, "message": "Unknown tool: rm_rf", "data": None}


async def test_bad_params(post: Any) -> None:
    session = await _open(post)
    no_name = await post({"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"arguments": {}}}, session)
    assert _error(no_name)["code"] == -32602
    bad_args = await post(
        {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "coda_inbox", "arguments": [1]}}, session
    )
    assert _error(bad_args)["code"] == -32602
    bad_init = await post({**INIT, "params": {"protocolVersion": 5}})
    assert _error(bad_init)["code"] == -32602
    # Arguments that break the tool's schema are tool errors the model can fix (spec 2025-11-25).
    wrong = await post(
        {
            "jsonrpc": "2.0",
            "id": 8,
            "method": "tools/call",
            "params": {"name": "coda_inbox", "arguments": {"limit": 0}},
        },
        session,
    )
    result = json.loads(wrong.body)["result"]
    assert result["isError"] is True and "limit" in result["content"][0]["text"]


async def test_foreign_origin_is_forbidden(post: Any, jp_http_port: int) -> None:
    session = await _open(post)
    ping = {"jsonrpc": "2.0", "id": 10, "method": "ping"}
    foreign = await post(ping, {**session, "Origin": "http://evil.example"})
    assert foreign.code == 403
    foreign_init = await post(INIT, {"Origin": "https://attacker.test:8443"})
    assert foreign_init.code == 403
    own = await post(
        ping, {**session, "Origin": f"http://localhost:{jp_http_port}", "Host": f"localhost:{jp_http_port}"}
    )
    assert own.code == 200


async def test_no_auth_is_forbidden(
    jp_http_port: int, jp_base_url: str, stub_agent: Path, http_server_client: Any
) -> None:
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}coda/mcp"
    for method, body in (("POST", json.dumps(INIT)), ("GET", None), ("DELETE", None)):
        with pytest.raises(HTTPClientError) as err:
            await AsyncHTTPClient().fetch(url, method=method, body=body, headers=JSON)
        assert err.value.code == 403, method


async def test_get_is_405(jp_fetch: Any, stub_agent: Path) -> None:
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("coda", "mcp", method="GET")
    assert err.value.code == 405
    assert err.value.response.headers["Allow"] == "POST, DELETE"


async def test_delete_ends_the_session(post: Any, jp_fetch: Any) -> None:
    session = await _open(post)
    response = await jp_fetch("coda", "mcp", method="DELETE", headers=session)
    assert response.code == 204
    gone = await post({"jsonrpc": "2.0", "id": 11, "method": "tools/list"}, session)
    assert gone.code == 404
    with pytest.raises(HTTPClientError) as again:
        await jp_fetch("coda", "mcp", method="DELETE", headers=session)
    assert again.value.code == 404


async def test_oversize_body_and_wrong_content_type(post: Any) -> None:
    session = await _open(post)
    huge = {"jsonrpc": "2.0", "id": 12, "method": "ping", "params": {"pad": "x" * (1024 * 1024 + 1)}}
    assert (await post(huge, session)).code == 413
    form = await post({"jsonrpc": "2.0", "id": 13, "method": "ping"}, {**session, "Content-Type": "text/plain"})
    assert form.code == 415


async def test_tools_list_validates_with_mcp_types(post: Any) -> None:
    session = await _open(post)
    from mcp_types import ListToolsResult

    response = await post({"jsonrpc": "2.0", "id": 14, "method": "tools/list"}, session)
    tools = ListToolsResult.model_validate(json.loads(response.body)["result"]).tools
    assert [tool.name for tool in tools][:4] == ["coda_run", "coda_inbox", "coda_get_result", "coda_cancel"]
    assert {tool.name for tool in tools[4:]} >= {"coda_notebook_execute", "coda_kernel_restart"}
    for tool in tools:
        assert tool.input_schema["type"] == "object" and tool.description and tool.annotations
