"""The notebook tools: list, read, insert, edit, delete and run cells; interrupt and restart kernels.

They act on the notebook the user has open, through ``NotebookService``.
``NOTEBOOK_TOOLS`` declares them; ``notebook_tool_defs`` binds them to the server's service.
Executions wait up to ``timeout`` seconds; a longer one keeps running and the
reply carries a ``handle`` that ``coda_notebook_result`` fetches later.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp_types import CallToolResult, ContentBlock, ImageContent, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from ..notebooks.cells import Rendered
from ..notebooks.jobs import Job, NotRun
from ..notebooks.service import DEFAULT_TIMEOUT_S, NotebookService
from .tools import ToolContext, ToolDef

MAX_SOURCE_CHARS = 1_000_000
MAX_TIMEOUT_S = 300

NotebookPath = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        description="The notebook, relative to the Jupyter root (e.g. 'analysis/orders.ipynb').",
    ),
]
Timeout = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_TIMEOUT_S,
        description=(
            "Seconds to wait for the outputs. If the cell is still running then, the reply carries a "
            "handle and the cell keeps running: fetch its outputs later with coda_notebook_result."
        ),
    ),
]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListArgs(_Args):
    pass


class PathArgs(_Args):
    path: NotebookPath


class ReadArgs(PathArgs):
    include_outputs: bool = Field(
        False, description="Also return the outputs (text; images as image content; sizes capped)."
    )


class InsertArgs(PathArgs):
    index: int = Field(ge=-1, description="Position of the new cell: 0 is the top, -1 appends.")
    source: str = Field(max_length=MAX_SOURCE_CHARS, description="The cell's source.")
    cell_type: Literal["code", "markdown", "raw"] = Field("code", description="The cell's type.")


class CellArgs(PathArgs):
    cell_id: Annotated[str, Field(min_length=1, max_length=200)] | SkipJsonSchema[None] = Field(
        None, description="The cell's id (from coda_notebook_read). Preferred: ids survive inserts."
    )
    index: Annotated[int, Field(ge=0)] | SkipJsonSchema[None] = Field(
        None, description="The cell's position, 0 for the first. Give cell_id or index."
    )

    @model_validator(mode="after")
    def _one_cell(self) -> CellArgs:
        if (self.cell_id is None) == (self.index is None):
            raise ValueError("give exactly one of cell_id and index")
        return self


class EditArgs(CellArgs):
    source: str = Field(max_length=MAX_SOURCE_CHARS, description="The cell's new source, replacing the old.")


class ExecuteArgs(CellArgs):
    timeout: Timeout = DEFAULT_TIMEOUT_S


class RunAllArgs(PathArgs):
    timeout: Timeout = DEFAULT_TIMEOUT_S


class ResultArgs(_Args):
    handle: str = Field(pattern=r"^[0-9a-f]{16}$", description="The handle a timed-out execution returned.")
    timeout: Timeout = DEFAULT_TIMEOUT_S


def _reply(payload: dict[str, Any], rendered: Rendered | None = None) -> CallToolResult:
    if rendered is not None and rendered.notes:
        payload = {**payload, "notes": rendered.notes}
    content: list[ContentBlock] = [TextContent(type="text", text=json.dumps(payload, indent=1))]
    for mime, data in rendered.images if rendered is not None else []:
        content.append(ImageContent(type="image", data=data, mime_type=mime))
    return CallToolResult(content=content, structured_content=payload)


def _job_reply(job: Job, done: bool, waited: float) -> CallToolResult:
    error = job.task.exception() if done and not job.task.cancelled() else None
    if isinstance(error, NotRun):
        # The tab checks the cell as it runs it, so this is known only now: still the call's own error.
        raise error
    rendered = Rendered()
    cells = [
        {
            "cell_id": run.cell_id,
            "status": run.status,
            "execution_count": run.execution_count,
            "outputs": rendered.outputs(run.outputs),
        }
        for run in list(job.runs)
    ]
    payload: dict[str, Any] = {"path": job.path, "handle": job.handle, "cells": cells}
    if not done:
        payload["status"] = "running"
        payload["message"] = (
            f"Still running after {waited:g}s; it goes on in the kernel. Call coda_notebook_result "
            "with this handle to wait for the outputs."
        )
    elif job.task.cancelled():
        payload["status"] = "cancelled"
        payload["message"] = "The kernel was restarted before the execution finished."
    elif job.task.exception() is not None:
        payload["status"] = "failed"
        payload["message"] = str(job.task.exception())
    else:
        failed = [run.status for run in job.runs if run.status != "ok"]
        payload["status"] = failed[0] if failed else "ok"
    return _reply(payload, rendered)


async def _list(svc: NotebookService, args: ListArgs) -> CallToolResult:
    opened = await svc.open_notebooks()
    recent = svc.recent_notebooks({entry["path"] for entry in opened})
    return _reply({"open": opened, "recent": recent})


async def _read(svc: NotebookService, args: ReadArgs) -> CallToolResult:
    payload, rendered = await svc.read(svc.path(args.path), args.include_outputs)
    return _reply(payload, rendered)


async def _insert(svc: NotebookService, args: InsertArgs) -> CallToolResult:
    return _reply(await svc.insert(svc.path(args.path), args.index, args.source, args.cell_type))


async def _edit(svc: NotebookService, args: EditArgs) -> CallToolResult:
    return _reply(await svc.edit(svc.path(args.path), args.cell_id, args.index, args.source))


async def _delete(svc: NotebookService, args: CellArgs) -> CallToolResult:
    return _reply(await svc.delete(svc.path(args.path), args.cell_id, args.index))


async def _execute(svc: NotebookService, args: ExecuteArgs) -> CallToolResult:
    job = await svc.start_execution(svc.path(args.path), args.cell_id, args.index)
    return _job_reply(job, await svc.wait(job, args.timeout), args.timeout)


async def _run_all(svc: NotebookService, args: RunAllArgs) -> CallToolResult:
    job = await svc.start_run_all(svc.path(args.path))
    return _job_reply(job, await svc.wait(job, args.timeout), args.timeout)


async def _result(svc: NotebookService, args: ResultArgs) -> CallToolResult:
    job = svc.jobs.get(args.handle)
    return _job_reply(job, await svc.wait(job, args.timeout), args.timeout)


async def _interrupt(svc: NotebookService, args: PathArgs) -> CallToolResult:
    return _reply(await svc.interrupt(svc.path(args.path)))


async def _restart(svc: NotebookService, args: PathArgs) -> CallToolResult:
    return _reply(await svc.restart(svc.path(args.path)))


@dataclass(frozen=True)
class _Tool:
    """One notebook tool, before it is bound to the server's service."""

    name: str
    title: str
    description: str
    args: type[BaseModel]
    call: Callable[[NotebookService, Any], Awaitable[CallToolResult]]
    hints: Mapping[str, bool]


_READ_ONLY = {"read_only_hint": True, "idempotent_hint": True}
_EDITS = {"read_only_hint": False, "destructive_hint": False, "idempotent_hint": False}
_RUNS = {"read_only_hint": False, "destructive_hint": True, "idempotent_hint": False}

NOTEBOOK_TOOLS: tuple[_Tool, ...] = (
    _Tool(
        "coda_notebook_list",
        "List notebooks",
        "The notebooks with a running kernel (open ones) first, then the most recently changed "
        "notebooks under the Jupyter root.",
        ListArgs,
        _list,
        _READ_ONLY,
    ),
    _Tool(
        "coda_notebook_read",
        "Read a notebook",
        "The notebook's cells in order: index, cell_id, cell_type, source, execution_count, and with "
        "include_outputs their outputs as text (images as image content; sizes capped).",
        ReadArgs,
        _read,
        _READ_ONLY,
    ),
    _Tool(
        "coda_notebook_insert_cell",
        "Insert a cell",
        "Insert a new cell at index (-1 appends); returns its cell_id. Shown live in the open notebook.",
        InsertArgs,
        _insert,
        _EDITS,
    ),
    _Tool(
        "coda_notebook_edit_cell",
        "Edit a cell",
        "Replace the source of the cell named by cell_id (or index). Shown live in the open notebook.",
        EditArgs,
        _edit,
        _EDITS,
    ),
    _Tool(
        "coda_notebook_delete_cell",
        "Delete a cell",
        "Delete the cell named by cell_id (or index).",
        CellArgs,
        _delete,
        {"read_only_hint": False, "destructive_hint": True, "idempotent_hint": False},
    ),
    _Tool(
        "coda_notebook_execute",
        "Run a cell",
        "Run one code cell in the notebook's own kernel (the user's, so variables are shared) and "
        "return its outputs. Past the timeout it returns a handle instead and the cell keeps running; "
        "fetch its outputs with coda_notebook_result.",
        ExecuteArgs,
        _execute,
        _RUNS,
    ),
    _Tool(
        "coda_notebook_run_all",
        "Run all cells",
        "Run every code cell from the top in the notebook's kernel, stopping at the first error. Past "
        "the timeout it returns a handle, as coda_notebook_execute does.",
        RunAllArgs,
        _run_all,
        _RUNS,
    ),
    _Tool(
        "coda_notebook_result",
        "Get an execution's outputs",
        "Wait up to timeout seconds for an execution that returned a handle, and return its outputs "
        "(or the cells finished so far and status 'running').",
        ResultArgs,
        _result,
        {"read_only_hint": True, "idempotent_hint": True},
    ),
    _Tool(
        "coda_kernel_interrupt",
        "Interrupt the kernel",
        "Interrupt what the notebook's kernel is running (as the stop button does).",
        PathArgs,
        _interrupt,
        _RUNS,
    ),
    _Tool(
        "coda_kernel_restart",
        "Restart the kernel",
        "Restart the notebook's kernel: every variable is lost.",
        PathArgs,
        _restart,
        _RUNS,
    ),
)


def notebook_tool_defs(service: NotebookService) -> list[ToolDef]:
    """The tools, bound to the server's notebook service."""
    return [
        ToolDef(
            name=tool.name,
            title=tool.title,
            description=tool.description,
            args=tool.args,
            annotations=ToolAnnotations(title=tool.title, open_world_hint=False, **tool.hints),
            call=_bound(tool.call, service),
        )
        for tool in NOTEBOOK_TOOLS
    ]


def _bound(
    call: Callable[[NotebookService, Any], Awaitable[CallToolResult]], service: NotebookService
) -> Callable[[ToolContext, Any], Awaitable[CallToolResult]]:
    async def bound(ctx: ToolContext, args: Any) -> CallToolResult:
        return await call(service, args)

    return bound
