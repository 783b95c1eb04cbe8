"""The content filter does work proportional to its input, measured by counting, never by timing.

A filter that re-reads the history for every message, or re-parses a
growing buffer for every chunk, turns one large OpenCode request into
seconds of a stalled event loop. Each test runs the same shape at size n and
4n: linear work grows about fourfold, quadratic work sixteenfold.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from coda_jupyter.gateway import filter as content_filter
from coda_jupyter.gateway.filter import SSEResponseFixer, sanitize_request

GROWTH = 4
# Linear work at 4n is about 4x the work at n; leave room for constant overheads.
LINEAR_BOUND = 6


class _CountingDict(dict):  # type: ignore[type-arg]
    """A JSON object that counts every ``get`` the filter makes on it."""

    reads = 0

    def get(self, key: Any, default: Any = None) -> Any:
        _CountingDict.reads += 1
        return super().get(key, default)


def _reads(build: Any, n: int) -> int:
    _CountingDict.reads = 0
    sanitize_request({"model": "m", "messages": build(n)})
    return _CountingDict.reads


def _user_turns(n: int) -> list[Any]:
    """A long run of user messages with no assistant turn in between (pasted logs, retries)."""
    return [_CountingDict(role="user", content=[_CountingDict(type="text", text=f"part {i}")]) for i in range(n)]


def _fan_out(n: int) -> list[Any]:
    """One assistant turn calling n tools, then n tool results: an agent's parallel reads."""
    calls = [
        _CountingDict(id=f"call_{i}", type="function", function={"name": "read", "arguments": "{}"}) for i in range(n)
    ]
    results = [_CountingDict(role="tool", tool_call_id=f"call_{i}", content="ok") for i in range(n)]
    return [
        _CountingDict(role="user", content="go"),
        _CountingDict(role="assistant", content=None, tool_calls=calls),
        *results,
    ]


@pytest.mark.parametrize("build", [_user_turns, _fan_out], ids=["user-run", "tool-fan-out"])
def test_request_repair_reads_each_message_a_bounded_number_of_times(build: Any) -> None:
    small = _reads(build, 200)
    large = _reads(build, 200 * GROWTH)

    assert large <= LINEAR_BOUND * small, f"{small} reads at n, {large} at {GROWTH}n"


def test_large_fan_out_is_repaired_correctly() -> None:
    n = 20_000
    messages = _fan_out(n) + [{"role": "tool", "tool_call_id": "call_gone", "content": "stale"}]

    cleaned = sanitize_request({"messages": messages})["messages"]

    assert len(cleaned) == n + 2
    assert [m["tool_call_id"] for m in cleaned[2:]] == [f"call_{i}" for i in range(n)]


def _wrapped_call_stream(n: int) -> list[bytes]:
    """A ``databricks-tool-call`` whose arguments (a file to write) stream in n small deltas."""
    arguments = json.dumps({"name": "write", "path": "a.py", "content": "x = 1\n" * n})
    pieces = [arguments[i : i + 6] for i in range(0, len(arguments), 6)]
    first = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "databricks-tool-call", "arguments": ""},
    }
    events = [{"choices": [{"index": 0, "delta": {"tool_calls": [first]}, "finish_reason": None}]}]
    for piece in pieces:
        delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        events.append({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return [b"data: " + json.dumps(event).encode() + b"\n\n" for event in events] + [b"data: [DONE]\n\n"]


def _characters_parsed(monkeypatch: pytest.MonkeyPatch, n: int) -> tuple[int, bytes]:
    parsed = 0

    def counting_loads(text: str | bytes, **kwargs: Any) -> Any:
        nonlocal parsed
        parsed += len(text)
        return json.loads(text, **kwargs)

    monkeypatch.setattr(content_filter, "json", SimpleNamespace(loads=counting_loads, dumps=json.dumps))
    fixer = SSEResponseFixer()
    out = b"".join(fixer.feed(event) for event in _wrapped_call_stream(n)) + fixer.close()
    return parsed, out


def test_streamed_tool_arguments_are_parsed_a_bounded_number_of_times(monkeypatch: pytest.MonkeyPatch) -> None:
    small, _ = _characters_parsed(monkeypatch, 300)
    large, out = _characters_parsed(monkeypatch, 300 * GROWTH)

    assert large <= LINEAR_BOUND * small, f"{small} characters parsed at n, {large} at {GROWTH}n"
    events = [json.loads(block[6:]) for block in out.split(b"\n\n") if block.startswith(b"data: {")]
    calls = [call for event in events for call in event["choices"][0]["delta"].get("tool_calls", [])]
    assert [call["function"]["name"] for call in calls if "name" in call["function"]] == ["write"]
    arguments = json.loads("".join(call["function"].get("arguments", "") for call in calls))
    assert arguments == {"path": "a.py", "content": "x = 1\n" * 300 * GROWTH}


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_one_huge_event_in_small_chunks_passes_unchanged(newline: bytes) -> None:
    event = b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": "y" * (4 << 20)}}]}).encode()
    stream = event + newline * 2 + b"data: [DONE]" + newline * 2
    fixer = SSEResponseFixer()

    out = b"".join(fixer.feed(stream[i : i + 1024]) for i in range(0, len(stream), 1024)) + fixer.close()

    assert out == stream
