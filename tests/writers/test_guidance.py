"""Project instructions in every agent's own file, and the Claude subagents, merged with the user's own."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from coda_jupyter.agents import BUILTIN, Catalogue
from coda_jupyter.agents.writers import ConfigContext, ConfigFileError, guidance

from .helpers import mode

# Where each CLI reads user-level instructions (checked against the real CLIs in test_real_clis.py).
EXPECTED_FILES = {
    "claude": ".claude/CLAUDE.md",
    "codex": ".codex/AGENTS.md",
    "gemini": ".gemini/GEMINI.md",
    "opencode": ".config/opencode/AGENTS.md",
    "hermes": ".hermes/SOUL.md",
}
# Tools Claude Code knows by these names (its built-in tool set).
CLAUDE_TOOLS = {"Read", "Grep", "Glob", "Bash", "Edit", "Write", "WebFetch", "WebSearch", "TodoWrite"}


@pytest.fixture
def ctx(make_ctx: Callable[..., ConfigContext], home: Path) -> ConfigContext:
    return make_ctx(workspace_dir=home / "work", data_dir=home / "data")


def write(ctx: ConfigContext) -> list[Path]:
    return guidance.writer(BUILTIN)(ctx)


def block_of(text: str) -> str:
    start = text.index(guidance.BEGIN)
    return text[start : text.index(guidance.END, start) + len(guidance.END)]


def test_catalogue_declares_each_agents_instructions_file() -> None:
    assert {spec.id: spec.instructions_file for spec in BUILTIN} == EXPECTED_FILES


def test_every_agent_gets_the_guidance_in_its_own_file(ctx: ConfigContext, home: Path) -> None:
    changed = write(ctx)
    for relative in EXPECTED_FILES.values():
        path = home / relative
        assert path in changed
        assert mode(path) == 0o644
        text = path.read_text(encoding="utf-8")
        assert text.startswith(guidance.BEGIN) and text.endswith(guidance.END + "\n")
        # What the text must tell every agent.
        assert str(home / "work") in text  # the workspace
        assert "local model gateway" in text
        assert "coda-sync" in text and f"/Workspace/Users/{ctx.user_email}/projects/" in text
        for tool in ("coda_run", "coda_inbox", "coda_get_result", "coda_cancel", "coda_notebook_execute"):
            assert tool in text
        assert "claude, codex, gemini, opencode, hermes" in text
    # One text for every agent.
    assert len({(home / rel).read_text() for rel in EXPECTED_FILES.values()}) == 1
    assert write(ctx) == [], "a second run with nothing new changes nothing"


def test_user_text_around_the_block_survives_reruns(ctx: ConfigContext, home: Path) -> None:
    path = home / ".claude" / "CLAUDE.md"
    path.parent.mkdir(parents=True)
    before = "# My rules\n\nAlways use tabs.\r\nNo trailing newline here"
    path.write_bytes(before.encode())
    write(ctx)
    text = path.read_bytes().decode()
    assert text.startswith(before + "\n") and guidance.BEGIN in text

    # The user adds notes after our block and edits inside it.
    after = "\n## Later notes\r\n\n- ask before deleting\n"
    ours = block_of(text)
    path.write_bytes((text.replace(ours, ours.replace("local model gateway", "EDITED")) + after).encode())
    assert path in write(ctx)
    assert path.read_bytes().decode() == text + after
    assert write(ctx) == []


def test_a_new_workspace_replaces_only_the_block(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    path = home / ".gemini" / "GEMINI.md"
    path.parent.mkdir(parents=True)
    path.write_text("mine\n")
    write(make_ctx(workspace_dir=home / "one"))
    write(make_ctx(workspace_dir=home / "two"))
    text = path.read_text()
    assert text.startswith("mine\n") and text.count(guidance.BEGIN) == 1
    assert str(home / "two") in text and str(home / "one") not in text


def test_symlinked_instructions_are_written_through_the_link(ctx: ConfigContext, home: Path) -> None:
    target = home / "dotfiles" / "agents.md"
    target.parent.mkdir()
    target.write_text("kept in my dotfiles\n")
    link = home / ".codex" / "AGENTS.md"
    link.parent.mkdir()
    link.symlink_to(target)
    write(ctx)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().startswith("kept in my dotfiles\n") and guidance.BEGIN in target.read_text()
    assert sorted(p.name for p in target.parent.iterdir()) == ["agents.md"], "no temp file left behind"


def test_writes_are_atomic_replacements(ctx: ConfigContext, home: Path) -> None:
    path = home / ".hermes" / "SOUL.md"
    path.parent.mkdir(parents=True)
    path.write_text("persona\n")
    path.chmod(0o600)
    inode = path.stat().st_ino
    write(ctx)
    # A new file renamed over the old one (readers see old or new, never half),
    # keeping the mode the user chose.
    assert path.stat().st_ino != inode
    assert mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["SOUL.md"]


def test_unbalanced_markers_are_refused_and_the_file_left_alone(ctx: ConfigContext, home: Path) -> None:
    path = home / ".claude" / "CLAUDE.md"
    path.parent.mkdir(parents=True)
    broken = f"notes\n{guidance.BEGIN}\nhalf a block, end marker deleted\n"
    path.write_text(broken)
    with pytest.raises(ConfigFileError, match="marker"):
        write(ctx)
    assert path.read_text() == broken


def test_configured_agent_can_name_its_instructions_file(ctx: ConfigContext, home: Path) -> None:
    catalogue = Catalogue.from_config({"aider": {"executable": "aider", "instructions_file": ".aider/RULES.md"}}, [])
    guidance.writer(list(catalogue))(ctx)
    assert guidance.BEGIN in (home / ".aider" / "RULES.md").read_text()
    with pytest.raises(ValueError, match="instructions_file"):
        Catalogue.from_config({"aider": {"executable": "aider", "instructions_file": "/etc/motd"}}, [])


# ------------------------------------------------------------------ subagents


def front_matter(path: Path) -> dict[str, object]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), path
    head, body = text[4:].split("\n---\n", 1)
    data = yaml.safe_load(head)
    assert isinstance(data, dict) and body.strip(), path
    return data


def test_claude_subagents_have_valid_front_matter(ctx: ConfigContext, home: Path) -> None:
    write(ctx)
    folder = home / ".claude" / "agents"
    names = sorted(p.stem for p in folder.glob("*.md"))
    assert {"reviewer", "tester", "databricks-deployer"} <= set(names)
    for path in folder.glob("*.md"):
        data = front_matter(path)
        assert data["name"] == path.stem
        assert isinstance(data["description"], str) and len(data["description"]) > 40
        assert set(data) <= {"name", "description", "tools", "model"}
        if "tools" in data:
            tools = {tool.strip() for tool in str(data["tools"]).split(",")}
            assert tools <= CLAUDE_TOOLS, tools
        assert guidance.SUBAGENT_MARK in path.read_text()
        assert mode(path) == 0o644
    assert "Edit" not in str(front_matter(folder / "reviewer.md").get("tools")), "the reviewer only reads"


def test_users_own_subagent_of_the_same_name_is_kept(ctx: ConfigContext, home: Path) -> None:
    folder = home / ".claude" / "agents"
    folder.mkdir(parents=True)
    mine = "---\nname: reviewer\ndescription: my reviewer\n---\nBe strict.\n"
    (folder / "reviewer.md").write_text(mine)
    write(ctx)
    assert (folder / "reviewer.md").read_text() == mine
    assert (folder / "tester.md").exists()

    # Ours is ours: an edited copy of our file is brought back to the shipped text.
    tester = folder / "tester.md"
    shipped = tester.read_text()
    tester.write_text(shipped.replace("tester", "tinkerer"))
    assert tester in write(ctx)
    assert tester.read_text() == shipped
