"""The four MCP tools: coda_run, coda_inbox, coda_get_result, coda_cancel.

Arguments are pydantic models: one definition gives both the published JSON
input schema and the validation. Failures the caller's model can fix (bad
arguments, limits, unknown ids) come back as ``isError`` results, as the MCP
spec asks for tool execution errors; only an unknown tool name is a
protocol error.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp_types import CallToolResult, TextContent, Tool, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import SkipJsonSchema

from ..agents.headless import DEFAULT_PERMISSIONS, PERMISSION_LEVELS
from ..notebooks.paths import NotebookError
from ..tasks import STATUSES, TaskError, TaskNotFound, TaskRequest, TaskRunner
from ..tasks.runner import MAX_PROMPT_CHARS
from ..tasks.store import RUNNING

TaskId = Annotated[str, Field(pattern=r"^[0-9a-f]{12}$", description="A task id returned by coda_run.")]


class UnknownTool(LookupError):
    pass


class RunArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description="What the agent should do, self-contained: the agent sees nothing of this conversation.",
    )
    agent: str | SkipJsonSchema[None] = Field(
        None, description="Which coding agent runs the task (one of the listed ids)."
    )
    cwd: str | SkipJsonSchema[None] = Field(
        None,
        description="Working directory, relative to the Jupyter root (or absolute inside it). Default: the root.",
    )
    context: dict[str, Any] | SkipJsonSchema[None] = Field(
        None, description="Structured context handed to the agent as JSON (tables, paths, ids)."
    )
    previous_task_id: Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")] | SkipJsonSchema[None] = Field(
        None, description="Make this a follow-up of an earlier task: the agent is pointed at its folder and result."
    )
    timeout_s: Annotated[int, Field(ge=1)] | SkipJsonSchema[None] = Field(
        None, description="Seconds before the task is stopped and marked timeout."
    )
    permissions: Literal[PERMISSION_LEVELS] = Field(  # type: ignore[valid-type]
        DEFAULT_PERMISSIONS,
        description=(
            "'workspace': the agent may edit files in its working directory and nothing that needs an "
            "approval. 'bypass': every approval prompt and sandbox of the agent is switched off. Some "
            "agents' headless modes always bypass approvals (Hermes): they accept only 'bypass'."
        ),
    )


class InboxArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal[STATUSES] | SkipJsonSchema[None] = Field(  # type: ignore[valid-type]
        None, description="Only tasks with this status."
    )
    limit: Annotated[int, Field(ge=1, le=200)] = Field(20, description="At most this many tasks.")


class TaskIdArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: TaskId


@dataclass(frozen=True)
class ToolContext:
    """Per-request facts the tools need: the runner and how to link to JupyterLab."""

    runner: TaskRunner
    lab_url: Callable[[str], str]


@dataclass(frozen=True)
class ToolDef:
    name: str
    title: str
    description: str
    args: type[BaseModel]
    annotations: ToolAnnotations
    # Returns the payload (sent as JSON text plus structured content), or a finished result
    # (tools that send images); may be a coroutine.
    call: Callable[[ToolContext, Any], dict[str, Any] | CallToolResult | Awaitable[dict[str, Any] | CallToolResult]]


def _run(ctx: ToolContext, args: RunArgs) -> dict[str, Any]:
    meta = ctx.runner.submit(
        TaskRequest(
            prompt=args.prompt,
            agent=args.agent,
            cwd=args.cwd,
            context=args.context,
            previous_task_id=args.previous_task_id,
            timeout_s=args.timeout_s,
            permissions=args.permissions,
        )
    )
    return {
        "task_id": meta["task_id"],
        "status": RUNNING,
        "agent": meta["agent"],
        "terminal": meta["terminal"],
        "lab_url": ctx.lab_url(meta["terminal"]),
        "bypasses_approvals": meta["bypasses_approvals"],
    }


def _inbox(ctx: ToolContext, args: InboxArgs) -> dict[str, Any]:
    return ctx.runner.list(status=args.status, limit=args.limit)


def _get_result(ctx: ToolContext, args: TaskIdArgs) -> dict[str, Any]:
    detail = ctx.runner.get(args.task_id)
    reply = {key: detail[key] for key in ("task_id", "status", "agent", "elapsed_s", "previous_task_id")}
    if detail["status"] == RUNNING:
        return {
            **reply,
            "progress": detail["progress"],
            "lab_url": ctx.lab_url(detail["terminal"]),
            "message": "The task is still running; its result is not available yet.",
        }
    return {**(detail["result"] or {}), **reply}


def _cancel(ctx: ToolContext, args: TaskIdArgs) -> dict[str, Any]:
    meta = ctx.runner.cancel(args.task_id)
    return {"task_id": meta["task_id"], "status": meta["status"]}


def _run_definition(agent_ids: list[str], default_agent: str) -> ToolDef:
    """``coda_run``: its description names the catalogue's agents."""
    agents = ", ".join(agent_ids)
    return ToolDef(
        name="coda_run",
        title="Start a background coding-agent task",
        description=(
            "Start a coding agent on a task in the background and return its task_id at once. "
            "The agent runs unattended in a JupyterLab terminal (lab_url opens it). "
            f"Agents: {agents} (default {default_agent}). Fire and forget: do not poll; "
            "check coda_inbox or coda_get_result later, when the user asks."
        ),
        args=RunArgs,
        annotations=ToolAnnotations(
            title="Start a background coding-agent task",
            read_only_hint=False,
            # The agent edits files, and with permissions='bypass' may do anything.
            destructive_hint=True,
            idempotent_hint=False,
            open_world_hint=True,
        ),
        call=_run,
    )


# The tools whose definition does not depend on the catalogue.
_TASK_TOOLS: tuple[ToolDef, ...] = (
    ToolDef(
        name="coda_inbox",
        title="List background tasks",
        description=(
            "List the background tasks of the retention window, newest first, with counts by "
            "status, the latest progress message of running tasks and the summary of finished ones."
        ),
        args=InboxArgs,
        annotations=ToolAnnotations(
            title="List background tasks", read_only_hint=True, idempotent_hint=True, open_world_hint=False
        ),
        call=_inbox,
    ),
    ToolDef(
        name="coda_get_result",
        title="Get a task's result",
        description=(
            "The result of a finished task (status, summary, files_changed, artifacts, errors, "
            "feedback); for a running task its status and latest progress message."
        ),
        args=TaskIdArgs,
        annotations=ToolAnnotations(
            title="Get a task's result", read_only_hint=True, idempotent_hint=True, open_world_hint=False
        ),
        call=_get_result,
    ),
    ToolDef(
        name="coda_cancel",
        title="Cancel a task",
        description=(
            "Stop a running task: its whole process group is terminated and the task ends "
            "'cancelled'. A finished task is left as it is."
        ),
        args=TaskIdArgs,
        annotations=ToolAnnotations(
            title="Cancel a task",
            read_only_hint=False,
            destructive_hint=True,
            idempotent_hint=True,
            open_world_hint=False,
        ),
        call=_cancel,
    ),
)


def _definitions(agent_ids: list[str], default_agent: str) -> list[ToolDef]:
    return [_run_definition(agent_ids, default_agent), *_TASK_TOOLS]


class ToolSet:
    """The tools of one server, listed and called through mcp-types models.

    The catalogue is fixed for the life of the server, so the definitions and
    their schemas are built once.
    """

    def __init__(self, runner: TaskRunner, extra: Sequence[ToolDef] = ()):
        self.runner = runner
        defs = [*_definitions(runner.catalogue.ids(), runner.default_agent), *extra]
        self._defs = {tool.name: tool for tool in defs}
        self._tools = [self._describe(tool) for tool in defs]

    def list(self) -> list[Tool]:
        return self._tools

    def _describe(self, tool: ToolDef) -> Tool:
        schema = _clean_schema(tool.args.model_json_schema())
        if tool.args is RunArgs:
            schema["properties"]["agent"]["enum"] = self.runner.catalogue.ids()
        return Tool(
            name=tool.name,
            title=tool.title,
            description=tool.description,
            input_schema=schema,
            annotations=tool.annotations,
        )

    async def call(self, name: str, arguments: dict[str, Any], ctx: ToolContext) -> CallToolResult:
        tool = self._defs.get(name)
        if tool is None:
            raise UnknownTool(name)
        try:
            args = tool.args.model_validate(arguments)
        except ValidationError as err:
            return _error(f"invalid arguments for {name}: {_validation_message(err)}")
        try:
            payload = tool.call(ctx, args)
            if inspect.isawaitable(payload):
                payload = await payload
        except (TaskError, TaskNotFound, NotebookError) as err:
            return _error(str(err))
        if isinstance(payload, CallToolResult):
            return payload
        return CallToolResult(
            content=[TextContent(type="text", text=json.dumps(payload, indent=1))],
            structured_content=payload,
        )


def _error(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def _validation_message(err: ValidationError) -> str:
    parts = []
    for problem in err.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in problem["loc"]) or "arguments"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


def _clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's generated titles and null defaults, which only add noise for clients."""
    schema = {key: value for key, value in schema.items() if key != "title"}
    properties = {}
    for name, prop in schema.get("properties", {}).items():
        prop = {key: value for key, value in prop.items() if key != "title"}
        if "default" in prop and prop["default"] is None:
            del prop["default"]
        properties[name] = prop
    schema["properties"] = properties
    return schema
