"""Config files kept in a dotfiles repository and symlinked into HOME stay symlinks."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from coda_jupyter.agents.writers import ConfigContext, claude, codex

from .helpers import TOKEN, mode


def _link(home: Path, name: str, content: str) -> tuple[Path, Path]:
    target = home / "dotfiles" / name.lstrip(".").replace("/", "-")
    target.parent.mkdir(exist_ok=True)
    target.write_text(content, encoding="utf-8")
    link = home / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link, target


def test_writers_write_through_symlinked_dotfiles(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    settings, settings_target = _link(
        home, ".claude/settings.json", json.dumps({"permissions": {"allow": ["Bash(ls)"]}})
    )
    config, config_target = _link(home, ".codex/config.toml", '# my codex settings\nmodel_reasoning_effort = "high"\n')

    ctx = make_ctx()
    claude.write(ctx)
    codex.write(ctx)

    for link, target in ((settings, settings_target), (config, config_target)):
        assert link.is_symlink() and os.readlink(link) == str(target)
    written = json.loads(settings_target.read_text())
    assert written["permissions"] == {"allow": ["Bash(ls)"]}
    assert written["env"]["ANTHROPIC_AUTH_TOKEN"] == TOKEN
    assert mode(settings_target) == 0o600
    toml = config_target.read_text()
    assert toml.startswith('# my codex settings\nmodel_reasoning_effort = "high"\n') and "[model_providers" in toml
    assert sorted(p.name for p in (home / "dotfiles").iterdir()) == ["claude-settings.json", "codex-config.toml"]

    # A second run with nothing new leaves the links and the targets alone.
    assert claude.write(ctx) == [] and codex.write(ctx) == []
    assert settings.is_symlink() and config.is_symlink()
