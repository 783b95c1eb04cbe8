"""Request and response repairs for OpenAI-compatible clients that send what Databricks rejects.

OpenCode (through the AI SDK) emits empty text blocks and tool results whose
tool call is no longer in the history; the Foundation Model API answers those
with a 400 that bricks the conversation for good. In the other direction,
Databricks sometimes names a tool call ``databricks-tool-call`` (the real name
hidden in its arguments) and reports ``finish_reason: "stop"`` for a turn that
called tools, which makes the client drop the call. Everything here is pure
except :class:`SSEResponseFixer`, which keeps the state a stream needs.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = "."
WRAPPED_TOOL_NAME = "databricks-tool-call"
# Schema keywords some served models (Gemini behind the OpenAI-compatible API) refuse.
REJECTED_SCHEMA_KEYS = frozenset(
    {"$schema", "$ref", "$defs", "$id", "$comment", "additionalProperties"}
)
# Keywords whose value maps *names* to schemas: the names themselves are data.
_NAMED_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "dependentSchemas"})
_MAX_PASSES = 8


# ---------------------------------------------------------------- requests


def sanitize_request(body: Any) -> Any:
    """Return a repaired copy of a chat request body; non-dict bodies come back untouched."""
    if not isinstance(body, dict):
        return body
    fixed = dict(body)
    if isinstance(fixed.get("messages"), list):
        fixed["messages"] = sanitize_messages(fixed["messages"])
    return sanitize_tool_schemas(fixed)


def sanitize_messages(messages: list[Any]) -> list[Any]:
    """Repeat the cleaning pass until nothing changes.

    A pass decides orphans against the already-cleaned history, so a removal
    can change what a later message sees; iterating to a fixed point means
    the result never depends on how many repairs were stacked up.
    """
    current = messages
    for _ in range(_MAX_PASSES):
        cleaned = _clean_pass(current)
        if cleaned == current:
            return cleaned
        current = cleaned
    return current


def _clean_pass(messages: list[Any]) -> list[Any]:
    cleaned: list[Any] = []
    for message in messages:
        if not isinstance(message, dict):
            cleaned.append(message)
            continue
        known = _latest_assistant_tool_ids(cleaned)
        kept = _clean_message(message, known)
        if kept is not None:
            cleaned.append(kept)
    return cleaned


def _clean_message(message: dict[str, Any], known_tool_ids: set[str]) -> dict[str, Any] | None:
    role = message.get("role")
    is_assistant = role == "assistant"
    has_tool_calls = bool(message.get("tool_calls"))
    if role == "tool" and message.get("tool_call_id") not in known_tool_ids:
        return None
    content = message.get("content")
    if isinstance(content, list):
        items = [item for item in content if _keep_block(item, known_tool_ids)]
        if len(items) == len(content) and items:
            return message
        if items:
            return {**message, "content": items}
        if not is_assistant:
            return None
        # An assistant turn is never dropped: removing it would put two user
        # turns side by side, which the upstream rejects just as firmly.
        return {**message, "content": [] if has_tool_calls else PLACEHOLDER}
    if content is None:
        if is_assistant and not has_tool_calls:
            return {**message, "content": PLACEHOLDER}
        return message
    if isinstance(content, str) and not content.strip():
        if is_assistant:
            return {**message, "content": PLACEHOLDER}
        return None
    return message


def _keep_block(item: Any, known_tool_ids: set[str]) -> bool:
    if not isinstance(item, dict):
        return True
    kind = item.get("type")
    if kind == "text":
        text = item.get("text")
        return isinstance(text, str) and bool(text.strip())
    if kind == "tool_result":
        return item.get("tool_use_id") in known_tool_ids
    return True


def _latest_assistant_tool_ids(history: list[Any]) -> set[str]:
    for message in reversed(history):
        if isinstance(message, dict) and message.get("role") == "assistant":
            return _tool_ids(message)
    return set()


def _tool_ids(message: dict[str, Any]) -> set[str]:
    ids: set[str] = set()
    content = message.get("content")
    if isinstance(content, list):
        for item in content:
            if isinstance(item, dict) and item.get("type") == "tool_use" and isinstance(item.get("id"), str):
                ids.add(item["id"])
    for call in message.get("tool_calls") or ():
        if isinstance(call, dict) and isinstance(call.get("id"), str):
            ids.add(call["id"])
    return ids


def sanitize_tool_schemas(body: dict[str, Any]) -> dict[str, Any]:
    """Strip rejected schema keywords from every tool's parameters.

    Dropping ``$ref``/``$defs`` can loosen a schema; the upstream refusing the
    whole request is worse. ``stream_options`` goes too because the same
    upstream rejects it.
    """
    fixed = {key: value for key, value in body.items() if key not in ("stream_options", "$schema")}
    tools = fixed.get("tools")
    if isinstance(tools, list):
        fixed["tools"] = [_clean_tool(tool) for tool in tools]
    return fixed


def _clean_tool(tool: Any) -> Any:
    if not isinstance(tool, dict) or not isinstance(tool.get("function"), dict):
        return tool
    function = tool["function"]
    if "parameters" not in function:
        return tool
    return {**tool, "function": {**function, "parameters": _clean_schema(function["parameters"])}}


def _clean_schema(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_clean_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key in REJECTED_SCHEMA_KEYS:
            continue
        if key in _NAMED_SCHEMA_MAPS and isinstance(value, dict):
            cleaned[key] = {name: _clean_schema(sub) for name, sub in value.items()}
        else:
            cleaned[key] = _clean_schema(value)
    return cleaned


# ---------------------------------------------------------------- responses


def fix_response(body: Any) -> Any:
    """Repair a non-streamed chat completion: real tool names and ``tool_calls`` finish reason."""
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        return body
    fixed = copy.deepcopy(body)
    for choice in fixed["choices"]:
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            continue
        calls = choice["message"].get("tool_calls")
        if not isinstance(calls, list) or not calls:
            continue
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and function.get("name") == WRAPPED_TOOL_NAME:
                unwrapped = unwrap_arguments(function.get("arguments"))
                if unwrapped is not None:
                    function["name"], function["arguments"] = unwrapped
        if choice.get("finish_reason") == "stop":
            choice["finish_reason"] = "tool_calls"
    return fixed


def unwrap_arguments(arguments: Any) -> tuple[str, str] | None:
    """Split wrapped arguments into (real name, remaining arguments as JSON); None if not wrapped."""
    if not isinstance(arguments, str):
        return None
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("name"), str):
        return None
    name = parsed.pop("name")
    return name, json.dumps(parsed, separators=(",", ":"))


@dataclass
class _WrappedCall:
    """A ``databricks-tool-call`` whose events are held until its real name is known."""

    events: list[dict[str, Any]] = field(default_factory=list)
    arguments: str = ""


class SSEResponseFixer:
    """Apply :func:`fix_response`'s repairs to a chat-completions SSE stream, incrementally.

    Events pass through byte for byte unless they need a repair. Events that
    carry a wrapped tool call are held back only until the accumulated
    arguments parse and reveal the real name; then they are re-emitted with
    that name and empty arguments, followed by one event with the cleaned
    arguments. If the stream ends first, the held events go out unchanged.
    """

    def __init__(self) -> None:
        self._pending = b""
        self._held: dict[tuple[int, int], _WrappedCall] = {}
        self._held_order: list[dict[str, Any]] = []
        self._choices_with_calls: set[int] = set()

    def feed(self, chunk: bytes) -> bytes:
        """Take raw upstream bytes; return the bytes ready for the client now."""
        self._pending += chunk
        out: list[bytes] = []
        while True:
            end, sep = _event_end(self._pending)
            if end < 0:
                break
            block = self._pending[: end + len(sep)]
            self._pending = self._pending[end + len(sep) :]
            out.append(self._event(block))
        return b"".join(out)

    def close(self) -> bytes:
        """Flush whatever is left when the upstream ends, repaired where possible."""
        tail = self._pending
        self._pending = b""
        out = [self._event(tail)] if tail.strip() else [tail]
        out.append(self._release_all())
        return b"".join(out)

    # -- one event

    def _event(self, block: bytes) -> bytes:
        if not self._held and not self._choices_with_calls and b"tool_calls" not in block:
            return block
        payload = _data_payload(block)
        if payload is None:
            return block
        if payload.strip() == b"[DONE]":
            return self._release_all() + block
        try:
            event = json.loads(payload)
        except ValueError:
            return block
        if not isinstance(event, dict) or not isinstance(event.get("choices"), list):
            return block
        return self._json_event(event, block)

    def _json_event(self, event: dict[str, Any], block: bytes) -> bytes:
        changed = holds = finishing = False
        for choice in event["choices"]:
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", 0)
            delta = choice.get("delta")
            calls = delta.get("tool_calls") if isinstance(delta, dict) else None
            if isinstance(calls, list) and calls:
                self._choices_with_calls.add(index)
                for call in calls:
                    holds = self._track(index, call) or holds
            if choice.get("finish_reason") is not None:
                finishing = True
            if choice.get("finish_reason") == "stop" and index in self._choices_with_calls:
                choice["finish_reason"] = "tool_calls"
                changed = True
        if holds:
            self._held_order.append(event)
            out = self._resolve()
            # Finishing while still holding means the arguments never parsed.
            return out + self._release_all() if finishing else out
        current = _encode(event) if changed else block
        if finishing and self._held:
            return self._release_all() + current
        return current

    def _track(self, choice_index: int, call: Any) -> bool:
        """Record a tool-call delta; True when the event must be held."""
        if not isinstance(call, dict):
            return False
        key = (choice_index, call.get("index", 0))
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        if key not in self._held:
            if function.get("name") != WRAPPED_TOOL_NAME:
                return False
            self._held[key] = _WrappedCall()
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            self._held[key].arguments += arguments
        return True

    def _resolve(self) -> bytes:
        unwrapped = {key: unwrap_arguments(call.arguments) for key, call in self._held.items()}
        resolved = {key: value for key, value in unwrapped.items() if value is not None}
        if not resolved or len(resolved) != len(unwrapped):
            return b""
        out: list[bytes] = []
        for event in self._held_order:
            for choice in event["choices"]:
                delta = choice.get("delta") if isinstance(choice, dict) else None
                calls = delta.get("tool_calls") if isinstance(delta, dict) else None
                for call in calls if isinstance(calls, list) else ():
                    if not isinstance(call, dict):
                        continue
                    key = (choice.get("index", 0), call.get("index", 0))
                    if key in resolved:
                        function = call.setdefault("function", {})
                        if "name" in function:
                            function["name"] = resolved[key][0]
                        function["arguments"] = ""
            out.append(_encode(event))
        template = self._held_order[0]
        for (choice_index, call_index), value in resolved.items():
            synthetic = {k: v for k, v in template.items() if k != "choices"}
            synthetic["choices"] = [
                {
                    "index": choice_index,
                    "delta": {"tool_calls": [{"index": call_index, "function": {"arguments": value[1]}}]},
                    "finish_reason": None,
                }
            ]
            out.append(_encode(synthetic))
        self._held.clear()
        self._held_order.clear()
        return b"".join(out)

    def _release_all(self) -> bytes:
        """Emit held events as received: better an unrepaired call than a lost one."""
        out = b"".join(_encode(event) for event in self._held_order)
        self._held.clear()
        self._held_order.clear()
        return out


def _event_end(buffer: bytes) -> tuple[int, bytes]:
    """Find the first SSE event boundary, whichever line ending the upstream uses."""
    best, best_sep = -1, b""
    for sep in (b"\n\n", b"\r\n\r\n", b"\r\r"):
        at = buffer.find(sep)
        if at >= 0 and (best < 0 or at < best):
            best, best_sep = at, sep
    return best, best_sep


def _data_payload(block: bytes) -> bytes | None:
    """The data of a single-``data:``-line event; None for anything fancier (passed through)."""
    lines = [line for line in block.splitlines() if line.strip()]
    if len(lines) != 1 or not lines[0].startswith(b"data:"):
        return None
    return lines[0][5:].strip()


def _encode(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"
