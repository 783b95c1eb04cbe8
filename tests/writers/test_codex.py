from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import tomllib

from coda_jupyter.agents.writers import ConfigContext, codex

from .helpers import GATEWAY_BASE, GATEWAY_ENDPOINTS, SERVING_BASE, TOKEN, mode, snapshot

MCP = {
    "deepwiki": {"url": "https://mcp.deepwiki.com/mcp"},
    "exa": {"url": "https://mcp.exa.ai/mcp"},
    # coda's endpoint through the bridge: Codex takes no URL from the environment.
    "coda": {
        "command": sys.executable,
        "args": ["-m", "coda_jupyter.mcp.bridge"],
        "env_vars": ["JUPYTER_SERVER_URL", "JUPYTER_TOKEN"],
        "startup_timeout_sec": 60,
    },
}


def config(home: Path) -> dict:
    return tomllib.loads((home / ".codex" / "config.toml").read_text())


def test_written_content(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    changed = codex.write(make_ctx())
    assert changed == [home / ".codex" / "config.toml", home / ".codex" / ".env"]
    assert config(home) == {
        "model": "databricks-gpt-5-5",
        "model_provider": "databricks",
        "web_search": "disabled",
        "model_providers": {
            "databricks": {
                "name": "Databricks",
                "base_url": SERVING_BASE,
                "env_key": "OPENAI_API_KEY",
                "wire_api": "responses",
            }
        },
        "mcp_servers": MCP,
    }
    assert (home / ".codex" / ".env").read_text() == f"OPENAI_API_KEY={TOKEN}\n"
    assert mode(home / ".codex" / ".env") == 0o600
    # The config holds no secret, only the name of the variable.
    assert TOKEN not in (home / ".codex" / "config.toml").read_text()


def test_gateway_base(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    codex.write(make_ctx(endpoints=GATEWAY_ENDPOINTS, upstream_is_ai_gateway=True))
    assert config(home)["model_providers"]["databricks"]["base_url"] == f"{GATEWAY_BASE}/openai/v1"


def test_merge_keeps_user_keys_comments_and_updates_ours(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    path = home / ".codex" / "config.toml"
    path.parent.mkdir()
    path.write_text(
        "# my codex settings\n"
        'approval_policy = "on-request"\n'
        'model = "gpt-old"\n'
        "\n"
        "[model_providers.databricks]\n"
        'base_url = "https://stale"\n'
        "request_max_retries = 7 # keep me\n"
        "\n"
        "[mcp_servers.mine]\n"
        'command = "my-server"\n'
    )
    (home / ".codex" / ".env").write_text("OTHER=1\nOPENAI_API_KEY=stale\n")
    path.chmod(0o640)
    codex.write(make_ctx())
    text = path.read_text()
    assert "# my codex settings" in text and "# keep me" in text
    data = tomllib.loads(text)
    assert data["approval_policy"] == "on-request"
    assert data["model"] == "databricks-gpt-5-5"
    provider = data["model_providers"]["databricks"]
    assert provider["base_url"] == SERVING_BASE and provider["request_max_retries"] == 7
    assert data["mcp_servers"]["mine"] == {"command": "my-server"}
    assert data["mcp_servers"]["exa"] == MCP["exa"]
    assert mode(path) == 0o640
    assert (home / ".codex" / ".env").read_text() == f"OTHER=1\nOPENAI_API_KEY={TOKEN}\n"


def test_second_run_is_a_byte_identical_no_op(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    codex.write(make_ctx())
    before = snapshot(home)
    assert codex.write(make_ctx()) == []
    assert snapshot(home) == before
    assert (home / ".codex" / "config.toml").read_text().count("[mcp_servers.exa]") == 1


def test_local_mode_adds_only_mcp_servers(local_ctx: ConfigContext, home: Path) -> None:
    path = home / ".codex" / "config.toml"
    path.parent.mkdir()
    path.write_text('model = "o4-mini"\npreferred_auth_method = "chatgpt"\n')
    assert codex.write(local_ctx) == [path]
    data = config(home)
    assert data == {"model": "o4-mini", "preferred_auth_method": "chatgpt", "mcp_servers": MCP}
    assert not (home / ".codex" / ".env").exists()
