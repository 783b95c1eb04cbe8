"""One start and one stop for the server's services: started in order, stopped in reverse."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Step = Callable[[], Any]


@dataclass(frozen=True)
class _Service:
    name: str
    start: Step | None
    stop: Step | None


class Lifecycle:
    """Services are added in dependency order: each may use those added before it.

    Each starts on its own: one that fails is logged and the others still come
    up (a broken task folder must not cost the gateway). Stopping goes in
    reverse, so nothing is stopped while a service that uses it still runs.
    """

    def __init__(self, log: logging.Logger | logging.LoggerAdapter[Any]):
        self._log = log
        self._services: list[_Service] = []

    def add(self, name: str, start: Step | None = None, stop: Step | None = None) -> None:
        self._services.append(_Service(name, start, stop))

    def names(self) -> list[str]:
        return [service.name for service in self._services]

    async def start(self) -> None:
        for service in self._services:
            await self._call(service.start, "start", service.name)

    async def stop(self) -> None:
        for service in reversed(self._services):
            await self._call(service.stop, "stop", service.name)

    async def _call(self, step: Step | None, verb: str, name: str) -> None:
        if step is None:
            return
        try:
            result = step()
            if inspect.isawaitable(result):
                await result
        except Exception:
            self._log.exception("coda-jupyter: the %s failed to %s; the other services carry on", name, verb)
