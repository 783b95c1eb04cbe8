"""REST API of the Agent tasks panel.

``GET  coda/api/tasks``                     list (``?status=&limit=``), newest first, with counts
``GET  coda/api/tasks/<id>``                detail: meta, result, latest progress, transcript tail
``GET  coda/api/tasks/<id>/transcript``     the whole (capped) transcript, ANSI stripped, as text
``POST coda/api/tasks/<id>/cancel``         stop a running task
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..tasks import STATUSES, TaskNotFound
from ..tasks.store import strip_ansi
from .base import CodaAPIHandler
from .mcp import lab_terminal_url

# Any one path segment: the store checks the id's form, so a malformed id gets
# the same JSON 404 as an unknown one instead of Jupyter's HTML page.
_ID = r"([^/]+)"


class _TaskBase(CodaAPIHandler):
    auth_resource = "coda:tasks"

    def with_link(self, entry: dict[str, Any]) -> dict[str, Any]:
        return {**entry, "lab_url": lab_terminal_url(self, entry["terminal"])} if entry.get("terminal") else entry


class TasksHandler(_TaskBase):
    @web.authenticated
    @authorized
    def get(self) -> None:
        status = self.get_argument("status", None)
        if status is not None and status not in STATUSES:
            raise web.HTTPError(400, f"status must be one of {list(STATUSES)}")
        try:
            limit = int(self.get_argument("limit", "50"))
        except ValueError:
            raise web.HTTPError(400, "limit must be an integer") from None
        if not 1 <= limit <= 500:
            raise web.HTTPError(400, "limit must be between 1 and 500")
        listing = self.services.tasks.list(status=status, limit=limit)
        listing["tasks"] = [self.with_link(task) for task in listing["tasks"]]
        self.write_json(listing)


class TaskHandler(_TaskBase):
    @web.authenticated
    @authorized
    def get(self, task_id: str) -> None:
        try:
            detail = self.services.tasks.get(task_id)
        except TaskNotFound as err:
            raise web.HTTPError(404, str(err)) from None
        self.write_json(self.with_link(detail))


class TaskTranscriptHandler(_TaskBase):
    @web.authenticated
    @authorized
    def get(self, task_id: str) -> None:
        runner = self.services.tasks
        if not runner.store.exists(task_id):
            raise web.HTTPError(404, f"unknown task id {task_id!r}")
        try:
            raw = runner.store.paths(task_id).transcript.read_bytes()
        except FileNotFoundError:
            raw = b""
        # Jupyter's API handlers label every reply JSON unless told otherwise.
        self.finish(strip_ansi(raw.decode("utf-8", "replace")), set_content_type="text/plain; charset=utf-8")


class TaskCancelHandler(_TaskBase):
    @web.authenticated
    @authorized
    def post(self, task_id: str) -> None:
        try:
            meta = self.services.tasks.cancel(task_id)
        except TaskNotFound as err:
            raise web.HTTPError(404, str(err)) from None
        self.write_json({"task_id": meta["task_id"], "status": meta["status"]})


ROUTES: list[tuple[str, type]] = [
    (r"/coda/api/tasks", TasksHandler),
    (rf"/coda/api/tasks/{_ID}", TaskHandler),
    (rf"/coda/api/tasks/{_ID}/transcript", TaskTranscriptHandler),
    (rf"/coda/api/tasks/{_ID}/cancel", TaskCancelHandler),
]
