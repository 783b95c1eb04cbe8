from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from coda_jupyter.agents.writers import ConfigContext, hermes

from .helpers import GATEWAY_BASE, GATEWAY_ENDPOINTS, SERVING_BASE, TOKEN, mode, snapshot

MCP = {
    "deepwiki": {"url": "https://mcp.deepwiki.com/mcp", "timeout": 60},
    "exa": {"url": "https://mcp.exa.ai/mcp", "timeout": 60},
    "coda": {"url": "${JUPYTER_SERVER_URL}api/coda/mcp", "headers": {"Authorization": "Bearer ${JUPYTER_TOKEN}"}},
}


def read(home: Path) -> dict:
    return yaml.safe_load((home / ".hermes" / "config.yaml").read_text())


def test_written_content(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    path = home / ".hermes" / "config.yaml"
    assert hermes.write(make_ctx()) == [path]
    assert read(home) == {
        "model": {
            "default": "databricks-claude-opus-4-7",
            "provider": "custom",
            "base_url": SERVING_BASE,
            "api_key": TOKEN,
        },
        "fallback_providers": [
            {"provider": "custom", "model": "databricks-claude-opus-4-6", "base_url": SERVING_BASE, "api_key": TOKEN}
        ],
        "skills": {"external_dirs": [str(home / ".agents" / "skills")]},
        "mcp_servers": MCP,
    }
    assert mode(path) == 0o600


def test_gateway_base(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    hermes.write(make_ctx(endpoints=GATEWAY_ENDPOINTS, upstream_is_ai_gateway=True))
    assert read(home)["model"]["base_url"] == f"{GATEWAY_BASE}/mlflow/v1"


def test_merge_keeps_user_keys_and_updates_ours(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    path = home / ".hermes" / "config.yaml"
    path.parent.mkdir()
    path.write_text(
        yaml.safe_dump(
            {
                "display": {"skin": "mono"},
                "model": {
                    "default": "old",
                    "provider": "custom",
                    "base_url": "https://stale",
                    "api_key": "stale",
                    "max_tokens": 5,
                },
                "fallback_providers": [
                    {
                        "provider": "custom",
                        "model": "databricks-claude-opus-4-6",
                        "base_url": "https://stale",
                        "api_key": "stale",
                    },
                    {"provider": "openrouter", "model": "x"},
                ],
                "skills": {"external_dirs": ["/opt/team-skills"], "disabled": ["a"]},
                "mcp_servers": {"exa": {"url": "https://old", "timeout": 5}, "mine": {"command": "x"}},
            }
        )
    )
    hermes.write(make_ctx())
    data = read(home)
    assert data["display"] == {"skin": "mono"}
    assert data["model"] == {
        "default": "databricks-claude-opus-4-7",
        "provider": "custom",
        "base_url": SERVING_BASE,
        "api_key": TOKEN,
        "max_tokens": 5,
    }
    assert data["fallback_providers"] == [
        {"provider": "custom", "model": "databricks-claude-opus-4-6", "base_url": SERVING_BASE, "api_key": TOKEN},
        {"provider": "openrouter", "model": "x"},
    ]
    assert data["skills"] == {
        "external_dirs": ["/opt/team-skills", str(home / ".agents" / "skills")],
        "disabled": ["a"],
    }
    assert data["mcp_servers"] == {
        "exa": {"url": "https://mcp.exa.ai/mcp", "timeout": 5},
        "mine": {"command": "x"},
        "deepwiki": MCP["deepwiki"],
        "coda": MCP["coda"],
    }


def test_second_run_is_a_byte_identical_no_op(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    hermes.write(make_ctx())
    before = snapshot(home)
    assert hermes.write(make_ctx()) == []
    assert snapshot(home) == before
    assert len(read(home)["fallback_providers"]) == 1


def test_local_mode_adds_only_skills_and_mcp(local_ctx: ConfigContext, home: Path) -> None:
    path = home / ".hermes" / "config.yaml"
    path.parent.mkdir()
    path.write_text("model:\n  default: anthropic/claude-sonnet-4\n  provider: openrouter\n")
    hermes.write(local_ctx)
    data = read(home)
    assert data["model"] == {"default": "anthropic/claude-sonnet-4", "provider": "openrouter"}
    assert "fallback_providers" not in data
    assert data["mcp_servers"] == MCP
