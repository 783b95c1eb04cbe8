"""The agent catalogue: the single place that knows which agents exist."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from . import claude, codex, gemini, hermes, opencode
from .spec import AgentSpec, spec_from_config

BUILTIN: tuple[AgentSpec, ...] = (claude.SPEC, codex.SPEC, gemini.SPEC, opencode.SPEC, hermes.SPEC)


class Catalogue:
    """An ordered, immutable set of agents built from the builtins plus user config."""

    def __init__(self, specs: list[AgentSpec]):
        self._specs = {spec.id: spec for spec in specs}

    @classmethod
    def from_config(
        cls, overrides: Mapping[str, Mapping[str, Any] | None], disabled: list[str]
    ) -> Catalogue:
        specs = {spec.id: spec for spec in BUILTIN}
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
