"""Every repair the content filter makes, on requests, JSON responses and SSE streams."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from coda_jupyter.gateway.filter import (
    SSEResponseFixer,
    fix_response,
    sanitize_messages,
    sanitize_request,
    sanitize_tool_schemas,
)

# ---------------------------------------------------------------- messages


def test_empty_and_blank_text_blocks_are_dropped() -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": ""},
                {"type": "text", "text": " \n\t"},
                {"type": "text", "text": "real question"},
                {"type": "image", "source": {"type": "base64", "data": "AAAA"}},
                "a non-dict item survives",
            ],
        }
    ]

    assert sanitize_messages(messages) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "real question"},
                {"type": "image", "source": {"type": "base64", "data": "AAAA"}},
                "a non-dict item survives",
            ],
        }
    ]


def test_user_message_left_empty_is_dropped_but_assistant_gets_a_placeholder() -> None:
    messages = [
        {"role": "user", "content": "start"},
        {"role": "assistant", "content": [{"type": "text", "text": ""}]},
        {"role": "user", "content": [{"type": "text", "text": "  "}]},
        {"role": "user", "content": "next"},
    ]

    assert sanitize_messages(messages) == [
        {"role": "user", "content": "start"},
        {"role": "assistant", "content": "."},
        {"role": "user", "content": "next"},
    ]


def test_emptied_assistant_with_tool_calls_keeps_an_empty_list() -> None:
    calls = [{"id": "call_1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]
    messages = [{"role": "assistant", "content": [{"type": "text", "text": ""}], "tool_calls": calls}]

    assert sanitize_messages(messages) == [{"role": "assistant", "content": [], "tool_calls": calls}]


def test_string_and_null_content_placeholders() -> None:
    calls = [{"id": "call_1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": ""},
        {"role": "assistant", "content": "   "},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": None},
        {"role": "user", "content": "and"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_1", "content": "a.py"},
    ]

    assert sanitize_messages(messages) == [
        {"role": "system", "content": "be brief"},
        {"role": "assistant", "content": "."},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "."},
        {"role": "user", "content": "and"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_1", "content": "a.py"},
    ]


def _anthropic_tool_use(tool_id: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": "read", "input": {"path": "a.py"}}


def _anthropic_result(tool_id: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}


def test_orphaned_anthropic_tool_results_are_dropped() -> None:
    messages = [
        {"role": "user", "content": "read two files"},
        {"role": "assistant", "content": [{"type": "text", "text": "sure"}, _anthropic_tool_use("toolu_a")]},
        {"role": "user", "content": [_anthropic_result("toolu_a"), _anthropic_result("toolu_gone")]},
    ]

    cleaned = sanitize_messages(messages)

    assert cleaned[2] == {"role": "user", "content": [_anthropic_result("toolu_a")]}


def test_tool_result_must_answer_the_most_recent_assistant() -> None:
    messages = [
        {"role": "assistant", "content": [_anthropic_tool_use("toolu_old")]},
        {"role": "user", "content": [_anthropic_result("toolu_old")]},
        {"role": "assistant", "content": [{"type": "text", "text": "done"}]},
        {"role": "user", "content": [_anthropic_result("toolu_old"), {"type": "text", "text": "thanks"}]},
    ]

    cleaned = sanitize_messages(messages)

    assert cleaned[1] == {"role": "user", "content": [_anthropic_result("toolu_old")]}
    assert cleaned[3] == {"role": "user", "content": [{"type": "text", "text": "thanks"}]}


def test_tool_result_before_any_assistant_is_orphaned() -> None:
    messages = [{"role": "user", "content": [_anthropic_result("toolu_x")]}, {"role": "user", "content": "hi"}]

    assert sanitize_messages(messages) == [{"role": "user", "content": "hi"}]


def test_orphaned_openai_tool_messages_are_dropped() -> None:
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "ls", "arguments": "{}"}},
        {"id": "call_2", "type": "function", "function": {"name": "pwd", "arguments": "{}"}},
    ]
    messages = [
        {"role": "user", "content": "look around"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_1", "content": "a.py"},
        {"role": "tool", "tool_call_id": "call_2", "content": "/home"},
        {"role": "tool", "tool_call_id": "call_3", "content": "stale"},
        {"role": "tool", "content": "no id at all"},
    ]

    cleaned = sanitize_messages(messages)

    assert [m.get("tool_call_id") for m in cleaned if m["role"] == "tool"] == ["call_1", "call_2"]


def test_cascade_orphan_and_empty_text_together_remove_the_whole_turn() -> None:
    """One turn needs two repairs before it is empty; then the turn itself goes."""
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "text", "text": ""}]},
        {"role": "user", "content": [{"type": "text", "text": ""}, _anthropic_result("toolu_gone")]},
        {"role": "tool", "tool_call_id": "call_gone", "content": "stale"},
        {"role": "user", "content": "continue"},
    ]

    cleaned = sanitize_messages(messages)

    assert cleaned == [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "."},
        {"role": "user", "content": "continue"},
    ]
    assert sanitize_messages(cleaned) == cleaned


MESSY_HISTORIES: list[list[Any]] = [
    [
        {"role": "assistant", "content": [_anthropic_tool_use("a"), {"type": "text", "text": ""}]},
        {"role": "user", "content": [_anthropic_result("a"), _anthropic_result("b"), {"type": "text", "text": ""}]},
        {"role": "assistant", "content": [{"type": "text", "text": " "}]},
        {"role": "user", "content": [_anthropic_result("a")]},
        {"role": "assistant", "content": None},
        "not a message",
        {"role": "tool", "tool_call_id": "a", "content": "x"},
    ],
    [
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1"}]},
        {"role": "tool", "tool_call_id": "c1", "content": "x"},
        {"role": "assistant", "content": [], "tool_calls": []},
        {"role": "tool", "tool_call_id": "c1", "content": "late"},
        {"role": "user", "content": []},
    ],
]


@pytest.mark.parametrize("history", MESSY_HISTORIES, ids=["anthropic-shape", "openai-shape"])
def test_sanitizing_reaches_a_fixed_point_and_does_not_mutate(history: list[Any]) -> None:
    original = copy.deepcopy(history)

    once = sanitize_messages(history)

    assert history == original
    assert sanitize_messages(once) == once
    for message in once:
        if not isinstance(message, dict):
            continue
        assert message.get("content") not in ("", [], None) or message.get("tool_calls")
        for block in message["content"] if isinstance(message.get("content"), list) else ():
            if block.get("type") == "text":
                assert block["text"].strip()


def test_non_dict_messages_pass_through() -> None:
    assert sanitize_messages(["raw", 3, None]) == ["raw", 3, None]


# ---------------------------------------------------------------- tool schemas


def test_rejected_schema_keys_are_stripped_recursively() -> None:
    body = {
        "$schema": "top",
        "stream_options": {"include_usage": True},
        "model": "m",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "edit",
                    "parameters": {
                        "$schema": "http://json-schema.org/draft-07/schema#",
                        "$id": "edit",
                        "$comment": "generated",
                        "$defs": {"Pos": {"type": "integer"}},
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "edits": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {"at": {"$ref": "#/$defs/Pos", "description": "where"}},
                                },
                            },
                            "mode": {"anyOf": [{"type": "string", "additionalProperties": True}, {"type": "null"}]},
                            # Property *names* are data, not keywords.
                            "additionalProperties": {"type": "boolean"},
                            "$id": {"type": "string"},
                        },
                        "required": ["edits"],
                    },
                },
            },
            {"type": "web_search"},
            "odd",
        ],
    }
    original = copy.deepcopy(body)

    cleaned = sanitize_tool_schemas(body)

    assert body == original
    assert "$schema" not in cleaned and "stream_options" not in cleaned
    assert cleaned["model"] == "m"
    assert cleaned["tools"][1:] == [{"type": "web_search"}, "odd"]
    assert cleaned["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {
            "edits": {
                "type": "array",
                "items": {"type": "object", "properties": {"at": {"description": "where"}}},
            },
            "mode": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "additionalProperties": {"type": "boolean"},
            "$id": {"type": "string"},
        },
        "required": ["edits"],
    }


def test_sanitize_request_combines_both_and_ignores_non_objects() -> None:
    body = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}, {"role": "user", "content": "x"}],
        "stream_options": {},
    }

    assert sanitize_request(body) == {"messages": [{"role": "user", "content": "x"}]}
    assert sanitize_request([1, 2]) == [1, 2]
    assert sanitize_request({"messages": "not a list"}) == {"messages": "not a list"}


# ---------------------------------------------------------------- JSON responses


def _completion(calls: list[dict[str, Any]] | None, finish: str = "stop") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None if calls else "hi"}
    if calls is not None:
        message["tool_calls"] = calls
    return {"id": "c", "choices": [{"index": 0, "message": message, "finish_reason": finish}]}


def _call(name: str, arguments: str) -> dict[str, Any]:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


def test_json_wrapped_tool_call_gets_its_real_name() -> None:
    body = _completion([_call("databricks-tool-call", '{"name": "grep", "pattern": "TODO", "path": "."}')])
    original = copy.deepcopy(body)

    fixed = fix_response(body)

    assert body == original
    function = fixed["choices"][0]["message"]["tool_calls"][0]["function"]
    assert function["name"] == "grep"
    assert json.loads(function["arguments"]) == {"pattern": "TODO", "path": "."}
    assert fixed["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("arguments", ["not json", '{"pattern": "no name"}', "[1, 2]"])
def test_json_wrapped_call_without_a_usable_name_is_left_alone(arguments: str) -> None:
    body = _completion([_call("databricks-tool-call", arguments)])

    fixed = fix_response(body)

    assert fixed["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "databricks-tool-call"


def test_json_finish_reason_rules() -> None:
    assert fix_response(_completion([_call("ls", "{}")]))["choices"][0]["finish_reason"] == "tool_calls"
    assert fix_response(_completion([_call("ls", "{}")], "length"))["choices"][0]["finish_reason"] == "length"
    assert fix_response(_completion(None))["choices"][0]["finish_reason"] == "stop"
    assert fix_response(_completion([]))["choices"][0]["finish_reason"] == "stop"
    assert fix_response({"error": "x"}) == {"error": "x"}
    assert fix_response("text") == "text"


# ---------------------------------------------------------------- SSE responses


def _event(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> bytes:
    chunk = {"id": "c", "model": "m", "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _tool_delta(index: int, name: str | None = None, arguments: str = "", call_id: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if name is not None:
        call["function"]["name"] = name
        call["id"] = call_id or f"call_{index}"
        call["type"] = "function"
    return {"tool_calls": [call]}


def _run(stream: bytes, piece: int | None = None) -> bytes:
    fixer = SSEResponseFixer()
    if piece is None:
        return fixer.feed(stream) + fixer.close()
    out = b"".join(fixer.feed(stream[i : i + piece]) for i in range(0, len(stream), piece))
    return out + fixer.close()


def _parse(raw: bytes) -> list[Any]:
    events = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        for line in block.split(b"\n"):
            if line.startswith(b"data:"):
                payload = line[5:].strip()
                events.append("[DONE]" if payload == b"[DONE]" else json.loads(payload))
    return events


def _calls(events: list[Any]) -> dict[int, dict[str, str]]:
    """Reassemble tool calls the way a client does: first name wins, arguments concatenate."""
    calls: dict[int, dict[str, str]] = {}
    for event in events:
        if event == "[DONE]":
            continue
        for call in event["choices"][0]["delta"].get("tool_calls", []):
            entry = calls.setdefault(call["index"], {"name": "", "arguments": ""})
            function = call.get("function", {})
            if function.get("name"):
                entry["name"] = entry["name"] or function["name"]
            entry["arguments"] += function.get("arguments", "")
    return calls


PLAIN_STREAM = (
    b": keep-alive comment\n\n"
    + _event({"role": "assistant", "content": ""})
    + _event({"content": "Hel"})
    + b'event: custom\ndata: {"x": 1}\n\n'
    + _event({"content": "lo"})
    + _event({}, "stop")
    + b"data: [DONE]\n\n"
)


@pytest.mark.parametrize("piece", [None, 1, 7, 64])
def test_plain_stream_passes_byte_for_byte_in_any_chunking(piece: int | None) -> None:
    assert _run(PLAIN_STREAM, piece) == PLAIN_STREAM


def test_crlf_stream_passes_unchanged() -> None:
    stream = PLAIN_STREAM.replace(b"\n", b"\r\n")

    assert _run(stream, 5) == stream


WRAPPED_STREAM = (
    _event({"role": "assistant", "content": "Looking."})
    + _event(_tool_delta(0, "databricks-tool-call"))
    + _event(_tool_delta(0, arguments='{"name": "re'))
    + _event(_tool_delta(0, arguments='ad", "path": "src/a.py", "limit": 20}'))
    + _event({}, "stop")
    + b"data: [DONE]\n\n"
)


@pytest.mark.parametrize("piece", [None, 3, 50])
def test_stream_wrapped_tool_call_is_renamed_with_clean_arguments(piece: int | None) -> None:
    events = _parse(_run(WRAPPED_STREAM, piece))

    assert events[0]["choices"][0]["delta"]["content"] == "Looking."
    assert _calls(events) == {0: {"name": "read", "arguments": '{"path":"src/a.py","limit":20}'}}
    assert all("databricks-tool-call" not in json.dumps(e) for e in events)
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert events[-1] == "[DONE]"
    first_call = events[1]["choices"][0]["delta"]["tool_calls"][0]
    assert first_call["id"] == "call_0" and first_call["type"] == "function"


def test_wrapped_events_are_held_only_until_the_name_is_known() -> None:
    fixer = SSEResponseFixer()

    assert fixer.feed(_event(_tool_delta(0, "databricks-tool-call"))) == b""
    assert fixer.feed(_event(_tool_delta(0, arguments='{"name": "ls",'))) == b""
    released = fixer.feed(_event(_tool_delta(0, arguments=' "dir": "."}')))

    assert _calls(_parse(released)) == {0: {"name": "ls", "arguments": '{"dir":"."}'}}


def test_two_parallel_wrapped_calls() -> None:
    stream = (
        _event(_tool_delta(0, "databricks-tool-call"))
        + _event(_tool_delta(0, arguments='{"name": "ls", "dir": "a"}'))
        + _event(_tool_delta(1, "databricks-tool-call"))
        + _event(_tool_delta(1, arguments='{"name": "cat", "file": "b"}'))
        + _event({}, "stop")
        + b"data: [DONE]\n\n"
    )

    events = _parse(_run(stream, 11))

    assert _calls(events) == {
        0: {"name": "ls", "arguments": '{"dir":"a"}'},
        1: {"name": "cat", "arguments": '{"file":"b"}'},
    }
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_ordinary_tool_call_only_gets_the_finish_reason_fix() -> None:
    call_event = _event(_tool_delta(0, "bash", '{"command": "ls"}'))
    stream = call_event + _event({}, "stop") + b"data: [DONE]\n\n"

    out = _run(stream)

    assert out.startswith(call_event), "an ordinary call passes byte for byte"
    assert _parse(out)[1]["choices"][0]["finish_reason"] == "tool_calls"


def test_finish_reason_other_than_stop_is_kept() -> None:
    stream = _event(_tool_delta(0, "bash", "{}")) + _event({}, "length")

    assert _parse(_run(stream))[1]["choices"][0]["finish_reason"] == "length"


def test_unparseable_wrapped_arguments_are_released_unchanged_at_the_end() -> None:
    held = _event(_tool_delta(0, "databricks-tool-call")) + _event(_tool_delta(0, arguments='{"name": "ls"'))
    fixer = SSEResponseFixer()

    assert fixer.feed(held) == b""
    finish = fixer.feed(_event({}, "stop"))
    done = fixer.feed(b"data: [DONE]\n\n")

    events = _parse(finish + done)
    assert _calls(events) == {0: {"name": "databricks-tool-call", "arguments": '{"name": "ls"'}}
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert events[-1] == "[DONE]"


def test_stream_cut_short_releases_held_events_on_close() -> None:
    fixer = SSEResponseFixer()
    fixer.feed(_event(_tool_delta(0, "databricks-tool-call")))

    tail = fixer.close()

    assert _calls(_parse(tail)) == {0: {"name": "databricks-tool-call", "arguments": ""}}


def test_last_event_without_blank_line_is_flushed_on_close() -> None:
    fixer = SSEResponseFixer()

    assert fixer.feed(b'data: {"choices": []}') == b""
    assert fixer.close() == b'data: {"choices": []}'


# Braces, brackets, quotes and backslashes inside strings must not confuse the
# point at which the held arguments count as one complete object.
TRICKY_ARGUMENTS = json.dumps({"name": "write", "text": 'a "}" b \\ c \\" {[ ]}', "n": [1, {"k": None}]})


@pytest.mark.parametrize("piece", [1, 2, 5])
def test_wrapped_arguments_split_anywhere_are_unwrapped_once_complete(piece: int) -> None:
    fixer = SSEResponseFixer()
    out = fixer.feed(_event(_tool_delta(0, "databricks-tool-call")))
    for i in range(0, len(TRICKY_ARGUMENTS), piece):
        out += fixer.feed(_event(_tool_delta(0, arguments=TRICKY_ARGUMENTS[i : i + piece])))
        if i + piece < len(TRICKY_ARGUMENTS):
            assert out == b"", "released before the arguments were complete"

    call = _calls(_parse(out))[0]
    assert call["name"] == "write"
    assert json.loads(call["arguments"]) == {"text": 'a "}" b \\ c \\" {[ ]}', "n": [1, {"k": None}]}


@pytest.mark.parametrize(
    "arguments",
    ['{"name": "ls"} trailing', '["name", "ls"]', '{"name": "ls",}', '{"name": "ls"]'],
    ids=["text-after-object", "array", "trailing-comma", "mismatched"],
)
def test_wrapped_arguments_that_never_parse_go_out_unchanged(arguments: str) -> None:
    stream = (
        _event(_tool_delta(0, "databricks-tool-call"))
        + b"".join(_event(_tool_delta(0, arguments=arguments[i : i + 4])) for i in range(0, len(arguments), 4))
        + _event({}, "stop")
    )

    assert _calls(_parse(_run(stream))) == {0: {"name": "databricks-tool-call", "arguments": arguments}}
