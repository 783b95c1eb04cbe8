"""Terminal flow control over the real websocket: a browser that acknowledges
what it has parsed holds the PTY reading; stock clients see no change.

A raw websocket client stands in for the browser, speaking the protocol
documented in coda_jupyter/terminals/flow.py. Nothing here asserts timing:
quiet periods only decide when to stop reading.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from tornado.websocket import WebSocketClientConnection

from coda_jupyter.terminals.flow import TRY_AGAIN_LATER, Window, utf16_length, watermarks
from tests.terminals import OVERSHOOT

HIGH = 20_000
LOW = 5_000
# The stall timeout is long here, so a client that does not acknowledge is
# waited for while a test watches; one test shortens it on the live server.
STALL_TIMEOUT = 60.0
# A small cap, so the memory valve acts within a test.
MAX_UNFLUSHED = 2 * 1024 * 1024
MIB = 1024 * 1024


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **jp_server_config,
        "CodaTerminalManager": {"flow_stall_timeout": STALL_TIMEOUT, "flow_max_unflushed": MAX_UNFLUSHED},
    }


class Client:
    """One websocket client of a terminal, counting the output it has been sent."""

    def __init__(self, ws: WebSocketClientConnection) -> None:
        self.ws = ws
        self.text = ""
        self.counted = 0  # stdout characters since flow control was confirmed
        self.acked = 0
        self.confirmed: dict[str, Any] | None = None

    async def send(self, *message: Any) -> None:
        await self.ws.write_message(json.dumps(list(message)))

    async def ack(self) -> None:
        """Acknowledge everything counted so far."""
        if self.counted > self.acked:
            await self.send("coda-ack", self.counted - self.acked)
            self.acked = self.counted

    async def negotiate(self) -> dict[str, Any]:
        await self.send("coda-flow", {"version": 1, "high": HIGH, "low": LOW})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while self.confirmed is None:
            assert loop.time() < deadline, "the server never confirmed flow control"
            await self.read(deadline - loop.time())
        return self.confirmed

    async def read(self, timeout: float) -> bool:
        """Read one message; ``False`` when none came within ``timeout``."""
        try:
            message = await asyncio.wait_for(self.ws.read_message(), timeout)
        except asyncio.TimeoutError:
            return False
        if message is None:
            raise ConnectionError(f"closed ({self.ws.close_code})")
        kind, *payload = json.loads(message)
        if kind == "coda-flow":
            self.confirmed = payload[0]
        elif kind == "stdout":
            self.text += payload[0]
            if self.confirmed is not None:
                self.counted += utf16_length(payload[0])
        return True

    async def read_until_quiet(self, quiet: float = 2.0, limit: int = 50 * MIB) -> int:
        """Read until nothing arrives for ``quiet`` seconds (or ``limit`` characters); the count read."""
        start = self.counted
        while self.counted - start < limit and await self.read(quiet):
            pass
        return self.counted - start

    async def read_acking(self, amount: int, timeout: float = 60) -> None:
        """Read and acknowledge, as a browser does, until ``amount`` more characters came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        start = self.counted
        while self.counted - start < amount:
            assert loop.time() < deadline, f"only {self.counted - start} of {amount} characters came"
            await self.read(0.5)
            await self.ack()
            self.text = self.text[-4096:]

    async def read_until(self, text: str, ack: bool = False, timeout: float = 30) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while text not in self.text[-4096:]:
            assert loop.time() < deadline, f"{text!r} never appeared; last output: {self.text[-300:]!r}"
            await self.read(0.5)
            if ack:
                await self.ack()


async def _terminal(jp_fetch: Any) -> str:
    response = await jp_fetch("api", "terminals", method="POST", body="{}")
    name: str = json.loads(response.body)["name"]
    return name


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


async def test_a_client_that_does_not_acknowledge_stops_the_reading_until_it_does(
    jp_fetch: Any, jp_ws_fetch: Any
) -> None:
    client = Client(await jp_ws_fetch("terminals", "websocket", await _terminal(jp_fetch)))
    assert await client.negotiate() == {"version": 1, "high": HIGH, "low": LOW}
    await client.send("stdin", "yes\r")
    # Never acknowledging: the flood stops at the high watermark.
    first = await client.read_until_quiet()
    assert 0 < first <= HIGH + OVERSHOOT
    # Acknowledging what was read lets exactly one more window through.
    await client.ack()
    second = await client.read_until_quiet()
    assert HIGH - LOW <= second <= HIGH + OVERSHOOT
    # Ctrl+C reaches the program although the reading is paused, and with
    # acknowledgements the shell's answer to the next command comes through.
    await client.send("stdin", "\x03")
    await client.send("stdin", "echo done-$((40+2))\r")
    await client.read_until("done-42", ack=True)
    client.ws.close()


async def test_output_waiting_in_the_pty_reaches_the_client_as_one_message(
    jp_fetch: Any, jp_ws_fetch: Any, jp_serverapp: Any
) -> None:
    name = await _terminal(jp_fetch)
    client = Client(await jp_ws_fetch("terminals", "websocket", name))
    await client.negotiate()
    await client.send("stdin", "yes\r")
    # Held at the high mark, the flood fills the PTY's buffers meanwhile.
    await client.read_until_quiet()
    await client.ack()
    sizes = []
    while sum(sizes) < HIGH - LOW:
        before = client.counted
        assert await client.read(10), "no output after the acknowledgement"
        sizes.append(client.counted - before)
    await client.send("stdin", "\x03")
    client.ws.close()
    # A PTY read returns about 4 KiB; what waited came in a few large messages.
    terminal = jp_serverapp.web_app.settings["terminal_manager"].terminals[name]
    one_read = max(len(entry) for entry in terminal.read_buffer)
    assert sizes[0] > 2 * one_read, (sizes, one_read)
    # The replay keeps one entry per read, so a reconnect replays no more than before.
    assert one_read < sizes[0]


async def test_a_flood_reaches_clients_in_messages_larger_than_the_kernel_holds(
    jp_fetch: Any, jp_ws_fetch: Any
) -> None:
    # The kernel holds at most 64 KiB of a PTY's output; a browser draws a frame
    # after about each message, so a flood sent as the kernel hands it over is
    # drawn in frames of under 64 KiB.
    name = await _terminal(jp_fetch)
    ws = await jp_ws_fetch("terminals", "websocket", name)
    await ws.write_message(json.dumps(["stdin", "yes | head -c 4000000; echo FLOOD-$((40+2))\r"]))
    sizes = []
    tail = ""
    while "FLOOD-42" not in tail:
        message = await asyncio.wait_for(ws.read_message(), 30)
        assert message is not None, "the terminal closed"
        kind, *payload = json.loads(message)
        if kind == "stdout":
            sizes.append(len(payload[0]))
            tail = (tail + payload[0])[-100:]
    ws.close()
    assert max(sizes) > 100_000, sorted(sizes)[-5:]


async def test_a_paused_flood_does_not_grow_the_server(jp_fetch: Any, jp_ws_fetch: Any) -> None:
    client = Client(await jp_ws_fetch("terminals", "websocket", await _terminal(jp_fetch)))
    await client.negotiate()
    await client.send("stdin", "yes\r")
    before = _rss()
    await asyncio.sleep(4)  # reading nothing at all meanwhile
    grown = _rss() - before
    # The connection is still open and holds at most one window.
    assert await client.read_until_quiet() <= HIGH + OVERSHOOT
    assert grown < 32 * MIB, f"the server grew by {grown / MIB:.0f} MiB"
    client.ws.close()


async def test_a_stock_client_is_never_held_back(jp_fetch: Any, jp_ws_fetch: Any) -> None:
    name = await _terminal(jp_fetch)
    stock = Client(await jp_ws_fetch("terminals", "websocket", name))
    stock.confirmed = {}  # count everything: it never negotiates, so nothing is confirmed
    await stock.send("stdin", "echo stock-$((6*7))\r")
    await stock.read_until("stock-42")
    await stock.send("stdin", "yes\r")
    assert await stock.read_until_quiet(limit=10 * HIGH) >= 10 * HIGH
    await stock.send("stdin", "\x03")
    stock.ws.close()


async def test_a_client_that_stops_acknowledging_does_not_hold_the_others(
    jp_fetch: Any, jp_ws_fetch: Any, jp_serverapp: Any
) -> None:
    jp_serverapp.web_app.settings["terminal_manager"].flow_stall_timeout = 1.0
    name = await _terminal(jp_fetch)
    stuck = Client(await jp_ws_fetch("terminals", "websocket", name))
    await stuck.negotiate()
    live = Client(await jp_ws_fetch("terminals", "websocket", name))
    await live.negotiate()
    await live.send("stdin", "yes\r")

    async def drain_stuck() -> None:
        # It reads (so only acknowledgements are missing), and never acknowledges.
        while True:
            await stuck.read(1)

    reader = asyncio.ensure_future(drain_stuck())
    try:
        await live.read_acking(20 * HIGH)
    finally:
        reader.cancel()
    assert stuck.counted > HIGH  # it was sent output past its window once it stalled
    await live.send("stdin", "\x03")
    live.ws.close()
    stuck.ws.close()


async def test_a_client_that_reads_nothing_is_disconnected_before_the_server_grows(
    jp_fetch: Any, jp_ws_fetch: Any
) -> None:
    client = Client(await jp_ws_fetch("terminals", "websocket", await _terminal(jp_fetch)))
    await client.send("stdin", "yes\r")  # a stock client: no flow control
    before = _rss()
    await asyncio.sleep(4)
    grown = _rss() - before
    with pytest.raises(ConnectionError, match=str(TRY_AGAIN_LATER)):
        await client.read_until_quiet(limit=1000 * MIB)
    assert grown < 64 * MIB, f"the server grew by {grown / MIB:.0f} MiB"


def test_the_window_holds_from_the_high_mark_down_to_the_low_mark() -> None:
    window = Window(high=100, low=30)
    window.sent(99, now=0)
    assert not window.holding
    window.sent(1, now=1)
    assert window.holding
    window.acked(60, now=2)
    assert window.holding  # 40 left, above the low mark
    window.acked(10, now=3)
    assert not window.holding
    window.sent(200, now=4)
    window.stall()
    assert not window.holding
    window.sent(500, now=5)
    assert not window.holding  # a stalled client never holds again...
    window.acked(1, now=6)
    assert window.holding  # ...until it acknowledges something


@pytest.mark.parametrize(
    ("offer", "expected"),
    [
        ({"version": 1}, (100_000, 30_000)),
        ({"version": 2, "high": 50_000, "low": 10_000}, (50_000, 10_000)),
        ({"version": 1, "high": 10, "low": 5}, (8_192, 5)),
        ({"version": 1, "high": 10**9, "low": 10**9}, (4_000_000, 2_000_000)),
        ({"version": 0}, None),
        ({"version": True}, None),
        ({"version": 1, "high": "big"}, None),
        (["version", 1], None),
    ],
)
def test_offers_are_clamped_or_refused(offer: Any, expected: tuple[int, int] | None) -> None:
    assert watermarks(offer) == expected


def test_lengths_are_counted_as_javascript_counts_them() -> None:
    assert utf16_length("abc") == 3
    assert utf16_length("é") == 1
    assert utf16_length("😀") == 2
