from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from coda_jupyter.agents.writers import ConfigContext, Models, opencode

from .helpers import GATEWAY_BASE, GATEWAY_ENDPOINTS, SERVING_BASE, TOKEN, mode, snapshot

MCP = {
    "deepwiki": {"type": "remote", "url": "https://mcp.deepwiki.com/mcp", "enabled": True},
    "exa": {"type": "remote", "url": "https://mcp.exa.ai/mcp", "enabled": True},
    "coda": {
        "type": "remote",
        "url": "{env:JUPYTER_SERVER_URL}api/coda/mcp",
        "headers": {"Authorization": "Bearer {env:JUPYTER_TOKEN}"},
        "enabled": True,
    },
}


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def paths(home: Path) -> tuple[Path, Path]:
    return home / ".config" / "opencode" / "opencode.json", home / ".local" / "share" / "opencode" / "auth.json"


def test_written_content(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    config, auth = paths(home)
    assert opencode.write(make_ctx()) == [config, auth]
    data = read(config)
    assert data["$schema"] == "https://opencode.ai/config.json"
    assert data["model"] == "databricks/databricks-claude-sonnet-4-6"
    assert data["small_model"] == "databricks/databricks-claude-haiku-4-5"
    assert data["mcp"] == MCP
    assert list(data["provider"]) == ["databricks"]
    provider = data["provider"]["databricks"]
    assert provider["npm"] == "@ai-sdk/openai-compatible"
    assert provider["options"] == {"baseURL": SERVING_BASE}
    assert provider["models"]["databricks-claude-sonnet-4-6"] == {"limit": {"context": 200000, "output": 8192}}
    assert set(provider["models"]) == set(opencode.KNOWN_LIMITS)
    assert TOKEN not in config.read_text()
    assert read(auth) == {"databricks": {"type": "api", "key": TOKEN}}
    assert mode(auth) == 0o600


def test_default_model_is_always_declared_by_its_provider(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    opencode.write(make_ctx(models=Models({"opencode": "databricks-claude-opus-9", "opencode_small": "tiny"})))
    data = read(paths(home)[0])
    for key in ("model", "small_model"):
        provider_id, model = data[key].split("/", 1)
        assert model in data["provider"][provider_id]["models"]


def test_gateway_adds_the_openai_provider(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    config, auth = paths(home)
    opencode.write(make_ctx(endpoints=GATEWAY_ENDPOINTS, upstream_is_ai_gateway=True))
    providers = read(config)["provider"]
    assert providers["databricks"]["options"]["baseURL"] == f"{GATEWAY_BASE}/mlflow/v1"
    assert providers["databricks-openai"]["npm"] == "@ai-sdk/openai"
    assert providers["databricks-openai"]["options"]["baseURL"] == f"{GATEWAY_BASE}/openai/v1"
    assert set(read(auth)) == {"databricks", "databricks-openai"}


def test_merge_keeps_user_keys_and_updates_ours(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    config, auth = paths(home)
    config.parent.mkdir(parents=True)
    auth.parent.mkdir(parents=True)
    config.write_text(
        json.dumps(
            {
                "theme": "tokyonight",
                "provider": {
                    "anthropic": {"options": {"timeout": 1}},
                    "databricks": {
                        "name": "My DBX",
                        "options": {"baseURL": "https://stale", "timeout": 5},
                        "models": {"my-model": {}},
                    },
                },
                "mcp": {"local": {"type": "local", "command": ["x"]}},
            }
        )
    )
    auth.write_text(json.dumps({"anthropic": {"type": "oauth", "refresh": "r", "access": "a", "expires": 1}}))
    opencode.write(make_ctx())
    data = read(config)
    assert data["theme"] == "tokyonight"
    assert data["provider"]["anthropic"] == {"options": {"timeout": 1}}
    ours = data["provider"]["databricks"]
    assert ours["name"] == "My DBX"
    assert ours["options"] == {"baseURL": SERVING_BASE, "timeout": 5}
    assert "my-model" in ours["models"] and "databricks-claude-sonnet-4-6" in ours["models"]
    assert data["mcp"]["local"] == {"type": "local", "command": ["x"]}
    assert read(auth)["anthropic"]["type"] == "oauth"


def test_second_run_is_a_byte_identical_no_op(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    opencode.write(make_ctx(endpoints=GATEWAY_ENDPOINTS, upstream_is_ai_gateway=True))
    before = snapshot(home)
    assert opencode.write(make_ctx(endpoints=GATEWAY_ENDPOINTS, upstream_is_ai_gateway=True)) == []
    assert snapshot(home) == before


def test_local_mode_leaves_the_login_alone(local_ctx: ConfigContext, home: Path) -> None:
    config, auth = paths(home)
    auth.parent.mkdir(parents=True)
    auth.write_text(json.dumps({"openai": {"type": "api", "key": "sk-mine"}}))
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"model": "openai/gpt-4.1"}))
    assert opencode.write(local_ctx) == [config]
    data = read(config)
    assert data["model"] == "openai/gpt-4.1" and "provider" not in data and data["mcp"] == MCP
    assert "small_model" not in data
    assert read(auth) == {"openai": {"type": "api", "key": "sk-mine"}}
