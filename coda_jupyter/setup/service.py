"""Builds the setup plan from the server's configuration and owns the engine."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from traitlets import Bool, Dict, Int, List, Unicode
from traitlets.config import LoggingConfigurable

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
    """Steps declared in config (``SetupService.extra_steps``), each one command."""
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
    """The server's one setup engine: installs the agents and tools, then writes their configs."""

    enabled = Bool(True, help="Run the background setup engine at server start.").tag(config=True)

    builtin = Bool(
        True,
        help="Include the built-in install and configure steps. Turn off to run only extra_steps.",
    ).tag(config=True)

    extra_steps = List(
        Dict(),
        help="""Extra setup steps, each a dict: ``id``, ``command`` (argv list), and
        optionally ``label``, ``needs`` (step ids), ``requires_credentials`` (bool)
        and ``timeout`` (seconds).""",
    ).tag(config=True)

    max_parallel = Int(4, help="Setup steps that may run at the same time.").tag(config=True)

    install_versions = Dict(
        Unicode(),
        help="""Pinned versions by agent or tool id, overriding the catalogue's
        defaults, e.g. ``{"<agent id>": "1.2.3", "gh": "2.70.0"}``.""",
    ).tag(config=True)

    tools_base_url = Unicode(
        "",
        help="""Base URL of release downloads for micro, gh and the Databricks CLI (a
        mirror of github.com). It changes where a file comes from, never which file:
        downloads are checked against pinned or configured SHA-256s.""",
    ).tag(config=True)

    tool_checksums = Dict(
        Dict(Unicode()),
        help="""SHA-256 of a tool's release archive by tool id and platform, e.g.
        ``{"gh": {"linux-amd64": "<sha256>"}}``, for the version being installed.
        Required for a tool version overridden in install_versions, and for a
        platform without a pinned checksum.""",
    ).tag(config=True)

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
        credentials_present: Callable[[], bool],
        local_mode: bool,
        terminal_path: str,
        context: ContextFactory,
        **kwargs: Any,
    ) -> None:
        """``credentials_present`` releases the steps that need Databricks credentials."""
        super().__init__(**kwargs)
        home = Path.home()
        context = with_skill_packs(context, self.skill_sources)
        env = {**os.environ, "PATH": terminal_path}
        agents = list(agents)
        steps = [*skill_pack_steps(self.skill_sources, context), *configured_steps(self.extra_steps)]
        if self.builtin:
            base_url = self.tools_base_url or DEFAULT_BASE_URL
            tool_settings = ToolSettings(home=home, checksums=self.tool_checksums, base_url=base_url)
            installs = build_plan(agents, InstallSettings(home=home), tool_settings, versions=self.install_versions)
            steps = [
                *installs,
                *configure_steps(agents, context, {step.id for step in installs}),
                *steps,
            ]
        self.engine = SetupEngine(
            steps,
            state_dir,
            conditions={DATABRICKS_CREDENTIALS: credentials_condition(credentials_present, local_mode)},
            max_parallel=self.max_parallel,
            env=env,
        )

    def start(self) -> None:
        if self.enabled:
            self.engine.start()

    def credentials_changed(self, *_: object) -> None:
        """Release (or re-check) every step bound to Databricks credentials (a credentials event)."""
        self.engine.condition_changed(DATABRICKS_CREDENTIALS)

    async def stop(self) -> None:
        await self.engine.stop()
