"""The agent catalogue: the single place that knows which agents exist.

Agents are registered under the ``coda_jupyter.agents`` entry-point group,
this package's built-ins included (``pyproject.toml``), so another installed
package adds an agent without touching this one. An entry point names an
``AgentSpec`` or a sequence of them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from . import claude, codex, gemini, hermes, opencode
from .models import ModelRole
from .spec import AGENT_ID, AgentSpec, spec_from_config

LOG = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "coda_jupyter.agents"
# In the order the launcher shows them; the first is the default for tasks.
BUILTIN: tuple[AgentSpec, ...] = (claude.SPEC, codex.SPEC, gemini.SPEC, opencode.SPEC, hermes.SPEC)


def _ours(entry: EntryPoint) -> bool:
    return entry.module.split(".")[0] == __name__.split(".")[0]


def _specs_of(entry: EntryPoint) -> list[AgentSpec]:
    """What one entry point registers; a broken one is logged and gives nothing."""
    try:
        loaded = entry.load()
    except Exception:
        LOG.exception("agent entry point %r (%s) failed to load; skipped", entry.name, entry.value)
        return []
    specs = list(loaded) if isinstance(loaded, list | tuple) else [loaded]
    good = [spec for spec in specs if isinstance(spec, AgentSpec) and AGENT_ID.match(spec.id)]
    if len(good) < len(specs):
        LOG.error(
            "agent entry point %r (%s) gave something other than valid AgentSpecs; skipped", entry.name, entry.value
        )
        return []
    return good


@functools.cache
def installed_agents() -> tuple[AgentSpec, ...]:
    """Every registered agent: this package's first, then others by distribution and name.

    An id registered twice keeps its first registration, so a third-party
    package cannot silently replace a built-in (configuration can). Read
    once per process: the scan reads every installed distribution's metadata,
    and a newly installed agent needs a restart anyway.
    """

    def order(entry: EntryPoint) -> tuple[bool, str, str]:
        return (not _ours(entry), entry.dist.name if entry.dist else "", entry.name)

    agents: dict[str, AgentSpec] = {}
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=order):
        for spec in _specs_of(entry):
            if spec.id in agents:
                LOG.error("agent %r from entry point %r is registered already; skipped", spec.id, entry.value)
                continue
            agents[spec.id] = spec
    return tuple(agents.values())


def model_roles(agents: Iterable[AgentSpec]) -> list[ModelRole]:
    """Every model role the agents declare, each once, in catalogue order."""
    roles: dict[str, ModelRole] = {}
    for spec in agents:
        for role in spec.model_roles:
            roles.setdefault(role.name, role)
    return list(roles.values())


def models_from_environment(agents: Iterable[AgentSpec], environ: Mapping[str, str]) -> dict[str, str]:
    """The model names the environment sets, by role name."""
    return {
        role.name: environ[role.variable]
        for role in model_roles(agents)
        if role.variable is not None and environ.get(role.variable)
    }


def unknown_model_roles(agents: Iterable[AgentSpec], names: Iterable[str]) -> list[str]:
    """Configured role names no agent declares, sorted: a typo is caught at start."""
    return sorted(set(names) - {role.name for role in model_roles(agents)})


class Catalogue:
    """An ordered, immutable set of agents: the installed ones plus user config."""

    def __init__(self, specs: list[AgentSpec]):
        self._specs = {spec.id: spec for spec in specs}

    @classmethod
    def from_config(cls, overrides: Mapping[str, Mapping[str, Any] | None], disabled: list[str]) -> Catalogue:
        specs = {spec.id: spec for spec in installed_agents()}
        for agent_id, fields in overrides.items():
            if fields is None:
                specs.pop(agent_id, None)
            elif agent_id in specs:
                specs[agent_id] = specs[agent_id].overridden(dict(fields))
            else:
                specs[agent_id] = spec_from_config(agent_id, dict(fields))
        for agent_id in disabled:
            specs.pop(agent_id, None)
        return cls(list(specs.values()))

    def __iter__(self) -> Iterator[AgentSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def get(self, agent_id: str) -> AgentSpec | None:
        return self._specs.get(agent_id)

    def ids(self) -> list[str]:
        return list(self._specs)
