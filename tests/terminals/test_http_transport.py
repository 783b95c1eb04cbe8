"""Terminals over the HTTP transport, against a live server and real shells.

A small client speaks the protocol of coda_jupyter/terminals/http_transport.py
as the lab extension does: one session, long polls that name the next message
wanted, numbered input batches. Nothing here asserts timing: quiet periods
only decide when to stop reading.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from coda_jupyter.terminals import http_transport
from coda_jupyter.terminals.flow import utf16_length
from tests.terminals import OVERSHOOT

HIGH = 20_000
LOW = 5_000
MAX_UNFLUSHED = 2 * 1024 * 1024


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **jp_server_config,
        "CodaTerminalManager": {"flow_stall_timeout": 60.0, "flow_max_unflushed": MAX_UNFLUSHED},
    }


class HttpClient:
    """One HTTP session on a terminal, reading and typing as the browser does."""

    def __init__(self, fetch: Any, name: str, session: str) -> None:
        self.fetch = fetch
        self.name = name
        self.session = session
        self.since = 0
        self.seq = 0
        self.text = ""
        self.kinds: list[str] = []
        self.counted = 0
        self.acked = 0
        self.confirmed: dict[str, Any] | None = None

    @classmethod
    async def open(cls, fetch: Any, name: str) -> HttpClient:
        reply = await fetch("coda", "api", "terminals", name, "sessions", method="POST", body="{}")
        assert reply.code == 201
        return cls(fetch, name, json.loads(reply.body)["session"])

    def path(self, *rest: str) -> tuple[str, ...]:
        return ("coda", "api", "terminals", self.name, "sessions", self.session, *rest)

    async def send(self, *messages: list[Any], seq: int | None = None) -> Any:
        body = {"seq": self.seq if seq is None else seq, "messages": list(messages)}
        reply = await self.fetch(*self.path("input"), method="POST", body=json.dumps(body), raise_error=False)
        if reply.code == 204 and seq is None:
            self.seq += 1
        return reply

    async def type(self, text: str) -> None:
        assert (await self.send(["stdin", text])).code == 204

    async def poll(self, wait: float = 1.0) -> list[list[Any]]:
        reply = await self.fetch(
            *self.path("output"), params={"since": str(self.since), "wait": str(wait)}, raise_error=False
        )
        if reply.code != 200:
            raise ConnectionError(f"poll answered {reply.code}: {reply.body!r}")
        body = json.loads(reply.body)
        self.since = body["next"]
        for kind, *payload in body["messages"]:
            self.kinds.append(kind)
            if kind == "coda-flow":
                self.confirmed = payload[0]
            elif kind == "stdout":
                self.text += payload[0]
                if self.confirmed is not None:
                    self.counted += utf16_length(payload[0])
        return list(body["messages"])

    async def negotiate(self) -> dict[str, Any]:
        await self.send(["coda-flow", {"version": 1, "high": HIGH, "low": LOW}])
        for _ in range(40):
            await self.poll(0.5)
            if self.confirmed is not None:
                return self.confirmed
        raise AssertionError("the server never confirmed flow control")

    async def ack(self) -> None:
        if self.counted > self.acked:
            assert (await self.send(["coda-ack", self.counted - self.acked])).code == 204
            self.acked = self.counted

    async def read_until(self, text: str, ack: bool = False, timeout: float = 30) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while text not in self.text[-4096:]:
            assert loop.time() < deadline, f"{text!r} never appeared; last output: {self.text[-300:]!r}"
            await self.poll(0.5)
            if ack:
                await self.ack()

    async def read_until_quiet(self, quiet: float = 2.0) -> int:
        """Poll until a poll of ``quiet`` seconds brings no output; the characters counted meanwhile."""
        start = self.counted
        while any(kind == "stdout" for kind, *_ in await self.poll(quiet)):
            self.text = self.text[-4096:]
        return self.counted - start

    async def close(self) -> None:
        await self.fetch(*self.path(), method="DELETE", raise_error=False)


async def _terminal(jp_fetch: Any) -> str:
    response = await jp_fetch("api", "terminals", method="POST", body="{}")
    name: str = json.loads(response.body)["name"]
    return name


async def test_a_session_starts_like_a_websocket_and_runs_commands(jp_fetch: Any) -> None:
    name = await _terminal(jp_fetch)
    first = await HttpClient.open(jp_fetch, name)
    await first.poll()
    assert first.kinds[0] == "setup"
    await first.type("echo hello-$((6*7))\r")
    await first.read_until("hello-42")
    await first.read_until_quiet(1.0)  # the prompt after it, too
    # A second session (a reload) gets setup, then the replay of what was shown.
    second = await HttpClient.open(jp_fetch, name)
    messages = await second.poll()
    assert messages[0] == ["setup", {}]
    assert messages[1][0] == "stdout" and "hello-42" in messages[1][1]
    # Asking again for the same messages (a reply lost on the way) gets them again.
    second.since = 0
    assert (await second.poll()) == messages
    await first.close()
    await second.close()


async def test_a_retried_input_batch_types_once(jp_fetch: Any) -> None:
    client = await HttpClient.open(jp_fetch, await _terminal(jp_fetch))
    command = ["stdin", "echo once-$((40+2))\r"]
    assert (await client.send(command, seq=0)).code == 204
    assert (await client.send(command, seq=0)).code == 204  # the retry of a reply that got lost
    gap = await client.send(["stdin", "x"], seq=5)
    assert gap.code == 409 and "came before" in json.loads(gap.body)["message"]
    client.seq = 1
    await client.type("echo after-$((1+1))\r")
    await client.read_until("after-2")
    assert client.text.count("once-42") == 1, client.text
    await client.close()


async def test_resizing_reaches_the_program(jp_fetch: Any) -> None:
    client = await HttpClient.open(jp_fetch, await _terminal(jp_fetch))
    assert (await client.send(["set_size", 33, 101, 600, 900])).code == 204
    await client.type("stty size\r")
    await client.read_until("33 101")
    await client.close()


async def test_flow_control_holds_the_terminal_until_the_browser_acknowledges(jp_fetch: Any, jp_serverapp: Any) -> None:
    name = await _terminal(jp_fetch)
    client = await HttpClient.open(jp_fetch, name)
    assert await client.negotiate() == {"version": 1, "high": HIGH, "low": LOW}
    await client.type("yes\r")
    first = await client.read_until_quiet()
    assert 0 < first <= HIGH + OVERSHOOT
    manager = jp_serverapp.web_app.settings["terminal_manager"]
    assert manager.read_gate.is_paused(manager.terminals[name])
    # Acknowledging lets about one more window through.
    await client.ack()
    second = await client.read_until_quiet()
    assert HIGH - LOW <= second <= HIGH + OVERSHOOT
    # Ctrl+C gets through while the reading is paused; the shell answers.
    await client.type("\x03")
    await client.type("echo done-$((40+2))\r")
    await client.read_until("done-42", ack=True)
    await client.close()


async def test_closing_a_holding_session_lets_the_terminal_run(jp_fetch: Any, jp_serverapp: Any) -> None:
    name = await _terminal(jp_fetch)
    client = await HttpClient.open(jp_fetch, name)
    await client.negotiate()
    await client.type("yes\r")
    await client.read_until_quiet()
    manager = jp_serverapp.web_app.settings["terminal_manager"]
    terminal = manager.terminals[name]
    assert manager.read_gate.is_paused(terminal)
    await client.type("\x03")  # reaches the program; its output still waits for the reading
    assert manager.read_gate.is_paused(terminal)
    await client.close()
    assert not manager.read_gate.is_paused(terminal)
    assert not any(isinstance(c, http_transport.HttpTerminalClient) for c in terminal.clients)
    with pytest.raises(ConnectionError, match="404"):
        await client.poll()
    other = await HttpClient.open(jp_fetch, name)
    await other.type("echo free-$((2*3))\r")
    await other.read_until("free-6")
    await other.close()


async def test_a_session_that_polls_nothing_is_closed_before_the_server_grows(jp_fetch: Any) -> None:
    client = await HttpClient.open(jp_fetch, await _terminal(jp_fetch))
    await client.type("yes\r")  # no flow control: nothing holds the program back
    await asyncio.sleep(4)
    with pytest.raises(ConnectionError, match="404"):
        for _ in range(100):
            await client.poll(0)
    await client.fetch("api", "terminals", client.name, method="DELETE")


async def test_a_session_nobody_polls_expires(jp_fetch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_transport, "IDLE_TIMEOUT_S", 0.5)
    client = await HttpClient.open(jp_fetch, await _terminal(jp_fetch))
    await client.poll(0)
    await asyncio.sleep(1.5)
    with pytest.raises(ConnectionError, match="404"):
        await client.poll(0)


async def test_the_end_of_the_terminal_ends_the_session(jp_fetch: Any) -> None:
    client = await HttpClient.open(jp_fetch, await _terminal(jp_fetch))
    await client.type("exit\r")
    for _ in range(60):
        if "disconnect" in client.kinds:
            break
        await client.poll(0.5)
    assert client.kinds[-1] == "disconnect"
    with pytest.raises(ConnectionError, match="404"):
        await client.poll(0)


async def test_unknown_terminals_and_sessions_are_404(jp_fetch: Any) -> None:
    reply = await jp_fetch(
        "coda", "api", "terminals", "nosuch", "sessions", method="POST", body="{}", raise_error=False
    )
    assert reply.code == 404 and "no terminal named" in json.loads(reply.body)["message"]
    name = await _terminal(jp_fetch)
    stranger = HttpClient(jp_fetch, name, "not-a-session")
    with pytest.raises(ConnectionError, match="404"):
        await stranger.poll(0)
    assert (await stranger.send(["stdin", "x"])).code == 404


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ([], "JSON object"),
        ({"messages": []}, "seq"),
        ({"seq": -1, "messages": []}, "seq"),
        ({"seq": True, "messages": []}, "seq"),
        ({"seq": 0, "messages": "stdin"}, "messages"),
        ({"seq": 0, "messages": [["stdin"]] * 1001}, "at most"),
        ({"seq": 0, "messages": [{"stdin": "x"}]}, "JSON array"),
        ({"seq": 0, "messages": [["stdin", 5]]}, "one string"),
        ({"seq": 0, "messages": [["set_size", 0, 80]]}, "rows and columns"),
        ({"seq": 0, "messages": [["set_size", 24, "80"]]}, "rows and columns"),
        ({"seq": 0, "messages": [["coda-ack", -3]]}, "count"),
        ({"seq": 0, "messages": [["coda-ack", 1.5]]}, "count"),
        ({"seq": 0, "messages": [["shell", "rm -rf /"]]}, "unknown message type"),
    ],
)
async def test_malformed_input_is_refused_with_a_reason(jp_fetch: Any, body: Any, complaint: str) -> None:
    client = await HttpClient.open(jp_fetch, await _terminal(jp_fetch))
    reply = await jp_fetch(*client.path("input"), method="POST", body=json.dumps(body), raise_error=False)
    assert reply.code == 400
    assert complaint in json.loads(reply.body)["message"]
    # A refused batch uses no number: the next one is still batch 0.
    assert (await client.send(["stdin", "echo fine-$((1+1))\r"], seq=0)).code == 204
    await client.close()


@pytest.mark.parametrize(
    "params",
    [{}, {"since": "-1"}, {"since": "x"}, {"since": "0", "wait": "26"}, {"since": "0", "wait": "nan"}, {"since": "99"}],
)
async def test_malformed_polls_are_refused(jp_fetch: Any, params: dict[str, str]) -> None:
    client = await HttpClient.open(jp_fetch, await _terminal(jp_fetch))
    reply = await jp_fetch(*client.path("output"), params=params, raise_error=False)
    assert reply.code == 400, reply.body
    assert json.loads(reply.body)["message"]
    await client.close()
