"""Setup steps that write agent configuration through the catalogue's writers.

Each agent's writer runs once its install is done, with whatever the server
knows at that moment: without Databricks credentials it only adds MCP servers
and skills and leaves the agent's own login alone. ``connect-agents`` waits
for credentials and then points every agent at the local model gateway.

When the context names an overlay (local mode), the agent writers do not
touch HOME: each step rebuilds the overlay with all of them
(``agents/overlay.py``), so files two writers share come out whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from ..agents import AgentSpec, overlay
from ..agents.writers import SHARED_WRITERS, ConfigContext, ConfigWriter, guidance
from ..sync import hooks as sync_hooks
from .plan import DATABRICKS_CREDENTIALS, install_step_id
from .step import Step, StepContext

ContextFactory = Callable[[], ConfigContext]

CONNECT_STEP = "connect-agents"
GUIDANCE_STEP = "guidance"
_WITHOUT_CREDENTIALS = ("skills", "mlflow")


def configure_step_id(agent_id: str) -> str:
    return f"configure-{agent_id}"


@dataclass(frozen=True)
class _Overlay:
    """The catalogue's agents and every writer whose files belong in the overlay."""

    agents: tuple[AgentSpec, ...]
    writers: tuple[ConfigWriter, ...]


def configure_steps(agents: Iterable[AgentSpec], context: ContextFactory, installs: set[str]) -> list[Step]:
    """One step per agent writer, the shared writers, and the credential-bound connect step.

    ``installs`` are the ids of install steps present in the plan, so a
    writer waits for its agent's install when there is one.
    """
    agents = list(agents)
    steps: list[Step] = []
    writers: list[ConfigWriter] = []
    shared = {writer.name: writer for writer in SHARED_WRITERS}
    instructions = guidance.writer(agents)
    tracing = "claude" in {spec.id for spec in agents}
    in_overlay = _Overlay(
        tuple(agents),
        (
            *(spec.config_writer for spec in agents if spec.config_writer is not None),
            shared["skills"],
            instructions,
            *((shared["mlflow"],) if tracing else ()),
        ),
    )
    write = partial(_write, in_overlay=in_overlay)
    for spec in agents:
        writer = spec.config_writer
        if writer is None:
            continue
        writers.append(writer)
        install = install_step_id(spec.id)
        steps.append(
            Step(
                id=configure_step_id(spec.id),
                label=f"Configuring {spec.label}",
                run=partial(write, (writer,), context),
                needs=(install,) if install in installs else (),
            )
        )
    steps.append(Step("skills", "Sharing skills with every agent", partial(write, (shared["skills"],), context)))
    steps.append(
        Step(GUIDANCE_STEP, "Writing agent instructions and subagents", partial(write, (instructions,), context))
    )
    if tracing:
        steps.append(
            Step(
                "tracing",
                "Enabling MLflow tracing for Claude Code",
                partial(write, (shared["mlflow"],), context),
                # Both write ~/.claude/settings.json; one after the other.
                needs=(configure_step_id("claude"),),
            )
        )
    with_credentials = [
        *writers,
        # The instructions name the workspace user, known once connected.
        instructions,
        *(writer for name, writer in shared.items() if name not in _WITHOUT_CREDENTIALS),
        sync_hooks.WRITER,
    ]
    steps.append(
        Step(
            CONNECT_STEP,
            "Connecting agents to the Databricks workspace",
            partial(write, tuple(with_credentials), context),
            needs=tuple(step.id for step in steps),
            conditions=(DATABRICKS_CREDENTIALS,),
        )
    )
    return steps


async def _write(
    writers: tuple[ConfigWriter, ...], context: ContextFactory, ctx: StepContext, *, in_overlay: _Overlay
) -> str:
    config = context()
    changed: list[str] = []
    if config.overlay_home is not None:
        home_writers = tuple(writer for writer in writers if writer not in in_overlay.writers)
        if len(home_writers) < len(writers):
            paths = await asyncio.to_thread(overlay.build, config, in_overlay.agents, in_overlay.writers, writers)
            changed += [str(path) for path in paths]
            ctx.log(f"agent configs in {config.overlay_home}: {len(paths)} file(s) changed")
        writers = home_writers
    for writer in writers:
        # Writers do small blocking file I/O; keep it off the server's loop.
        paths = await asyncio.to_thread(writer, config)
        changed += [str(path) for path in paths]
        ctx.log(f"{writer.name}: {len(paths)} file(s) changed")
    return f"{len(changed)} file(s) changed" if changed else "already up to date"
