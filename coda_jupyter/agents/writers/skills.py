"""Expose skills to every agent through its own discovery path, once.

Layout (one symlink per skill, so edits to a skill flow through):

* ``~/.claude/skills/<name>``: Claude Code.
* ``~/.agents/skills/<name>``: Codex and Gemini CLI.  Not ``~/.gemini/skills``
  as well: Gemini reads both and warns about every skill it sees twice.
* OpenCode needs no link of its own: it reads ``~/.claude/skills`` and
  ``~/.agents/skills`` and keys skills by name, so a third copy under
  ``~/.config/opencode/skills`` would only add duplicates.
* Hermes: ``skills.external_dirs`` lists ``~/.agents/skills`` (hermes.py);
  it walks symlinks and de-duplicates by name.

A folder or foreign link that already uses a skill's name belongs to the
user and is never replaced.  Links we made are recorded in a manifest, so a
skill removed from the configuration is unlinked and nothing else is.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from coda_jupyter.util.places import BOOKKEEPING_DIR

from .context import ConfigContext, ConfigWriter
from .merge import PLAIN_MODE, file_lock, write_if_changed

log = logging.getLogger(__name__)

SHIPPED_SKILLS = Path(__file__).resolve().parents[2] / "skills"
SKILL_FILE = "SKILL.md"


def shared_skills_dir(ctx: ConfigContext) -> Path:
    return ctx.home / ".agents" / "skills"


def link_dirs(ctx: ConfigContext) -> list[Path]:
    return [ctx.home / folder for folder in dict.fromkeys((*ctx.skill_link_dirs, ".agents/skills"))]


def manifest_path(ctx: ConfigContext) -> Path:
    # An overlay build starts from an empty folder each time: its links are
    # recorded inside it, apart from those made in the user's HOME.
    if ctx.building_overlay:
        return ctx.home / BOOKKEEPING_DIR / "skill-links.json"
    return ctx.resolved_data_dir / "skill-links.json"


def available_skills(ctx: ConfigContext) -> dict[str, Path]:
    """Skill name to folder; skill packs win over shipped skills, configured folders over both."""
    skills: dict[str, Path] = {}
    packs = set(ctx.skill_pack_dirs)
    for source in (SHIPPED_SKILLS, *ctx.skill_pack_dirs, *ctx.skill_dirs):
        source = Path(source).expanduser()
        if not source.is_dir():
            # A pack not installed (yet, or at all) is its own step's business.
            if source not in packs:
                log.warning("skill folder %s does not exist; skipped", source)
            continue
        for entry in sorted(source.iterdir()):
            if (entry / SKILL_FILE).is_file():
                skills[entry.name] = entry.absolute()
    return skills


def _read_manifest(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    links = data.get("links") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in links.items()} if isinstance(links, dict) else {}


def _points_to(link: Path, target: str) -> bool:
    return link.is_symlink() and os.readlink(link) == target


def write(ctx: ConfigContext) -> list[Path]:
    # Setup may share skills from several steps at once (each skill pack's).
    with file_lock(manifest_path(ctx)):
        return _write(ctx)


def _write(ctx: ConfigContext) -> list[Path]:
    recorded = _read_manifest(manifest_path(ctx))
    wanted = {
        str(folder / name): str(source) for folder in link_dirs(ctx) for name, source in available_skills(ctx).items()
    }
    changed: list[Path] = []

    for link_str, target in recorded.items():
        link = Path(link_str)
        if link_str not in wanted and _points_to(link, target):
            link.unlink()
            changed.append(link)

    owned: dict[str, str] = {}
    for link_str, target in wanted.items():
        link = Path(link_str)
        if _points_to(link, target):
            owned[link_str] = target
            continue
        ours = link_str in recorded and _points_to(link, recorded[link_str])
        if os.path.lexists(link) and not ours:
            log.warning("skill %s: %s already exists and is not ours; left as is", link.name, link)
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        if ours:
            link.unlink()
        link.symlink_to(target, target_is_directory=True)
        owned[link_str] = target
        changed.append(link)

    manifest = manifest_path(ctx)
    text = json.dumps({"links": dict(sorted(owned.items()))}, indent=2) + "\n"
    if (owned or manifest.exists()) and write_if_changed(manifest, text, PLAIN_MODE):
        changed.append(manifest)
    return changed


WRITER = ConfigWriter("skills", write)
