from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from coda_jupyter.agents.writers import ConfigContext, skills

from .helpers import snapshot

SHIPPED = sorted(p.name for p in skills.SHIPPED_SKILLS.iterdir() if (p / "SKILL.md").is_file())
NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def make_skill(root: Path, name: str, body: str = "x") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: {body}\n---\n\n{body}\n")
    return folder


def linked(folder: Path) -> dict[str, Path]:
    return {p.name: p.resolve() for p in folder.iterdir()} if folder.is_dir() else {}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_skills_have_valid_frontmatter(name: str) -> None:
    text = (skills.SHIPPED_SKILLS / name / "SKILL.md").read_text()
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["name"] == name and NAME.match(name)
    assert 20 < len(front["description"]) <= 1024


def test_at_least_three_shipped_skills() -> None:
    assert len(SHIPPED) >= 3


def test_each_agent_path_gets_each_skill_once(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    skills.write(make_ctx())
    claude_dir, shared_dir = home / ".claude" / "skills", home / ".agents" / "skills"
    for folder in (claude_dir, shared_dir):
        assert sorted(linked(folder)) == SHIPPED
        assert all(p.is_symlink() for p in folder.iterdir())
        assert all(target == (skills.SHIPPED_SKILLS / name).resolve() for name, target in linked(folder).items())
    # Gemini reads ~/.agents/skills; a second copy would trigger its duplicate warning.
    assert not (home / ".gemini" / "skills").exists()
    # OpenCode reads the two folders above already.
    assert not (home / ".config" / "opencode" / "skills").exists()


def test_user_skill_dirs_are_added_and_win_on_a_name_clash(
    make_ctx: Callable[..., ConfigContext], home: Path, tmp_path: Path
) -> None:
    team = tmp_path / "team"
    make_skill(team, "team-review")
    make_skill(team, SHIPPED[0], "team version")
    (team / "not-a-skill").mkdir()
    skills.write(make_ctx(skill_dirs=(team,)))
    shared = linked(home / ".agents" / "skills")
    assert sorted(shared) == sorted({*SHIPPED, "team-review"})
    assert shared[SHIPPED[0]] == (team / SHIPPED[0]).resolve()


def test_a_users_own_skill_of_the_same_name_is_never_replaced(
    make_ctx: Callable[..., ConfigContext], home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    own = make_skill(home / ".claude" / "skills", SHIPPED[0], "mine")
    foreign_target = make_skill(home / "elsewhere", "other")
    (home / ".agents" / "skills").mkdir(parents=True)
    (home / ".agents" / "skills" / SHIPPED[0]).symlink_to(foreign_target)
    with caplog.at_level(logging.WARNING, logger=skills.__name__):
        skills.write(make_ctx())
    assert not own.is_symlink() and "mine" in (own / "SKILL.md").read_text()
    assert (home / ".agents" / "skills" / SHIPPED[0]).resolve() == foreign_target.resolve()
    assert sum("not ours" in r.getMessage() for r in caplog.records) == 2
    # Nor on later runs, and nothing of theirs is recorded as ours.
    assert skills.write(make_ctx()) == []
    assert own.is_dir()


def test_second_run_is_a_no_op(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    skills.write(make_ctx())
    before = snapshot(home)
    assert skills.write(make_ctx()) == []
    assert snapshot(home) == before


def test_a_skill_dropped_from_config_is_unlinked_and_a_moved_one_relinked(
    make_ctx: Callable[..., ConfigContext], home: Path, tmp_path: Path
) -> None:
    team = tmp_path / "team"
    make_skill(team, "team-review")
    skills.write(make_ctx(skill_dirs=(team,)))
    moved = tmp_path / "moved"
    make_skill(moved, "team-review", "moved")
    skills.write(make_ctx(skill_dirs=(moved,)))
    assert linked(home / ".claude" / "skills")["team-review"] == (moved / "team-review").resolve()
    skills.write(make_ctx())
    assert "team-review" not in linked(home / ".claude" / "skills")
    assert sorted(linked(home / ".agents" / "skills")) == SHIPPED


def test_skill_edits_flow_through_the_links(make_ctx: Callable[..., ConfigContext], home: Path, tmp_path: Path) -> None:
    folder = make_skill(tmp_path / "team", "live")
    skills.write(make_ctx(skill_dirs=(tmp_path / "team",)))
    (folder / "SKILL.md").write_text("---\nname: live\ndescription: edited\n---\n")
    assert "edited" in (home / ".claude" / "skills" / "live" / "SKILL.md").read_text()


def test_missing_user_skill_dir_is_skipped(make_ctx: Callable[..., ConfigContext], home: Path, tmp_path: Path) -> None:
    skills.write(make_ctx(skill_dirs=(tmp_path / "nope",)))
    assert sorted(linked(home / ".claude" / "skills")) == SHIPPED
