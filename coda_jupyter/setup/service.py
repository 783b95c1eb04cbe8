"""Builds the setup plan from the server's configuration and owns the engine."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from traitlets import Dict, List
from traitlets.config import Config, Configurable, LoggingConfigurable

from ..agents import AgentSpec
from .configure import ContextFactory, configure_steps
from .engine import SetupEngine
from .installers import InstallSettings
from .plan import DATABRICKS_CREDENTIALS, build_plan, credentials_condition
from .skill_packs import skill_pack_steps, with_skill_packs
from .step import Step, StepContext, run
from .tools import DEFAULT_BASE_URL, ToolSettings

_STEP_FIELDS = {"id", "label", "command", "needs", "requires_credentials", "timeout"}


def configured_steps(entries: Iterable[Mapping[str, Any]]) -> list[Step]:
    """Steps declared in config (``CodaApp.setup_extra_steps``), each one command."""
    steps = []
    for entry in entries:
        unknown = set(entry) - _STEP_FIELDS
        if unknown:
            raise ValueError(f"setup step {entry.get('id')!r}: unknown field(s) {sorted(unknown)}")
        command = entry.get("command")
        if not entry.get("id") or not isinstance(command, list) or not command:
            raise ValueError(f"setup step {entry!r} needs an 'id' and a non-empty 'command' list")
        steps.append(
            Step(
                id=str(entry["id"]),
                label=str(entry.get("label") or entry["id"]),
                run=partial(_run_command, [str(part) for part in command]),
                needs=tuple(entry.get("needs", ())),
                conditions=(DATABRICKS_CREDENTIALS,) if entry.get("requires_credentials") else (),
                timeout=float(entry.get("timeout", 600.0)),
            )
        )
    return steps


async def _run_command(argv: list[str], ctx: StepContext) -> None:
    await run(ctx, argv)


class SetupService(LoggingConfigurable):
    """The server's one setup engine, built from ``CodaApp`` traits and its own."""

    skill_sources = List(
        Dict(),
        help="""Extra skill packs installed during setup and shared with every agent
        like the built-in skills. Each entry is pinned: ``{"git": URL, "commit":
        full commit id}``, ``{"pip": "name==version"}`` (optional ``index_url``)
        or ``{"npm": "name@version"}`` (optional ``registry``). An entry that
        is not pinned fails its setup step with the reason.""",
    ).tag(config=True)

    def __init__(
        self,
        agents: Iterable[AgentSpec],
        state_dir: Path,
        *,
        builtin: bool,
        versions: Mapping[str, str],
        extra_steps: Iterable[Mapping[str, Any]],
        max_parallel: int,
        tools_base_url: str | None,
        tool_checksums: Mapping[str, Mapping[str, str]],
        credentials_present: Callable[[], bool],
        local_mode: bool,
        terminal_path: str,
        context: ContextFactory,
        parent: Configurable | None = None,
        config: Config | None = None,
    ) -> None:
        super().__init__(parent=parent, **({} if config is None else {"config": config}))
        home = Path.home()
        context = with_skill_packs(context, self.skill_sources)
        env = {**os.environ, "PATH": terminal_path}
        agents = list(agents)
        steps = [*skill_pack_steps(self.skill_sources, context), *configured_steps(extra_steps)]
        if builtin:
            base_url = tools_base_url or DEFAULT_BASE_URL
            tool_settings = ToolSettings(home=home, checksums=tool_checksums, base_url=base_url)
            installs = build_plan(agents, InstallSettings(home=home), tool_settings, versions=versions)
            steps = [
                *installs,
                *configure_steps(agents, context, {step.id for step in installs}),
                *steps,
            ]
        self.engine = SetupEngine(
            steps,
            state_dir,
            conditions={DATABRICKS_CREDENTIALS: credentials_condition(credentials_present, local_mode)},
            max_parallel=max_parallel,
            env=env,
        )

    def start(self) -> None:
        self.engine.start()

    def credentials_changed(self) -> None:
        """Release (or re-check) every step bound to Databricks credentials."""
        self.engine.condition_changed(DATABRICKS_CREDENTIALS)

    async def stop(self) -> None:
        await self.engine.stop()
