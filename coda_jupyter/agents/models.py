"""Model names per role, as the catalogue's agents declare them.

An agent's config writer needs one or more model names (Claude Code has a
main model and one per tier, Hermes a fallback). Each is a ``ModelRole``
declared by the writer that uses it and listed on the agent's ``AgentSpec``,
so the server learns the roles, their defaults and the environment variables
that override them from the catalogue alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelRole:
    """One model name an agent's config holds; defaults follow upstream's latest release."""

    name: str
    default: str
    # When set in the server's environment, it replaces ``default``.
    variable: str | None = None


@dataclass(frozen=True)
class Models:
    """Configured model names by role name; a role not configured gets its default."""

    names: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, role: ModelRole) -> str:
        return self.names.get(role.name) or role.default
