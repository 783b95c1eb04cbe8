"""coda-jupyter as the single-user server of a real JupyterHub, used by alice and bob from the outside."""

from __future__ import annotations

import json
import re
import sys
import uuid
from typing import Any

from ..terminal_io import terminal_input
from .conftest import ADMIN_HOST, TwoUsers
from .hub import BrowserSession, Reply, as_user, request, websocket

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "hub-test", "version": "1"}},
}


def mcp_session(token: str, url: str) -> dict[str, str]:
    reply = as_user(token, url, "POST", INIT)
    assert reply.status == 200, reply.text
    session = {"Mcp-Session-Id": reply.headers["Mcp-Session-Id"], "MCP-Protocol-Version": "2025-11-25"}
    as_user(token, url, "POST", {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    return session


def mcp_tool(token: str, url: str, session: dict[str, str], name: str, **arguments: Any) -> Any:
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    reply = as_user(token, url, "POST", call, session)
    assert reply.status == 200, reply.text
    result = reply.json()["result"]
    assert not result.get("isError"), result
    return json.loads(result["content"][0]["text"])


def test_servers_use_the_hubs_identity_not_codas(two_users: TwoUsers) -> None:
    hub, tokens = two_users.hub, two_users.tokens
    me = as_user(tokens["alice"], hub.user_url("alice", "api/me"))
    assert me.status == 200, me.text
    assert me.json()["identity"]["username"] == "alice"
    # Without credentials the lab sends the browser to the hub's OAuth, not to a coda page.
    anonymous = request(hub.user_url("alice", "lab"))
    assert anonymous.status == 302
    assert "/hub/api/oauth2/authorize" in anonymous.headers["Location"]
    api = request(hub.user_url("alice", "coda/api/agents"))
    assert api.status == 403
    assert "owner" not in api.json(), "coda's Databricks App identity provider answered under the hub"


def test_hub_oauth_login_opens_the_lab_under_the_users_prefix(two_users: TwoUsers) -> None:
    hub = two_users.hub
    browser = BrowserSession(hub)
    browser.login("alice", two_users.password)
    lab = browser.get(hub.user_url("alice", "lab"))
    assert lab.status == 200, lab.text[-2000:]
    assert lab.url == hub.user_url("alice", "lab")
    page_config = json.loads(lab.text.split('id="jupyter-config-data"', 1)[1].split(">", 1)[1].split("</script>", 1)[0])
    assert page_config["baseUrl"] == "/user/alice/"
    assert page_config["hubUser"] == "alice"

    # What the launcher does with the OAuth cookie: list the agents, then open one (an XSRF-checked POST).
    agents = browser.get(hub.user_url("alice", "coda/api/agents"))
    assert agents.status == 200
    assert "stubby" in {agent["id"] for agent in agents.json()}
    xsrf = browser.cookie("_xsrf", "/user/alice")
    assert xsrf, "the single-user server set no _xsrf cookie under /user/alice/"
    opened = request(
        hub.user_url("alice", "coda/api/agents/stubby/terminals"),
        "POST",
        b"{}",
        {"Content-Type": "application/json", "X-XSRFToken": xsrf, "Referer": hub.user_url("alice", "lab")},
        opener=browser.opener,
    )
    assert opened.status == 200, opened.text
    assert opened.json()["name"].startswith("stubby_")


def test_rest_openapi_and_admin_settings_under_the_prefix(two_users: TwoUsers) -> None:
    hub, alice = two_users.hub, two_users.tokens["alice"]
    assert as_user(alice, hub.user_url("alice", "coda/api/health")).status == 200
    # Nothing of coda is served outside the user's prefix: the hub sends such paths to its own 404.
    outside = as_user(alice, f"{hub.url}coda/api/health")
    assert outside.status == 404 or (outside.status == 302 and outside.headers["Location"].startswith("/hub/"))
    openapi = as_user(alice, hub.user_url("alice", "coda/api/openapi.json")).json()
    assert openapi["servers"] == [{"url": "/user/alice"}]
    # c.Spawner.args (setup_builtin=False) and c.Spawner.environment (DATABRICKS_HOST) took effect.
    assert as_user(alice, hub.user_url("alice", "coda/api/setup")).json()["steps"] == []
    assert as_user(alice, hub.user_url("alice", "coda/api/credentials")).json()["host"] == ADMIN_HOST
    # The panel's snippets come with a placeholder the lab fills with its own base URL (checked in the browser test).
    served = {agent["id"]: agent for agent in as_user(alice, hub.user_url("alice", "coda/api/agents")).json()}
    assert "__MCP_URL__" in served["claude"]["mcp_client"]["snippet"]


def test_mcp_task_lab_url_carries_the_users_prefix(two_users: TwoUsers) -> None:
    hub, alice = two_users.hub, two_users.tokens["alice"]
    url = hub.user_url("alice", "api/coda/mcp")
    session = mcp_session(alice, url)
    started = mcp_tool(alice, url, session, "coda_run", prompt="MODE:SILENT hello from the hub")
    task_id = started["task_id"]
    expected = hub.user_url("alice", f"lab?coda-terminal=task_{task_id}")
    assert started["lab_url"] == expected
    detail = as_user(alice, hub.user_url("alice", f"coda/api/tasks/{task_id}"))
    assert detail.status == 200
    assert detail.json()["lab_url"] == expected


def test_terminals_reach_their_own_server_and_the_bridge_works(two_users: TwoUsers) -> None:
    """Agents in alice's terminals find her server (JUPYTER_SERVER_URL) and coda-bridge gets through with her server's token."""
    hub, alice = two_users.hub, two_users.tokens["alice"]
    created = as_user(alice, hub.user_url("alice", "api/terminals"), "POST", {})
    assert created.status == 200, created.text
    name = created.json()["name"]
    line = json.dumps(INIT)
    marker = uuid.uuid4().hex
    command = (
        f'echo "url=$JUPYTER_SERVER_URL"; printf "%s\\n" \'{line}\' | {sys.executable} -m coda_jupyter.mcp.bridge'
        f" 2>/dev/null; echo {marker}-$((6*7))"
    )
    status, text = websocket(
        hub.user_url("alice", f"terminals/websocket/{name}"), alice, [terminal_input(command)], f"{marker}-42"
    )
    assert status == 101
    url = re.search(r"url=(http\S+)\r", text)
    assert url and url.group(1).endswith("/user/alice/"), text
    # coda-bridge, as Codex runs it (the server's Python, default URL from JUPYTER_SERVER_URL), initialized.
    assert '"serverInfo"' in text and '"coda-jupyter"' in text, text


def test_bob_cannot_reach_anything_of_alices(two_users: TwoUsers) -> None:
    hub, alice, bob = two_users.hub, two_users.tokens["alice"], two_users.tokens["bob"]
    term = as_user(alice, hub.user_url("alice", "coda/api/agents/stubby/terminals"), "POST", {}).json()["name"]
    gateway = as_user(alice, hub.user_url("alice", "coda/api/gateway")).json()

    refusals: dict[str, Reply] = {
        "gateway status": as_user(bob, hub.user_url("alice", "coda/api/gateway")),
        "MCP endpoint": as_user(bob, hub.user_url("alice", "api/coda/mcp"), "POST", INIT),
        "MCP alias": as_user(bob, hub.user_url("alice", "coda/mcp"), "POST", INIT),
        "uploads": as_user(
            bob,
            hub.user_url("alice", "coda/api/uploads"),
            "POST",
            b"--b\r\nContent-Disposition: form-data; name=file; filename=a.png\r\n\r\nx\r\n--b--\r\n",
            {"Content-Type": "multipart/form-data; boundary=b"},
        ),
        "tasks": as_user(bob, hub.user_url("alice", "coda/api/tasks")),
        "terminals (REST)": as_user(bob, hub.user_url("alice", "api/terminals")),
        "agent terminal launch": as_user(bob, hub.user_url("alice", "coda/api/agents/stubby/terminals"), "POST", {}),
    }
    for what, reply in refusals.items():
        assert reply.status in (403, 404), f"{what}: bob got {reply.status} {reply.text[:300]}"
    status, _ = websocket(hub.user_url("alice", f"terminals/websocket/{term}"), bob)
    assert status in (403, 404)
    # The same calls with alice's token succeed, so the refusals are about who asks.
    assert as_user(alice, hub.user_url("alice", "coda/api/tasks")).status == 200
    assert websocket(hub.user_url("alice", f"terminals/websocket/{term}"), alice)[0] == 101
    # Her model gateway listens on loopback: bob's hub token is not its key.
    if gateway.get("port"):
        direct = request(
            f"http://127.0.0.1:{gateway['port']}/anthropic/v1/models",
            headers={"Authorization": f"Bearer {bob}", "x-api-key": bob},
        )
        assert direct.status == 401, direct.text


def test_bob_logged_in_is_not_let_into_alices_server(two_users: TwoUsers) -> None:
    hub = two_users.hub
    browser = BrowserSession(hub)
    browser.login("bob", two_users.password)
    assert browser.get(hub.user_url("bob", "lab")).status == 200
    visit = browser.get(hub.user_url("alice", "lab"))
    assert visit.status == 403, (visit.status, visit.url)
