"""The fake model upstream on an event loop of its own thread.

Playwright's sync API owns the test's thread, so an asyncio server cannot run
on it; browser tests start the fake here and talk to it from their thread.
"""

from __future__ import annotations

import asyncio
import threading

from tests.fakes.model_upstream import FakeModelUpstream


class ThreadedUpstream:
    """``with ThreadedUpstream(text) as fake:`` serves ``text`` as every answer."""

    def __init__(self, reply_text: str) -> None:
        self.fake = FakeModelUpstream(reply_text=reply_text)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-model", daemon=True)

    def __enter__(self) -> FakeModelUpstream:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self._loop).result(10)
        return self.fake

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
