from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from coda_jupyter.agents.writers import ConfigContext, RemoteMcpServer, claude

from .helpers import GATEWAY_BASE, GATEWAY_ENDPOINTS, SERVING_BASE, TOKEN, mode, snapshot


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_written_content(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    changed = claude.write(make_ctx())
    assert sorted(changed) == sorted([home / ".claude" / "settings.json", home / ".claude.json"])
    written = read(home / ".claude" / "settings.json")
    # Attention hooks, checked in test_claude_attention_hooks.py.
    assert set(written.pop("hooks")) == {"Notification", "Stop"}
    assert written == {
        "env": {
            "ANTHROPIC_MODEL": "databricks-claude-opus-4-7",
            "ANTHROPIC_BASE_URL": f"{SERVING_BASE}/anthropic",
            "ANTHROPIC_AUTH_TOKEN": TOKEN,
            "ANTHROPIC_DEFAULT_OPUS_MODEL": "databricks-claude-opus-4-7",
            "ANTHROPIC_DEFAULT_SONNET_MODEL": "databricks-claude-sonnet-4-6",
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": "databricks-claude-haiku-4-5",
            "ANTHROPIC_CUSTOM_HEADERS": "x-databricks-use-coding-agent-mode: true",
            "CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS": "1",
        }
    }
    assert read(home / ".claude.json") == {
        "mcpServers": {
            "deepwiki": {"type": "http", "url": "https://mcp.deepwiki.com/mcp"},
            "exa": {"type": "http", "url": "https://mcp.exa.ai/mcp"},
            "coda": {
                "type": "http",
                "url": "${JUPYTER_SERVER_URL}api/coda/mcp",
                "headers": {"Authorization": "Bearer ${JUPYTER_TOKEN}"},
            },
        },
        "projects": {
            str(home / "projects"): {**claude.NEW_PROJECT, "hasTrustDialogAccepted": True},
            str(home): {**claude.NEW_PROJECT, "hasTrustDialogAccepted": True},
        },
        "hasCompletedOnboarding": True,
    }
    assert mode(home / ".claude" / "settings.json") == 0o600
    assert mode(home / ".claude.json") == 0o600


def test_gateway_base(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    claude.write(make_ctx(endpoints=GATEWAY_ENDPOINTS, upstream_is_ai_gateway=True))
    env = read(home / ".claude" / "settings.json")["env"]
    assert env["ANTHROPIC_BASE_URL"] == f"{GATEWAY_BASE}/anthropic"


def test_merge_keeps_user_keys_and_updates_ours(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(
        json.dumps(
            {
                "permissions": {"allow": ["Bash(ls)"]},
                "env": {"MY_VAR": "1", "ANTHROPIC_MODEL": "old-model", "ANTHROPIC_AUTH_TOKEN": "stale"},
            }
        )
    )
    (home / ".claude.json").write_text(
        json.dumps(
            {
                "userID": "abc",
                "projects": {"/x": {"allowedTools": []}},
                "mcpServers": {
                    "mine": {"type": "stdio", "command": "my-mcp"},
                    "exa": {"type": "sse", "url": "https://old", "headers": {"x-api-key": "k"}},
                },
            }
        )
    )
    claude.write(make_ctx())
    data = read(settings)
    assert data["permissions"] == {"allow": ["Bash(ls)"]}
    assert data["env"]["MY_VAR"] == "1"
    assert data["env"]["ANTHROPIC_MODEL"] == "databricks-claude-opus-4-7"
    assert data["env"]["ANTHROPIC_AUTH_TOKEN"] == TOKEN
    state = read(home / ".claude.json")
    assert state["userID"] == "abc" and state["projects"]["/x"] == {"allowedTools": []}
    assert state["mcpServers"]["mine"] == {"type": "stdio", "command": "my-mcp"}
    # Our fields are set; a header the user added to the same server stays.
    assert state["mcpServers"]["exa"] == {
        "type": "http",
        "url": "https://mcp.exa.ai/mcp",
        "headers": {"x-api-key": "k"},
    }


def test_second_run_is_a_byte_identical_no_op(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    ctx = make_ctx(mcp_servers=(RemoteMcpServer("deepwiki", "https://mcp.deepwiki.com/mcp"),))
    claude.write(ctx)
    before = snapshot(home)
    assert claude.write(ctx) == []
    assert snapshot(home) == before
    assert list(read(home / ".claude.json")["mcpServers"]) == ["deepwiki", "coda"]


def test_local_mode_leaves_the_login_alone(local_ctx: ConfigContext, home: Path) -> None:
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir()
    own = {"env": {"ANTHROPIC_API_KEY_HELPER": "x"}, "model": "opus"}
    settings.write_text(json.dumps(own))
    (home / ".claude.json").write_text(json.dumps({"oauthAccount": {"emailAddress": "me@x"}}))
    changed = claude.write(local_ctx)
    # settings.json only gains the attention hooks (test_claude_attention_hooks.py).
    assert sorted(changed) == sorted([settings, home / ".claude.json"])
    written = read(settings)
    assert set(written.pop("hooks")) == {"Notification", "Stop"}
    assert written == own
    state = read(home / ".claude.json")
    assert state["oauthAccount"] == {"emailAddress": "me@x"}
    assert "hasCompletedOnboarding" not in state
    assert set(state["mcpServers"]) == {"deepwiki", "exa", "coda"}
