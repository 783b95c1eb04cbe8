"""Model replies that call a tool, in each wire format the fake upstream speaks.

``FakeModelUpstream.tool_script`` lists tools by name suffix (``"coda_inbox"``)
with their arguments: each request that offers the next scripted tool gets a
call to it instead of text, until the script is done. Each CLI names MCP tools
its own way (``mcp__coda__coda_inbox``, ``coda_coda_inbox``, ...), hence the
suffix.

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
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    """One tool call the fake model makes: the tool's full name as offered, and its arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    # Distinct per call: a CLI matches each result to its call by this id.
    id: str = "call_fake_1"

    @property
    def json_arguments(self) -> str:
        return json.dumps(self.arguments)


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


def anthropic_json(model: str, call: Call) -> dict[str, Any]:
    return {
        "id": "msg_fake_tool",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 5},
    }


def anthropic_sse(model: str, call: Call) -> list[bytes]:
    start = {**anthropic_json(model, call), "content": [], "stop_reason": None}
    block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
    return [
        _sse({"type": "message_start", "message": start}, "message_start"),
        _sse({"type": "content_block_start", "index": 0, "content_block": block}, "content_block_start"),
        _sse(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": call.json_arguments},
            },
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


def chat_json(model: str, call: Call) -> dict[str, Any]:
    function = {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.json_arguments}}
    return {
        "id": "chatcmpl-fake-tool",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [function]},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }


def chat_sse(model: str, call: Call) -> list[bytes]:
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

    function = {
        "index": 0,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.json_arguments},
    }
    return [
        chunk({"role": "assistant", "content": None, "tool_calls": [function]}),
        chunk({}, "tool_calls"),
        b"data: [DONE]\n\n",
    ]


# -- OpenAI responses


def _function_call(call: Call) -> dict[str, Any]:
    namespace, _, bare = call.name.rpartition("/")
    item = {
        "type": "function_call",
        "id": "fc_fake",
        "call_id": call.id,
        "name": bare,
        "arguments": call.json_arguments,
        "status": "completed",
    }
    # A call to a namespaced tool names its namespace beside the bare name.
    return {**item, "namespace": namespace} if namespace else item


def responses_json(model: str, call: Call) -> dict[str, Any]:
    return {
        "id": "resp_fake_tool",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": model,
        "output": [_function_call(call)],
        "usage": {"input_tokens": 5, "output_tokens": 5, "total_tokens": 10},
    }


def responses_sse(model: str, call: Call) -> list[bytes]:
    created = {**responses_json(model, call), "status": "in_progress", "output": []}
    raw = [
        ("response.created", {"response": created}),
        (
            "response.output_item.added",
            {"output_index": 0, "item": {**_function_call(call), "arguments": "", "status": "in_progress"}},
        ),
        (
            "response.function_call_arguments.delta",
            {"item_id": "fc_fake", "output_index": 0, "delta": call.json_arguments},
        ),
        (
            "response.function_call_arguments.done",
            {"item_id": "fc_fake", "output_index": 0, "arguments": call.json_arguments},
        ),
        ("response.output_item.done", {"output_index": 0, "item": _function_call(call)}),
        ("response.completed", {"response": responses_json(model, call)}),
    ]
    return [_sse({"type": kind, "sequence_number": n, **data}, kind) for n, (kind, data) in enumerate(raw)]


# -- Gemini


def gemini_json(model: str, call: Call) -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"functionCall": {"name": call.name, "args": call.arguments}}]},
                "index": 0,
                "finishReason": "STOP",
            }
        ],
        "modelVersion": model,
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 5, "totalTokenCount": 10},
    }


def gemini_sse(model: str, call: Call) -> list[bytes]:
    return [_sse(gemini_json(model, call), newline=b"\r\n")]
