"""The notebook operations behind the MCP tools.

A notebook open in a JupyterLab tab is changed and run by that tab, through
the relay (``coda_jupyter.notebooks.relay``): the server never writes a file
an editor holds. Otherwise the server does it on the file and the notebook's
kernel session. Every server-side change is a read-modify-write
through the contents manager under a per-notebook lock, so concurrent tool
calls never lose each other's edits, and cells are found by id at write time,
so an execution's outputs land in the right cell even after inserts.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from jupyter_server.utils import ensure_async
from tornado import web

from .cells import CellType, Rendered, cell_position, describe_cell, ensure_ids, insert_position, new_cell, source_text
from .jobs import CellRun, Job, Jobs, NotRun
from .kernel import NotebookKernels
from .paths import NotebookError, notebook_path
from .relay import BrowserGone, Relay

DEFAULT_TIMEOUT_S = 30.0
MAX_RECENT = 50
# Entries looked at while listing recent notebooks: a huge root must not stall the server.
MAX_SCANNED = 20_000
_SKIPPED_DIRS = {"node_modules", "__pycache__", "site-packages"}


class NotebookService:
    def __init__(self, contents_manager: Any, session_manager: Any, kernel_manager: Any, root_dir: str):
        self.contents_manager = contents_manager
        self.root_dir = root_dir
        self.kernels = NotebookKernels(session_manager, kernel_manager)
        self.jobs = Jobs()
        self.relay = Relay()
        self._locks: dict[str, asyncio.Lock] = {}

    def path(self, raw: str) -> str:
        return notebook_path(raw, self.root_dir)

    # -- file access -------------------------------------------------------

    async def load(self, path: str) -> dict[str, Any]:
        try:
            model = await ensure_async(self.contents_manager.get(path, content=True, type="notebook"))
        except web.HTTPError as err:
            if err.status_code == 404:
                raise NotebookError(f"notebook {path!r} does not exist") from None
            raise NotebookError(f"cannot read {path!r}: {err.log_message or err.reason}") from None
        nb: dict[str, Any] = model["content"]
        return nb

    async def _save(self, path: str, nb: dict[str, Any]) -> None:
        try:
            await ensure_async(self.contents_manager.save({"type": "notebook", "format": "json", "content": nb}, path))
        except web.HTTPError as err:
            raise NotebookError(f"cannot save {path!r}: {err.log_message or err.reason}") from None

    @asynccontextmanager
    async def editing(self, path: str) -> AsyncIterator[dict[str, Any]]:
        """The notebook as it is on disk now, saved back when the block ends without error."""
        async with self._locks.setdefault(path, asyncio.Lock()):
            nb = await self.load(path)
            ensure_ids(nb)
            yield nb
            await self._save(path, nb)

    async def with_ids(self, path: str) -> dict[str, Any]:
        """The notebook, its cells' ids saved first when it had none (older nbformat)."""
        async with self._locks.setdefault(path, asyncio.Lock()):
            nb = await self.load(path)
            if ensure_ids(nb):
                await self._save(path, nb)
            return nb

    async def _in_browser(self, path: str, command: dict[str, Any]) -> dict[str, Any] | None:
        """The reply of the browser tab holding ``path``, or ``None`` when no tab does."""
        holder = self.relay.holder(path)
        if holder is None:
            return None
        try:
            return await self.relay.call(holder, {**command, "path": path})
        except BrowserGone:
            return None

    # -- tools -------------------------------------------------------------

    async def open_notebooks(self) -> list[dict[str, Any]]:
        sessions = await self.kernels.session_manager.list_sessions()
        in_browser = self.relay.open_paths()
        found: dict[str, dict[str, Any]] = {}
        for session in sessions:
            path = session.get("path") or ""
            if path.endswith(".ipynb") and session.get("kernel"):
                kernel = session["kernel"]
                found[path] = {
                    "path": path,
                    "in_browser": path in in_browser,
                    "kernel": {"name": kernel.get("name"), "state": kernel.get("execution_state")},
                }
        for path in sorted(in_browser - set(found)):
            found[path] = {"path": path, "in_browser": True, "kernel": None}
        return sorted(found.values(), key=lambda entry: (not entry["in_browser"], entry["path"]))

    def recent_notebooks(self, exclude: set[str]) -> list[dict[str, Any]]:
        found: list[tuple[float, str]] = []
        scanned = 0
        root = os.path.realpath(self.root_dir)
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS]
            scanned += len(dirs) + len(files)
            for name in files:
                if name.endswith(".ipynb") and not name.startswith("."):
                    full = os.path.join(folder, name)
                    rel = os.path.relpath(full, root).replace(os.sep, "/")
                    if rel not in exclude:
                        try:
                            found.append((os.stat(full).st_mtime, rel))
                        except OSError:
                            continue
            if scanned > MAX_SCANNED:
                break
        found.sort(reverse=True)
        return [
            {"path": rel, "last_modified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))}
            for mtime, rel in found[:MAX_RECENT]
        ]

    async def read(self, path: str, include_outputs: bool) -> tuple[dict[str, Any], Rendered]:
        # The open tab's model holds what the user sees, unsaved edits included.
        nb = await self._in_browser(path, {"op": "read"}) or await self.load(path)
        rendered = Rendered()
        cells = [
            describe_cell(cell, index, rendered if include_outputs else None) for index, cell in enumerate(nb["cells"])
        ]
        session = await self.kernels.session(path)
        kernel = session["kernel"]["name"] if session and session.get("kernel") else None
        return {"path": path, "kernel": kernel, "cells": cells}, rendered

    async def insert(self, path: str, index: int, source: str, cell_type: CellType) -> dict[str, Any]:
        command = {"op": "insert", "index": index, "source": source, "cell_type": cell_type}
        if (done := await self._in_browser(path, command)) is not None:
            return {"path": path, **done}
        async with self.editing(path) as nb:
            position = insert_position(nb["cells"], index)
            cell = new_cell(cell_type, source)
            nb["cells"].insert(position, cell)
        return {"path": path, "cell_id": cell["id"], "index": position, "cells": len(nb["cells"])}

    async def edit(self, path: str, cell_id: str | None, index: int | None, source: str) -> dict[str, Any]:
        command = {"op": "edit", "cell_id": cell_id, "index": index, "source": source}
        if (done := await self._in_browser(path, command)) is not None:
            return {"path": path, **done}
        async with self.editing(path) as nb:
            position = cell_position(nb["cells"], cell_id, index)
            cell = nb["cells"][position]
            cell["source"] = source
        return {"path": path, "cell_id": cell["id"], "index": position}

    async def delete(self, path: str, cell_id: str | None, index: int | None) -> dict[str, Any]:
        command = {"op": "delete", "cell_id": cell_id, "index": index}
        if (done := await self._in_browser(path, command)) is not None:
            return {"path": path, **done}
        async with self.editing(path) as nb:
            position = cell_position(nb["cells"], cell_id, index)
            cell = nb["cells"].pop(position)
        return {"path": path, "cell_id": cell["id"], "index": position, "cells": len(nb["cells"])}

    async def start_execution(self, path: str, cell_id: str | None, index: int | None) -> Job:
        if self.relay.holder(path) is not None:
            # The tab finds and checks the cell as it runs it: no read of the whole notebook first.
            target = {"cell_id": cell_id, "index": index}
            return self.jobs.start(path, lambda runs: self._run_in_browser(path, [target], runs))
        nb = await self.with_ids(path)
        cell = nb["cells"][cell_position(nb["cells"], cell_id, index)]
        if cell.get("cell_type") != "code":
            raise NotebookError(f"cell {cell['id']!r} is a {cell.get('cell_type')} cell: only code cells run")
        return await self._start_on_server(path, nb, [cell["id"]])

    async def start_run_all(self, path: str) -> Job:
        nb = await self._in_browser(path, {"op": "read"}) or await self.with_ids(path)
        cell_ids = [cell["id"] for cell in nb["cells"] if cell.get("cell_type") == "code"]
        if self.relay.holder(path) is not None:
            targets: list[dict[str, Any]] = [{"cell_id": cell_id, "index": None} for cell_id in cell_ids]
            return self.jobs.start(path, lambda runs: self._run_in_browser(path, targets, runs))
        return await self._start_on_server(path, nb, cell_ids)

    async def _start_on_server(self, path: str, nb: dict[str, Any], cell_ids: list[str]) -> Job:
        kernel_id = await self.kernels.ensure(path, _kernel_name(nb))
        return self.jobs.start(path, lambda runs: self._run(path, kernel_id, cell_ids, runs))

    async def _run_in_browser(self, path: str, targets: list[dict[str, Any]], runs: list[CellRun]) -> list[CellRun]:
        """Each cell run by the tab through its session context, so outputs appear as they come."""
        for position, target in enumerate(targets):
            try:
                reply = await self._in_browser(path, {"op": "execute", **target})
            except NotebookError as err:
                if runs:
                    raise
                # Nothing ran (no such cell, not a code cell, no kernel): the call itself failed.
                raise NotRun(str(err)) from None
            if reply is None:
                # The tab went away before this cell: the rest runs on the server.
                return await self._run_rest_on_server(path, targets[position:], runs)
            run = CellRun(
                str(reply.get("cell_id") or target["cell_id"]),
                str(reply.get("status", "ok")),
                reply.get("execution_count"),
                reply.get("outputs") or [],
            )
            runs.append(run)
            if run.status != "ok":
                break
        return runs

    async def _run_rest_on_server(self, path: str, targets: list[dict[str, Any]], runs: list[CellRun]) -> list[CellRun]:
        nb = await self.with_ids(path)
        cell_ids = [nb["cells"][cell_position(nb["cells"], t["cell_id"], t["index"])]["id"] for t in targets]
        kernel_id = await self.kernels.ensure(path, _kernel_name(nb))
        return await self._run(path, kernel_id, cell_ids, runs)

    async def _run(self, path: str, kernel_id: str, cell_ids: list[str], runs: list[CellRun]) -> list[CellRun]:
        link = self.kernels.link(kernel_id)
        for cell_id in cell_ids:
            # The source is read just before the cell runs: an edit made meanwhile counts.
            nb = await self.load(path)
            cell = next((c for c in nb["cells"] if c.get("id") == cell_id), None)
            if cell is None:
                runs.append(CellRun(cell_id, "missing"))
                continue
            result = await link.execute(source_text(cell.get("source")))
            run = CellRun(cell_id, result.status, result.execution_count, result.outputs)
            async with self.editing(path) as nb:
                target = next((c for c in nb["cells"] if c.get("id") == cell_id), None)
                if target is not None:
                    target["outputs"] = result.outputs
                    target["execution_count"] = result.execution_count
            runs.append(run)
            if result.status != "ok":
                break
        return runs

    async def wait(self, job: Job, timeout: float) -> bool:
        """Whether the job finished within ``timeout`` seconds (it keeps running either way)."""
        if timeout > 0 and not job.task.done():
            await asyncio.wait({job.task}, timeout=timeout)
        return job.task.done()

    async def kernel_of(self, path: str) -> str:
        kernel_id = await self.kernels.running(path)
        if kernel_id is None:
            raise NotebookError(f"notebook {path!r} has no running kernel")
        return kernel_id

    async def interrupt(self, path: str) -> dict[str, Any]:
        await self.kernels.interrupt(await self.kernel_of(path))
        return {"path": path, "interrupted": True}

    async def restart(self, path: str) -> dict[str, Any]:
        kernel_id = await self.kernel_of(path)
        # Requests sent before the restart never get an answer from the new process.
        for job in self.jobs.running(path):
            job.task.cancel()
        await self.kernels.restart(kernel_id)
        return {"path": path, "restarted": True}

    def close(self) -> None:
        self.jobs.cancel_all()
        self.kernels.close()


def _kernel_name(nb: dict[str, Any]) -> str | None:
    name = (nb.get("metadata") or {}).get("kernelspec", {}).get("name")
    return str(name) if name else None
