"""The shape of one agent in the catalogue."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .models import ModelRole

if TYPE_CHECKING:
    from .writers.coda_mcp import McpClientSnippet
    from .writers.context import ConfigWriter

AGENT_ID = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ICON_DIR = Path(__file__).parent / "icons"


@dataclass(frozen=True)
class ConfigHome:
    """How one agent reads its configuration from coda's overlay folder.

    Locally the user's HOME is theirs: setup builds the agent's files in an
    overlay (``agents/overlay.py``) and every Jupyter terminal sets
    ``variables`` so the agent reads them there. All paths are relative: to
    the overlay for ``variables`` values and ``skill_dirs``, to HOME (the
    same path in the overlay) otherwise.
    """

    # Environment variable -> folder in the overlay it names.
    variables: Mapping[str, str]
    # Files copied from HOME as the base coda's keys are merged into, by
    # their path in the overlay (a file may move, as Claude's .claude.json).
    merged: Mapping[str, str] = field(default_factory=dict)
    # Login files and read-only folders reached by symlink, never copied.
    linked: tuple[str, ...] = ()
    # Folders whose entries (skills, subagents) are linked one by one, so
    # coda's own entries can sit beside the user's.
    linked_entries: tuple[str, ...] = ()
    # Where the agent finds skills once pointed at the overlay.
    skill_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConfigStep:
    """A writer an agent needs beside its own (Claude Code's MLflow tracing),
    run as a setup step of its own once the agent's writer is done."""

    id: str
    label: str
    writer: ConfigWriter


@dataclass(frozen=True)
class AgentSpec:
    """Everything the server knows about one coding agent.

    Later concerns (install, config writing, headless runs, model routes)
    hang off this object so that no other module hard-codes an agent.
    """

    id: str
    label: str
    executable: str
    argv: tuple[str, ...]
    icon_path: Path | None = None
    install_hint: str = ""
    # Filled in by the concern that owns each hook: ``agents/install.py`` for
    # installs, ``agents/writers/`` for config files, the task runner for
    # headless runs and the model gateway for routes.
    install: Any = None
    config_writer: ConfigWriter | None = None
    # Further writers for this agent alone, each its own setup step.
    config_steps: tuple[ConfigStep, ...] = ()
    # The model names its config writer puts in, with their defaults.
    model_roles: tuple[ModelRole, ...] = ()
    headless: Any = None
    model_route: str | None = None
    # Where the agent reads user-level instructions, relative to HOME; the
    # guidance writer keeps coda's block in it.
    instructions_file: str | None = None
    # A folder (relative to HOME) read for subagents in Claude Code's format.
    subagents_dir: str | None = None
    # How a client of this kind connects to coda's MCP endpoint from outside
    # the terminals (the Agent tasks panel shows it); the config writer puts
    # the in-terminal form into the agent's own config.
    mcp_client: McpClientSnippet | None = None
    # Locally, how Jupyter terminals point the agent at coda's overlay instead
    # of HOME. None: the agent reads HOME (its configs go there only with
    # ``write_user_configs`` or in a Databricks App).
    config_home: ConfigHome | None = None

    def icon_svg(self) -> str | None:
        if self.icon_path is None or not self.icon_path.is_file():
            return None
        return self.icon_path.read_text(encoding="utf-8")

    def overridden(self, fields: dict[str, Any]) -> AgentSpec:
        """Return a copy with user-configured fields applied (validated)."""
        allowed = {"label", "executable", "argv", "icon_path", "install_hint", "instructions_file"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"agent {self.id!r}: unknown field(s) {sorted(unknown)}")
        changes: dict[str, Any] = dict(fields)
        if "argv" in changes:
            changes["argv"] = _argv(self.id, changes["argv"])
        if "icon_path" in changes and changes["icon_path"] is not None:
            changes["icon_path"] = Path(changes["icon_path"]).expanduser()
        for key in ("label", "executable", "install_hint"):
            if key in changes and not isinstance(changes[key], str):
                raise ValueError(f"agent {self.id!r}: {key} must be a string")
        if changes.get("instructions_file") is not None:
            changes["instructions_file"] = _home_relative(self.id, changes["instructions_file"])
        return replace(self, **changes)


def _argv(agent_id: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(part, str) for part in value):
        raise ValueError(f"agent {agent_id!r}: argv must be a list of strings")
    if not value:
        raise ValueError(f"agent {agent_id!r}: argv must not be empty")
    return tuple(value)


def _home_relative(agent_id: str, value: Any) -> str:
    """A path inside HOME: writers put it under their context's home, never elsewhere."""
    path = Path(value) if isinstance(value, str) else None
    if path is None or path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"agent {agent_id!r}: instructions_file must be a path relative to HOME, e.g. .aider/RULES.md")
    return path.as_posix()


def spec_from_config(agent_id: str, fields: dict[str, Any]) -> AgentSpec:
    """Build a brand-new agent from a traitlets config entry."""
    if not AGENT_ID.match(agent_id):
        raise ValueError(f"agent id {agent_id!r} must match {AGENT_ID.pattern}")
    executable = fields.get("executable")
    if not isinstance(executable, str) or not executable:
        raise ValueError(f"agent {agent_id!r}: 'executable' is required")
    base = AgentSpec(
        id=agent_id,
        label=str(fields.get("label") or agent_id),
        executable=executable,
        argv=(executable,),
        icon_path=ICON_DIR / "generic.svg",
    )
    return base.overridden({k: v for k, v in fields.items() if k != "executable"})
