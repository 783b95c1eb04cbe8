"""The notebook's own kernel: found through Jupyter's session manager, driven by a kernel client.

A notebook's kernel is the one its session (``/api/sessions``, keyed by the
notebook path) names: the kernel JupyterLab connects the open notebook to, so
variables are shared with the user. With no session yet, one is started the
way JupyterLab would, and the notebook connects to it when the user opens it.

One kernel client per kernel stays connected: a reader task routes IOPub and
shell messages to the execution that sent the request (by ``msg_id``), so
executions after the first pay no connection set-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath
from dataclasses import dataclass, field
from queue import Empty
from typing import Any

from jupyter_server.utils import ensure_async
from nbformat.v4 import output_from_msg
from tornado import web

from .paths import NotebookError

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0


@dataclass
class ExecutionResult:
    status: str  # ok | error | aborted | dead
    execution_count: int | None
    outputs: list[dict[str, Any]] = field(default_factory=list)


class _Execution:
    """Outputs of one execute request, built as nbformat outputs (as JupyterLab stores them)."""

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []
        self.display_ids: list[str | None] = []
        self.execution_count: int | None = None
        self.status: str | None = None
        self.idle = asyncio.Event()
        self.replied = asyncio.Event()
        self._clear_pending = False

    def iopub(self, msg: dict[str, Any]) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status":
            if content.get("execution_state") == "idle":
                self.idle.set()
        elif kind == "execute_input":
            self.execution_count = content.get("execution_count")
        elif kind == "clear_output":
            if content.get("wait"):
                self._clear_pending = True
            else:
                self._clear()
        elif kind == "update_display_data":
            display_id = content.get("transient", {}).get("display_id")
            for output, shown_as in zip(self.outputs, self.display_ids, strict=True):
                if display_id and shown_as == display_id:
                    output["data"] = content.get("data", {})
        elif kind in ("stream", "display_data", "execute_result", "error"):
            if self._clear_pending:
                self._clear()
                self._clear_pending = False
            output = dict(output_from_msg(msg))  # type: ignore[no-untyped-call]
            last = self.outputs[-1] if self.outputs else None
            if kind == "stream" and last and last.get("output_type") == "stream" and last["name"] == output["name"]:
                last["text"] += output["text"]
            else:
                self.outputs.append(output)
                self.display_ids.append(content.get("transient", {}).get("display_id"))

    def _clear(self) -> None:
        self.outputs.clear()
        self.display_ids.clear()

    def reply(self, msg: dict[str, Any]) -> None:
        self.status = msg["content"].get("status")
        if self.execution_count is None:
            self.execution_count = msg["content"].get("execution_count")
        self.replied.set()

    def result(self, status: str | None = None) -> ExecutionResult:
        return ExecutionResult(status or self.status or "ok", self.execution_count, list(self.outputs))


class KernelLink:
    """A connected client of one kernel, shared by every execution sent to it."""

    def __init__(self, kernel_manager: Any, kernel_id: str):
        self.kernel_manager = kernel_manager
        self.kernel_id = kernel_id
        self._client: Any = None
        self._pending: dict[str, _Execution] = {}
        self._readers: list[asyncio.Task[None]] = []
        self._ready_lock = asyncio.Lock()

    async def _connect(self) -> Any:
        async with self._ready_lock:
            if self._client is None:
                kernel = self.kernel_manager.get_kernel(self.kernel_id)
                ready = getattr(kernel, "ready", None)
                if ready is not None:
                    await ready
                client = kernel.client()
                client.start_channels()
                try:
                    await client.wait_for_ready(timeout=READY_TIMEOUT_S)
                except RuntimeError as err:
                    client.stop_channels()
                    raise NotebookError(f"the notebook's kernel does not answer: {err}") from None
                self._client = client
                self._readers = [
                    asyncio.create_task(self._read(client.get_iopub_msg, "iopub")),
                    asyncio.create_task(self._read(client.get_shell_msg, "shell")),
                ]
            return self._client

    async def _read(self, get: Any, channel: str) -> None:
        while True:
            try:
                msg = await get(timeout=1)
            except Empty:
                continue
            except Exception:  # a closed channel ends the reader
                log.debug("coda-jupyter: kernel %s %s reader stopped", self.kernel_id, channel, exc_info=True)
                return
            execution = self._pending.get(msg.get("parent_header", {}).get("msg_id", ""))
            if execution is not None:
                if channel == "iopub":
                    execution.iopub(msg)
                elif msg["msg_type"] == "execute_reply":
                    execution.reply(msg)

    async def execute(self, code: str) -> ExecutionResult:
        client = await self._connect()
        execution = _Execution()
        msg_id = client.execute(code, store_history=True, allow_stdin=False, stop_on_error=True)
        self._pending[msg_id] = execution
        finished = asyncio.ensure_future(_both(execution))
        try:
            while True:
                done, _ = await asyncio.wait({finished}, timeout=2.0)
                if done:
                    return execution.result()
                # A kernel that died (or was shut down) never goes idle for this request.
                if not await self._alive():
                    return execution.result("dead")
        finally:
            finished.cancel()
            self._pending.pop(msg_id, None)

    async def _alive(self) -> bool:
        try:
            kernel = self.kernel_manager.get_kernel(self.kernel_id)
        except KeyError:
            return False
        return bool(await ensure_async(kernel.is_alive()))

    def close(self) -> None:
        for reader in self._readers:
            reader.cancel()
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.stop_channels()
        self._client = None


async def _both(execution: _Execution) -> None:
    await execution.idle.wait()
    await execution.replied.wait()


class NotebookKernels:
    """Kernel sessions of notebooks, looked up and started through Jupyter's managers."""

    def __init__(self, session_manager: Any, kernel_manager: Any):
        self.session_manager = session_manager
        self.kernel_manager = kernel_manager
        self._links: dict[str, KernelLink] = {}
        self._starting: dict[str, asyncio.Lock] = {}

    async def session(self, path: str) -> dict[str, Any] | None:
        try:
            session: dict[str, Any] = await self.session_manager.get_session(path=path)
        except web.HTTPError:
            return None
        return session

    async def running(self, path: str) -> str | None:
        """The id of the notebook's kernel, if its session has one."""
        session = await self.session(path)
        return str(session["kernel"]["id"]) if session and session.get("kernel") else None

    async def ensure(self, path: str, kernel_name: str | None) -> str:
        """The notebook's kernel, in a new session when it has none (started once, under a lock)."""
        async with self._starting.setdefault(path, asyncio.Lock()):
            kernel_id = await self.running(path)
            if kernel_id is not None:
                return kernel_id
            if kernel_name and kernel_name not in (await self._kernel_names()):
                kernel_name = None  # the notebook's kernelspec is not installed here: use the default
            created = await self.session_manager.create_session(
                path=path, name=posixpath.basename(path), type="notebook", kernel_name=kernel_name
            )
            return str(created["kernel"]["id"])

    async def _kernel_names(self) -> set[str]:
        specs = await ensure_async(self.kernel_manager.kernel_spec_manager.get_all_specs())
        return set(specs)

    def link(self, kernel_id: str) -> KernelLink:
        link = self._links.get(kernel_id)
        if link is None:
            link = self._links[kernel_id] = KernelLink(self.kernel_manager, kernel_id)
        return link

    async def interrupt(self, kernel_id: str) -> None:
        await ensure_async(self.kernel_manager.interrupt_kernel(kernel_id))

    async def restart(self, kernel_id: str) -> None:
        await ensure_async(self.kernel_manager.restart_kernel(kernel_id))

    def close(self) -> None:
        for link in self._links.values():
            link.close()
        self._links.clear()
