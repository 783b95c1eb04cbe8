from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from coda_jupyter.agents.writers import ConfigContext, gemini

from .helpers import GATEWAY_BASE, GATEWAY_ENDPOINTS, SERVING_BASE, TOKEN, mode, snapshot

MCP = {
    "deepwiki": {"httpUrl": "https://mcp.deepwiki.com/mcp"},
    "exa": {"httpUrl": "https://mcp.exa.ai/mcp"},
    "coda": {"httpUrl": "${JUPYTER_SERVER_URL}api/coda/mcp", "headers": {"Authorization": "Bearer ${JUPYTER_TOKEN}"}},
}


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_written_content(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    folder = home / ".gemini"
    changed = gemini.write(make_ctx())
    assert changed == [folder / ".env", folder / "settings.json", folder / "trustedFolders.json"]
    assert (folder / ".env").read_text() == (
        "GEMINI_MODEL=databricks-gemini-2-5-pro\n"
        f"GOOGLE_GEMINI_BASE_URL={SERVING_BASE}/google\n"
        "GEMINI_API_KEY_AUTH_MECHANISM=bearer\n"
        f"GEMINI_API_KEY={TOKEN}\n"
    )
    assert mode(folder / ".env") == 0o600
    assert read(folder / "settings.json") == {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "model": {"name": "databricks-gemini-2-5-pro"},
        "mcpServers": MCP,
    }
    assert read(folder / "trustedFolders.json") == {str(home): "TRUST_FOLDER", str(home / "projects"): "TRUST_FOLDER"}
    assert not (folder / "skills").exists()


def test_gateway_base(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    gemini.write(make_ctx(endpoints=GATEWAY_ENDPOINTS, upstream_is_ai_gateway=True))
    assert f"GOOGLE_GEMINI_BASE_URL={GATEWAY_BASE}/gemini\n" in (home / ".gemini" / ".env").read_text()


def test_merge_keeps_user_keys_and_updates_ours(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    folder = home / ".gemini"
    folder.mkdir()
    (folder / "settings.json").write_text(
        json.dumps(
            {
                "ui": {"theme": "Dracula"},
                "model": {"name": "old", "maxSessionTurns": 9},
                "mcpServers": {"mine": {"command": "x"}},
            }
        )
    )
    (folder / "trustedFolders.json").write_text(json.dumps({"/work": "TRUST_PARENT", str(home): "DO_NOT_TRUST"}))
    (folder / ".env").write_text('GEMINI_API_KEY_AUTH_MECHANISM="bearer"\nMY_FLAG=1\n')
    gemini.write(make_ctx())
    settings = read(folder / "settings.json")
    assert settings["ui"] == {"theme": "Dracula"}
    assert settings["model"] == {"name": "databricks-gemini-2-5-pro", "maxSessionTurns": 9}
    assert settings["mcpServers"] == {"mine": {"command": "x"}, **MCP}
    # The user's explicit distrust of HOME is theirs to keep.
    assert read(folder / "trustedFolders.json") == {
        "/work": "TRUST_PARENT",
        str(home): "DO_NOT_TRUST",
        str(home / "projects"): "TRUST_FOLDER",
    }
    env = (folder / ".env").read_text()
    # The quoted value upstream once wrote is replaced by the bare word.
    assert env.startswith("GEMINI_API_KEY_AUTH_MECHANISM=bearer\nMY_FLAG=1\n")
    assert '"bearer"' not in env


def test_second_run_is_a_byte_identical_no_op(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    gemini.write(make_ctx())
    before = snapshot(home)
    assert gemini.write(make_ctx()) == []
    assert snapshot(home) == before


def test_local_mode_leaves_the_login_alone(local_ctx: ConfigContext, home: Path) -> None:
    folder = home / ".gemini"
    folder.mkdir()
    (folder / "settings.json").write_text(json.dumps({"security": {"auth": {"selectedType": "oauth-personal"}}}))
    gemini.write(local_ctx)
    settings = read(folder / "settings.json")
    assert settings == {"security": {"auth": {"selectedType": "oauth-personal"}}, "mcpServers": MCP}
    assert not (folder / ".env").exists()
