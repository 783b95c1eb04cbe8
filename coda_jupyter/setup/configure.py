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
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial

from ..agents import AgentSpec, overlay
from ..agents.writers import SHARED_WRITERS, ConfigContext, ConfigWriter, guidance
from ..sync import hooks as sync_hooks
from .plan import DATABRICKS_CREDENTIALS, install_step_id
from .step import Step, StepContext

ContextFactory = Callable[[], ConfigContext]
# ``_write`` with its context and overlay bound: writers, then the step's context.
_WriteStep = Callable[[tuple[ConfigWriter, ...], StepContext], Awaitable[str]]

CONNECT_STEP = "connect-agents"
GUIDANCE_STEP = "guidance"
SKILLS_STEP = "skills"


def configure_step_id(agent_id: str) -> str:
    return f"configure-{agent_id}"


@dataclass(frozen=True)
class _Overlay:
    """The catalogue's agents and every writer whose files belong in the overlay."""

    agents: tuple[AgentSpec, ...]
    writers: tuple[ConfigWriter, ...]


def configure_steps(agents: Iterable[AgentSpec], context: ContextFactory, installs: set[str]) -> list[Step]:
    """One step per agent writer and per agent's further writers, the shared
    writers, and the credential-bound connect step.

    ``installs`` are the ids of install steps present in the plan, so a
    writer waits for its agent's install when there is one.
    """
    agents = list(agents)
    shared = {writer.name: writer for writer in SHARED_WRITERS}
    instructions = guidance.writer(agents)
    agent_writers = [spec.config_writer for spec in agents if spec.config_writer is not None]
    extra = [step for spec in agents for step in spec.config_steps]
    in_overlay = _Overlay(
        tuple(agents),
        (*agent_writers, shared[SKILLS_STEP], instructions, *(step.writer for step in extra)),
    )
    write = partial(_write, context=context, in_overlay=in_overlay)
    steps = [
        *_agent_steps(agents, write, installs),
        Step(SKILLS_STEP, "Sharing skills with every agent", partial(write, (shared[SKILLS_STEP],))),
        Step(GUIDANCE_STEP, "Writing agent instructions and subagents", partial(write, (instructions,))),
        *_further_steps(agents, write),
    ]
    with_credentials = [
        *agent_writers,
        # The instructions name the workspace user, known once connected.
        instructions,
        *(writer for name, writer in shared.items() if name != SKILLS_STEP),
        sync_hooks.WRITER,
    ]
    steps.append(
        Step(
            CONNECT_STEP,
            "Connecting agents to the Databricks workspace",
            partial(write, tuple(with_credentials)),
            needs=tuple(step.id for step in steps),
            conditions=(DATABRICKS_CREDENTIALS,),
        )
    )
    return steps


def _agent_steps(agents: list[AgentSpec], write: _WriteStep, installs: set[str]) -> Iterator[Step]:
    """Each agent's own writer, once its install (when the plan has one) is done."""
    for spec in agents:
        if spec.config_writer is None:
            continue
        install = install_step_id(spec.id)
        yield Step(
            id=configure_step_id(spec.id),
            label=f"Configuring {spec.label}",
            run=partial(write, (spec.config_writer,)),
            needs=(install,) if install in installs else (),
        )


def _further_steps(agents: list[AgentSpec], write: _WriteStep) -> Iterator[Step]:
    """An agent's further writers, after its own: they may share its files."""
    for spec in agents:
        own = (configure_step_id(spec.id),) if spec.config_writer is not None else ()
        for extra in spec.config_steps:
            yield Step(extra.id, extra.label, partial(write, (extra.writer,)), needs=own)


async def _write(
    writers: tuple[ConfigWriter, ...], ctx: StepContext, *, context: ContextFactory, in_overlay: _Overlay
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
