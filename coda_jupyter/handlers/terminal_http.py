"""Jupyter terminals over HTTP, for browsers whose websockets are refused (see ``terminals/http_transport.py``).

``POST   coda/api/terminals/<name>/sessions``                     → 201 ``{session}``
``GET    coda/api/terminals/<name>/sessions/<id>/output?since&wait`` → ``{messages, next}`` (long poll)
``POST   coda/api/terminals/<name>/sessions/<id>/input``          ``{seq, messages}`` → 204
``DELETE coda/api/terminals/<name>/sessions/<id>``                → 204
"""

from __future__ import annotations

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from tornado import web

from ..terminals.http_transport import (
    MAX_INPUT_MESSAGES,
    MAX_WAIT_S,
    HttpSessions,
    HttpTerminalClient,
    TransportError,
    http_sessions,
)
from .base import CodaAPIHandler

# Any one path segment: an unknown or malformed name or id gets the same JSON
# 404, instead of Jupyter's HTML page for an unmatched URL.
_SEGMENT = r"([^/]+)"


class _TerminalHttpHandler(CodaAPIHandler):
    auth_resource = "coda:terminals"

    async def sessions(self) -> HttpSessions:
        """The sessions registry, once the user may also use Jupyter's own terminal websocket.

        This is that websocket by other means, so whoever may not ``execute``
        on ``terminals`` (as jupyter_server_terminals checks) is refused here too.
        """
        authorizer = self.authorizer
        if authorizer is not None and not await ensure_async(
            authorizer.is_authorized(self, self.current_user, "execute", "terminals")
        ):
            raise web.HTTPError(403, "not allowed to use terminals")
        return http_sessions(self.settings, self.services.terminals.terminal_manager())

    async def session(self, name: str, session_id: str) -> HttpTerminalClient:
        sessions = await self.sessions()
        try:
            return sessions.get(name, session_id)
        except TransportError as err:
            raise web.HTTPError(err.status, str(err)) from None


class TerminalSessionsHandler(_TerminalHttpHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        self.json_body()  # no fields yet; still refuse what is not a JSON object
        sessions = await self.sessions()
        try:
            client = sessions.open(name)
        except TransportError as err:
            raise web.HTTPError(err.status, str(err)) from None
        self.write_json({"session": client.session_id}, status=201)


class TerminalSessionHandler(_TerminalHttpHandler):
    @web.authenticated
    @authorized
    async def delete(self, name: str, session_id: str) -> None:
        (await self.session(name, session_id)).end()
        self.set_status(204)
        self.finish()


class TerminalOutputHandler(_TerminalHttpHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str, session_id: str) -> None:
        since = _integer_argument(self, "since", minimum=0)
        wait = _number_argument(self, "wait", default=0.0, maximum=MAX_WAIT_S)
        client = await self.session(name, session_id)
        try:
            messages, next_seq = await client.poll(since, wait)
        except TransportError as err:
            raise web.HTTPError(err.status, str(err)) from None
        self.write_json({"messages": messages, "next": next_seq})


class TerminalInputHandler(_TerminalHttpHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str, session_id: str) -> None:
        body = self.json_body()
        seq, messages = body.get("seq"), body.get("messages")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise web.HTTPError(400, "seq must be the batch's number, an integer from 0")
        if not isinstance(messages, list) or len(messages) > MAX_INPUT_MESSAGES:
            raise web.HTTPError(400, f"messages must be a list of at most {MAX_INPUT_MESSAGES} messages")
        client = await self.session(name, session_id)
        try:
            await client.receive(seq, messages)
        except TransportError as err:
            raise web.HTTPError(err.status, str(err)) from None
        self.set_status(204)
        self.finish()


def _integer_argument(handler: web.RequestHandler, name: str, minimum: int) -> int:
    raw = handler.get_argument(name, None)
    try:
        value = int(raw) if raw is not None else None
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise web.HTTPError(400, f"{name} must be an integer from {minimum}")
    return value


def _number_argument(handler: web.RequestHandler, name: str, default: float, maximum: float) -> float:
    raw = handler.get_argument(name, None)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= maximum:  # also refuses nan
        raise web.HTTPError(400, f"{name} must be a number of seconds from 0 to {maximum:g}")
    return value


ROUTES: list[tuple[str, type]] = [
    (rf"/coda/api/terminals/{_SEGMENT}/sessions", TerminalSessionsHandler),
    (rf"/coda/api/terminals/{_SEGMENT}/sessions/{_SEGMENT}", TerminalSessionHandler),
    (rf"/coda/api/terminals/{_SEGMENT}/sessions/{_SEGMENT}/output", TerminalOutputHandler),
    (rf"/coda/api/terminals/{_SEGMENT}/sessions/{_SEGMENT}/input", TerminalInputHandler),
]
