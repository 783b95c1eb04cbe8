"""Setup steps that write agent configuration through the catalogue's writers.

Each agent's writer runs once its install is done, with whatever the server
knows at that moment: without Databricks credentials it only adds MCP servers
and skills and leaves the agent's own login alone. ``connect-agents`` waits
for credentials and then points every agent at the local model gateway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from functools import partial

from ..agents import AgentSpec
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


def configure_steps(agents: Iterable[AgentSpec], context: ContextFactory, installs: set[str]) -> list[Step]:
    """One step per agent writer, the shared writers, and the credential-bound connect step.

    ``installs`` are the ids of install steps present in the plan, so a
    writer waits for its agent's install when there is one.
    """
    steps: list[Step] = []
    writers: list[ConfigWriter] = []
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
                run=partial(_write, (writer,), context),
                needs=(install,) if install in installs else (),
            )
        )
    shared = {writer.name: writer for writer in SHARED_WRITERS}
    steps.append(Step("skills", "Sharing skills with every agent", partial(_write, (shared["skills"],), context)))
    instructions = guidance.writer(agents)
    steps.append(
        Step(GUIDANCE_STEP, "Writing agent instructions and subagents", partial(_write, (instructions,), context))
    )
    if "claude" in {spec.id for spec in agents}:
        steps.append(
            Step(
                "tracing",
                "Enabling MLflow tracing for Claude Code",
                partial(_write, (shared["mlflow"],), context),
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
            partial(_write, tuple(with_credentials), context),
            needs=tuple(step.id for step in steps),
            conditions=(DATABRICKS_CREDENTIALS,),
        )
    )
    return steps


async def _write(writers: tuple[ConfigWriter, ...], context: ContextFactory, ctx: StepContext) -> str:
    config = context()
    changed: list[str] = []
    for writer in writers:
        # Writers do small blocking file I/O; keep it off the server's loop.
        paths = await asyncio.to_thread(writer, config)
        changed += [str(path) for path in paths]
        ctx.log(f"{writer.name}: {len(paths)} file(s) changed")
    return f"{len(changed)} file(s) changed" if changed else "already up to date"
