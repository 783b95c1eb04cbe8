"""Local mode leaves the user's own agent configs alone.

A user with their own Claude Code, Codex, Gemini CLI, OpenCode and Hermes
setup starts ``jupyter lab``: every configure step runs (with Databricks
credentials, so ``connect-agents`` too) and afterwards every file under their
HOME is byte for byte what it was. The agents in Jupyter terminals read coda's
overlay instead, which holds the user's MCP servers and skills plus coda's
gateway wiring.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml

from coda_jupyter.agents import BUILTIN, overlay
from coda_jupyter.agents.writers import ConfigContext, RemoteMcpServer, guidance
from coda_jupyter.setup import SetupEngine
from coda_jupyter.setup.agent_config import AgentConfig
from coda_jupyter.setup.configure import CONNECT_STEP, configure_steps
from coda_jupyter.setup.plan import DATABRICKS_CREDENTIALS, credentials_condition

LOCAL_KEY = "local-gateway-key-7a7a7a"
ENDPOINTS = {
    route: f"http://127.0.0.1:9999/{route}" for route in ("anthropic", "openai", "gemini", "mlflow", "mlflow-filtered")
}
USER_MCP = {"type": "http", "url": "https://mcp.example.org/mine"}
# Variables each pinned CLI reads its config home from (the catalogue's ConfigHome).
CONFIG_HOME_VARIABLES = {
    "CLAUDE_CONFIG_DIR": ".claude",
    "CODEX_HOME": ".codex",
    "GEMINI_CLI_HOME": ".",
    "OPENCODE_CONFIG_DIR": ".config/opencode",
    "HERMES_HOME": ".hermes",
}


def populate_user_home(home: Path) -> None:
    """A HOME as a user of every agent has it: settings, MCP servers, logins, skills, instructions."""
    files: dict[str, str] = {
        ".claude/settings.json": json.dumps({"env": {"MY_OWN": "1"}, "theme": "dark"}, indent=2) + "\n",
        ".claude.json": json.dumps({"mcpServers": {"mine": USER_MCP}, "numStartups": 7}, indent=2) + "\n",
        ".claude/CLAUDE.md": "# My own memory\nAlways answer in French.\n",
        ".claude/.credentials.json": '{"claudeAiOauth": {"accessToken": "user-login"}}\n',
        ".claude/skills/my-skill/SKILL.md": "---\nname: my-skill\ndescription: mine\n---\nbody\n",
        ".claude/agents/my-agent.md": "---\nname: my-agent\ndescription: mine\n---\nbody\n",
        ".codex/config.toml": '# my codex\nmodel = "o3"\n\n[mcp_servers.mine]\nurl = "https://mcp.example.org/mine"\n',
        ".codex/auth.json": '{"OPENAI_API_KEY": "user-login"}\n',
        ".codex/AGENTS.md": "My codex rules.\n",
        ".gemini/settings.json": json.dumps({"mcpServers": {"mine": {"httpUrl": USER_MCP["url"]}}}) + "\n",
        ".gemini/GEMINI.md": "My gemini rules.\n",
        ".gemini/oauth_creds.json": '{"access_token": "user-login"}\n',
        ".config/opencode/opencode.json": json.dumps({"mcp": {"mine": {"type": "remote", "url": USER_MCP["url"]}}})
        + "\n",
        ".config/opencode/AGENTS.md": "My opencode rules.\n",
        ".local/share/opencode/auth.json": '{"anthropic": {"type": "api", "key": "user-login"}}\n',
        ".hermes/config.yaml": "model:\n  default: my-model\nmcp_servers:\n  mine:\n    url: https://mcp.example.org/mine\n",
        ".hermes/SOUL.md": "My soul.\n",
        ".hermes/.env": "OPENROUTER_API_KEY=user-login\n",
        ".agents/skills/shared-skill/SKILL.md": "---\nname: shared-skill\ndescription: mine\n---\nbody\n",
        # The user's identity is set, so the git writer has nothing to add.
        ".gitconfig": "[user]\n\temail = me@example.org\n\tname = Me\n",
    }
    for relative, text in files.items():
        path = home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (home / "projects").mkdir()


def fingerprint(root: Path) -> dict[str, str]:
    """Every entry under ``root``: a file's hash and mode, a link's target, a folder's mode."""
    result: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            result[key] = "-> " + os.readlink(path)
        elif path.is_file():
            result[key] = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {oct(path.stat().st_mode)}"
        else:
            result[key] = f"dir {oct(path.stat().st_mode)}"
    return result


# coda's own folders under HOME (its git hooks, its state): not the user's files.
CODA_FOLDERS = (".config/coda-jupyter", ".local/state/coda-jupyter", ".local/share/coda-jupyter")


def user_changes(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """Entries of HOME that changed or appeared, but coda's own folders (and their
    parents) and git's config, which the git hook tests check."""
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    return {
        key
        for key in changed
        if not key.startswith((".gitconfig", ".config/git", *CODA_FOLDERS))
        and not (key not in before and any(folder.startswith(key + "/") for folder in CODA_FOLDERS))
    }


def local_context(home: Path, data: Path, **changes: Any) -> Callable[[], ConfigContext]:
    def build() -> ConfigContext:
        base = ConfigContext(
            home=home,
            endpoints=ENDPOINTS,
            api_key=LOCAL_KEY,
            host="https://adb-1.cloud.databricks.com",
            user_email="jane.doe@example.com",
            data_dir=data,
            overlay_home=overlay.overlay_dir(data),
        )
        return replace(base, **changes)

    return build


async def run_configure(context: Callable[[], ConfigContext], state: Path) -> dict[str, Any]:
    engine = SetupEngine(
        configure_steps(BUILTIN, context, installs=set()),
        state,
        conditions={DATABRICKS_CREDENTIALS: credentials_condition(lambda: True, local_mode=True)},
    )
    engine.start()
    snapshot: dict[str, Any] = await engine.wait_settled(timeout=120)
    await engine.stop()
    return snapshot


@pytest.mark.asyncio
async def test_full_setup_leaves_every_user_file_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    populate_user_home(home)
    monkeypatch.setenv("HOME", str(home))  # git and anything reading HOME see the fake one
    before = fingerprint(home)

    snapshot = await run_configure(local_context(home, tmp_path / "data"), tmp_path / "state")
    statuses = {step["id"]: step["status"] for step in snapshot["steps"]}
    assert set(statuses.values()) == {"done"}, snapshot
    assert statuses[CONNECT_STEP] == "done"

    changed = user_changes(before, fingerprint(home))
    assert not changed, f"setup changed the user's own files: {sorted(changed)}"


@pytest.mark.asyncio
async def test_the_overlay_merges_the_users_settings_with_the_gateway_wiring(tmp_path: Path) -> None:
    home = tmp_path / "home"
    populate_user_home(home)
    data = tmp_path / "data"
    await run_configure(local_context(home, data), tmp_path / "state")
    agent_home = overlay.overlay_dir(data)
    assert oct(agent_home.stat().st_mode & 0o777) == oct(0o700)

    # Claude Code: CLAUDE_CONFIG_DIR holds settings.json and .claude.json.
    claude_dir = agent_home / ".claude"
    state = json.loads((claude_dir / ".claude.json").read_text())
    assert state["mcpServers"]["mine"] == USER_MCP
    assert {"coda", "deepwiki", "exa"} <= set(state["mcpServers"])
    assert state["numStartups"] == 7
    settings = json.loads((claude_dir / "settings.json").read_text())
    assert settings["env"]["ANTHROPIC_BASE_URL"] == ENDPOINTS["anthropic"]
    assert settings["env"]["MY_OWN"] == "1" and settings["theme"] == "dark"
    assert oct((claude_dir / "settings.json").stat().st_mode & 0o777) == oct(0o600)
    # Login and the user's own skills and subagents: links, never copies.
    assert os.readlink(claude_dir / ".credentials.json") == str(home / ".claude" / ".credentials.json")
    assert os.readlink(claude_dir / "skills" / "my-skill") == str(home / ".claude" / "skills" / "my-skill")
    assert {path.parent.name for path in (claude_dir / "skills").glob("*/SKILL.md")} > {"my-skill"}
    assert os.readlink(claude_dir / "agents" / "my-agent.md") == str(home / ".claude" / "agents" / "my-agent.md")
    assert (claude_dir / "agents" / "reviewer.md").is_file()
    memory = (claude_dir / "CLAUDE.md").read_text()
    assert memory.startswith("# My own memory\nAlways answer in French.\n") and guidance.BEGIN in memory
    # The guidance names folders agents read, not a build folder.
    assert str(agent_home / ".claude" / "skills") in memory and ".build" not in memory

    # Codex: CODEX_HOME.
    codex = tomllib.loads((agent_home / ".codex" / "config.toml").read_text())
    assert codex["model_provider"] == "databricks" and codex["mcp_servers"]["mine"]["url"] == USER_MCP["url"]
    assert "coda" in codex["mcp_servers"]
    assert (agent_home / ".codex" / ".env").read_text().strip() == f"OPENAI_API_KEY={LOCAL_KEY}"
    assert os.readlink(agent_home / ".codex" / "auth.json") == str(home / ".codex" / "auth.json")
    assert any((agent_home / ".codex" / "skills").glob("*/SKILL.md"))

    # Gemini CLI: GEMINI_CLI_HOME is the overlay itself.
    gemini = json.loads((agent_home / ".gemini" / "settings.json").read_text())
    assert {"mine", "coda"} <= set(gemini["mcpServers"])
    assert "GOOGLE_GEMINI_BASE_URL" in (agent_home / ".gemini" / ".env").read_text()
    trusted = json.loads((agent_home / ".gemini" / "trustedFolders.json").read_text())
    assert str(home) in trusted and str(agent_home) not in trusted
    assert os.readlink(agent_home / ".agents" / "skills" / "shared-skill") == str(
        home / ".agents" / "skills" / "shared-skill"
    )

    # OpenCode reads the user's global config itself; the overlay adds ours, key included.
    opencode = json.loads((agent_home / ".config" / "opencode" / "opencode.json").read_text())
    assert "mine" not in opencode["mcp"] and "coda" in opencode["mcp"]
    assert opencode["provider"]["databricks"]["options"]["apiKey"] == LOCAL_KEY
    assert oct((agent_home / ".config" / "opencode" / "opencode.json").stat().st_mode & 0o777) == oct(0o600)
    assert (agent_home / ".config" / "opencode" / "AGENTS.md").read_text().startswith("My opencode rules.\n")

    # Hermes: HERMES_HOME.
    hermes = yaml.safe_load((agent_home / ".hermes" / "config.yaml").read_text())
    assert hermes["model"]["base_url"] == ENDPOINTS["mlflow"] and "mine" in hermes["mcp_servers"]
    assert str(agent_home / ".agents" / "skills") in hermes["skills"]["external_dirs"]
    assert os.readlink(agent_home / ".hermes" / ".env") == str(home / ".hermes" / ".env")


@pytest.mark.asyncio
async def test_a_rebuild_rewrites_nothing_and_follows_the_users_edits(tmp_path: Path) -> None:
    home = tmp_path / "home"
    populate_user_home(home)
    data = tmp_path / "data"
    context = local_context(home, data)
    await run_configure(context, tmp_path / "state")
    agent_home = overlay.overlay_dir(data)
    first = fingerprint(agent_home)
    mtimes = {path: path.lstat().st_mtime_ns for path in agent_home.rglob("*")}

    await run_configure(context, tmp_path / "state2")
    assert fingerprint(agent_home) == first
    assert {path: path.lstat().st_mtime_ns for path in agent_home.rglob("*")} == mtimes

    # A server the user adds later shows at the next build; one coda dropped goes.
    state_file = home / ".claude.json"
    state = json.loads(state_file.read_text())
    state["mcpServers"]["later"] = {"type": "http", "url": "https://mcp.example.org/later"}
    state_file.write_text(json.dumps(state))
    await run_configure(
        local_context(home, data, mcp_servers=(RemoteMcpServer("exa", "https://mcp.exa.ai/mcp"),)), tmp_path / "s3"
    )
    servers = json.loads((agent_home / ".claude" / ".claude.json").read_text())["mcpServers"]
    assert {"later", "mine", "exa", "coda"} <= set(servers) and "deepwiki" not in servers


def test_overlay_follows_the_mode(tmp_path: Path) -> None:
    def agent_config(apps_mode: bool, **traits: Any) -> AgentConfig:
        # Only the mode and the trait decide; credentials and gateway are not consulted.
        unused: Any = None
        return AgentConfig(
            credentials=unused,
            gateway=unused,
            workspace_dir=tmp_path,
            data_dir=tmp_path / "data",
            apps_mode=apps_mode,
            **traits,
        )

    assert agent_config(apps_mode=False).overlay_home == overlay.overlay_dir(tmp_path / "data")
    assert agent_config(apps_mode=False, write_user_configs=True).overlay_home is None
    assert agent_config(apps_mode=True).overlay_home is None


@pytest.mark.asyncio
async def test_with_write_user_configs_setup_writes_home_as_before(tmp_path: Path) -> None:
    home = tmp_path / "home"
    populate_user_home(home)
    data = tmp_path / "data"
    snapshot = await run_configure(local_context(home, data, overlay_home=None), tmp_path / "state")
    assert {step["status"] for step in snapshot["steps"]} == {"done"}, snapshot
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    assert settings["env"]["ANTHROPIC_BASE_URL"] == ENDPOINTS["anthropic"]
    assert "coda" in json.loads((home / ".claude.json").read_text())["mcpServers"]
    assert not overlay.overlay_dir(data).exists()


def test_terminal_variables_name_only_folders_a_build_made(tmp_path: Path) -> None:
    agent_home = tmp_path / "agent-home"
    assert overlay.terminal_variables(BUILTIN, agent_home) == {}
    for folder in CONFIG_HOME_VARIABLES.values():
        (agent_home / folder).mkdir(parents=True, exist_ok=True)
    assert overlay.terminal_variables(BUILTIN, agent_home) == {
        name: os.path.normpath(agent_home / folder) for name, folder in CONFIG_HOME_VARIABLES.items()
    }


def test_a_subagent_link_is_replaced_never_written_through(tmp_path: Path) -> None:
    """A user's copy of an older coda subagent is linked into the overlay; the new one
    replaces the link and the user's file keeps its bytes."""
    home = tmp_path / "home"
    populate_user_home(home)
    old = guidance.shipped_subagents()["reviewer.md"].replace("---\n", "---\n# old\n", 1)
    (home / ".claude" / "agents" / "reviewer.md").write_text(old)
    ctx = local_context(home, tmp_path / "data")()
    overlay.build(replace(ctx), BUILTIN, [guidance.writer(BUILTIN)])
    assert (home / ".claude" / "agents" / "reviewer.md").read_text() == old
    built = overlay.overlay_dir(tmp_path / "data") / ".claude" / "agents" / "reviewer.md"
    assert not built.is_symlink() and built.read_text() == guidance.shipped_subagents()["reviewer.md"]


@pytest.mark.asyncio
async def test_a_user_file_that_cannot_be_read_fails_only_its_agents_step(tmp_path: Path) -> None:
    home = tmp_path / "home"
    populate_user_home(home)
    (home / ".codex" / "config.toml").write_text("this is [not toml\n")
    data = tmp_path / "data"
    snapshot = await run_configure(local_context(home, data), tmp_path / "state")
    steps = {step["id"]: step for step in snapshot["steps"]}
    assert steps["configure-codex"]["status"] == "failed"
    assert "config.toml" in steps["configure-codex"]["error"]
    assert steps["configure-claude"]["status"] == "done" and steps["guidance"]["status"] == "done"
    state = json.loads((overlay.overlay_dir(data) / ".claude" / ".claude.json").read_text())
    assert "coda" in state["mcpServers"]
    assert (home / ".codex" / "config.toml").read_text() == "this is [not toml\n"
