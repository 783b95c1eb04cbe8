"""Build the setup step graph from the agent catalogue and the tool list.

Pinned versions live on each agent's ``SPEC.install`` and on each tool; a
``{id: version}`` mapping (the ``CodaApp`` default map) overrides them.
Config-writer steps (``configure.py``) are added by the setup service and
may depend on the install steps by id (``install_step_id(agent_id)``) and on
conditions such as ``DATABRICKS_CREDENTIALS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial

from ..agents.install import Install
from ..agents.spec import AgentSpec
from .installers import InstallSettings, InstallTarget, ensure
from .step import Condition, Step, StepContext
from .tools import DEFAULT_TOOLS, ReleaseTool, ToolSettings, check_checksums

DATABRICKS_CREDENTIALS = "databricks-credentials"
INSTALL_TIMEOUT = 900.0
TOOL_TIMEOUT = 300.0


def install_step_id(agent_id: str) -> str:
    return f"install-{agent_id}"


def tool_step_id(tool_id: str) -> str:
    return f"tool-{tool_id}"


def credentials_condition(check: Callable[[], bool], local_mode: bool) -> Condition:
    """The Databricks-credentials condition: skipped locally, waited for in a Databricks App."""
    return Condition(
        check=check,
        waiting_reason="waiting for Databricks credentials",
        skip_reason="no Databricks credentials" if local_mode else None,
    )


def build_plan(
    agents: Iterable[AgentSpec],
    install_settings: InstallSettings,
    tool_settings: ToolSettings,
    versions: Mapping[str, str] | None = None,
    tools: Iterable[ReleaseTool] = DEFAULT_TOOLS,
) -> list[Step]:
    """One install step per agent that has ``install``, and one per tool."""
    agents, tools = list(agents), list(tools)
    overrides = dict(versions or {})
    known = {spec.id for spec in agents if spec.install is not None} | {tool.id for tool in tools}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"install versions given for unknown agents or tools: {', '.join(unknown)}")
    check_checksums(tools, tool_settings.checksums)
    steps: list[Step] = []
    for spec in agents:
        if spec.install is None:
            continue
        installer: Install = spec.install
        if spec.id in overrides:
            installer = installer.with_version(overrides[spec.id])
        target = InstallTarget(agent_id=spec.id, executable=spec.executable)
        steps.append(
            Step(
                id=install_step_id(spec.id),
                label=f"Installing {spec.label} {installer.version}",
                run=partial(_install, installer, target, install_settings),
                timeout=INSTALL_TIMEOUT,
            )
        )
    for tool in tools:
        if tool.id in overrides:
            tool = tool.with_version(overrides[tool.id])
        steps.append(
            Step(
                id=tool_step_id(tool.id),
                label=f"Installing {tool.label} {tool.version}",
                run=partial(_tool, tool, tool_settings),
                timeout=TOOL_TIMEOUT,
            )
        )
    return steps


async def _install(installer: Install, target: InstallTarget, settings: InstallSettings, ctx: StepContext) -> str:
    return await ensure(installer, ctx, target, settings)


async def _tool(tool: ReleaseTool, settings: ToolSettings, ctx: StepContext) -> str:
    return await tool.ensure(ctx, settings)
