"""Model replies that call a tool, in each wire format the fake upstream speaks.

``FakeModelUpstream.call_tool`` names a tool by suffix (``"coda_inbox"``): the
first request that offers a tool with that suffix gets a call to it, with no
arguments, instead of text. Each CLI names MCP tools its own way
(``mcp__coda__coda_inbox``, ``coda_coda_inbox``, ...), hence the suffix.

The shapes follow each API's reference: Anthropic Messages ``tool_use`` blocks
with an ``input_json_delta`` (docs.anthropic.com, "Streaming messages"),
OpenAI Chat Completions ``tool_calls`` deltas and Responses ``function_call``
output items (platform.openai.com API reference), Gemini ``functionCall``
parts (ai.google.dev, "Function calling").
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

CALL_ID = "call_fake_1"


def offered_tools(body: dict[str, Any]) -> list[str]:
    """Every tool name a request offers, whatever the API's nesting.

    A tool in a Responses API ``namespace`` (Codex groups each MCP server's
    tools so) is named ``<namespace>/<name>``; ``responses_*`` split it again.
    """
    return list(_names(body.get("tools") or [], ""))


def _names(node: Any, namespace: str) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _names(item, namespace)
    elif isinstance(node, dict):
        if node.get("type") == "namespace":
            yield from _names(node.get("tools") or [], f"{node.get('name')}/")
            return
        if isinstance(node.get("name"), str):
            yield namespace + node["name"]
        for key in ("function", "functionDeclarations", "function_declarations"):
            if key in node:
                yield from _names(node[key], namespace)


def _sse(data: Any, event: str | None = None, newline: bytes = b"\n") -> bytes:
    head = f"event: {event}".encode() + newline if event else b""
    return head + b"data: " + json.dumps(data).encode() + newline + newline


# -- Anthropic messages


def anthropic_json(model: str, name: str) -> dict[str, Any]:
    return {
        "id": "msg_fake_tool",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "tool_use", "id": CALL_ID, "name": name, "input": {}}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 5},
    }


def anthropic_sse(model: str, name: str) -> list[bytes]:
    start = {**anthropic_json(model, name), "content": [], "stop_reason": None}
    block = {"type": "tool_use", "id": CALL_ID, "name": name, "input": {}}
    return [
        _sse({"type": "message_start", "message": start}, "message_start"),
        _sse({"type": "content_block_start", "index": 0, "content_block": block}, "content_block_start"),
        _sse(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{}"}},
            "content_block_delta",
        ),
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 5},
            },
            "message_delta",
        ),
        _sse({"type": "message_stop"}, "message_stop"),
    ]


# -- OpenAI chat completions


def chat_json(model: str, name: str) -> dict[str, Any]:
    call = {"id": CALL_ID, "type": "function", "function": {"name": name, "arguments": "{}"}}
    return {
        "id": "chatcmpl-fake-tool",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }


def chat_sse(model: str, name: str) -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _sse(
            {
                "id": "chatcmpl-fake-tool",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    call = {"index": 0, "id": CALL_ID, "type": "function", "function": {"name": name, "arguments": "{}"}}
    return [
        chunk({"role": "assistant", "content": None, "tool_calls": [call]}),
        chunk({}, "tool_calls"),
        b"data: [DONE]\n\n",
    ]


# -- OpenAI responses


def _function_call(name: str) -> dict[str, Any]:
    namespace, _, bare = name.rpartition("/")
    item = {
        "type": "function_call",
        "id": "fc_fake",
        "call_id": CALL_ID,
        "name": bare,
        "arguments": "{}",
        "status": "completed",
    }
    # A call to a namespaced tool names its namespace beside the bare name.
    return {**item, "namespace": namespace} if namespace else item


def responses_json(model: str, name: str) -> dict[str, Any]:
    return {
        "id": "resp_fake_tool",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": model,
        "output": [_function_call(name)],
        "usage": {"input_tokens": 5, "output_tokens": 5, "total_tokens": 10},
    }


def responses_sse(model: str, name: str) -> list[bytes]:
    created = {**responses_json(model, name), "status": "in_progress", "output": []}
    raw = [
        ("response.created", {"response": created}),
        (
            "response.output_item.added",
            {"output_index": 0, "item": {**_function_call(name), "arguments": "", "status": "in_progress"}},
        ),
        ("response.function_call_arguments.delta", {"item_id": "fc_fake", "output_index": 0, "delta": "{}"}),
        ("response.function_call_arguments.done", {"item_id": "fc_fake", "output_index": 0, "arguments": "{}"}),
        ("response.output_item.done", {"output_index": 0, "item": _function_call(name)}),
        ("response.completed", {"response": responses_json(model, name)}),
    ]
    return [_sse({"type": kind, "sequence_number": n, **data}, kind) for n, (kind, data) in enumerate(raw)]


# -- Gemini


def gemini_json(model: str, name: str) -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"functionCall": {"name": name, "args": {}}}]},
                "index": 0,
                "finishReason": "STOP",
            }
        ],
        "modelVersion": model,
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 5, "totalTokenCount": 10},
    }


def gemini_sse(model: str, name: str) -> list[bytes]:
    return [_sse(gemini_json(model, name), newline=b"\r\n")]
