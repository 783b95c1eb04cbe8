"""Request and response repairs for OpenAI-compatible clients that send what Databricks rejects.

OpenCode (through the AI SDK) emits empty text blocks and tool results whose
tool call is no longer in the history; the Foundation Model API answers those
with a 400 that bricks the conversation for good. In the other direction,
Databricks sometimes names a tool call ``databricks-tool-call`` (the real name
hidden in its arguments) and reports ``finish_reason: "stop"`` for a turn that
called tools, which makes the client drop the call. Everything here is pure
except :class:`SSEResponseFixer`, which keeps the state a stream needs.

Every function does work proportional to its input: the gateway runs them
on requests of tens of MiB, and the SSE fixer on every chunk of a stream.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = "."
WRAPPED_TOOL_NAME = "databricks-tool-call"
# Schema keywords some served models (Gemini behind the OpenAI-compatible API) refuse.
REJECTED_SCHEMA_KEYS = frozenset({"$schema", "$ref", "$defs", "$id", "$comment", "additionalProperties"})
# Keywords whose value maps *names* to schemas: the names themselves are data.
_NAMED_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "dependentSchemas"})


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
    """One pass over the history, deciding orphans against the latest assistant turn kept so far.

    One pass is already a fixed point: assistant turns are never dropped and
    keep every tool call they make, so the turn a message answers is the same
    in the cleaned history as in the original, and a second pass decides
    every message the same way.
    """
    cleaned: list[Any] = []
    known: set[str] = set()
    for message in messages:
        if not isinstance(message, dict):
            cleaned.append(message)
            continue
        kept = _clean_message(message, known)
        if kept is None:
            continue
        cleaned.append(kept)
        if kept.get("role") == "assistant":
            known = _tool_ids(kept)
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


def repair_request_body(body: bytes, content_type: str) -> bytes:
    """:func:`sanitize_request` on raw bytes; anything that is not a JSON object goes through as sent.

    Bytes in, bytes out, so that the gateway can run it in a worker process.
    """
    if not body or (content_type and "json" not in content_type):
        return body
    try:
        return json.dumps(sanitize_request(json.loads(body))).encode()
    except (ValueError, RecursionError):
        return body  # let the upstream explain what is wrong with it


# ---------------------------------------------------------------- responses


def repair_response_body(body: bytes) -> bytes:
    """:func:`fix_response` on raw bytes; unparseable bodies go through as received."""
    try:
        return json.dumps(fix_response(json.loads(body))).encode()
    except (ValueError, RecursionError):
        return body


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


# Outside strings only these characters change the structure of JSON text.
_JSON_STRUCTURE = re.compile(r'[{}\[\]"]')
_STRING_STOP = re.compile(r'["\\]')


@dataclass
class _WrappedCall:
    """A ``databricks-tool-call`` whose events are held until its real name is known.

    Its arguments arrive in small pieces; parsing all of them again after
    every piece is quadratic in their length. Scanning each new piece for
    JSON structure (strings, escapes, nesting) shows when the top-level
    object closes: the text is parsed then, once. JSON errors are final for
    every longer text, so once the object has closed, or the text is not an
    object, nothing that arrives later can make it unwrap.
    """

    parts: list[str] = field(default_factory=list)
    depth: int = 0
    in_string: bool = False
    escaped: bool = False
    closed: bool = False
    broken: bool = False
    unwrapped: tuple[str, str] | None = None

    def add(self, text: str) -> None:
        if self.broken:
            return
        self.parts.append(text)
        at, end = 0, len(text)
        while at < end:
            if self.closed or self.depth == 0:
                rest = text[at:].lstrip()
                if not rest:
                    return
                if self.closed or rest[0] != "{":
                    return self._break()
                at = end - len(rest)
            if self.in_string:
                if self.escaped:
                    self.escaped, at = False, at + 1
                    continue
                stop = _STRING_STOP.search(text, at)
                if stop is None:
                    return
                at = stop.end()
                self.escaped = stop.group() == "\\"
                self.in_string = self.escaped
                continue
            mark = _JSON_STRUCTURE.search(text, at)
            if mark is None:
                return
            at = mark.end()
            char = mark.group()
            if char == '"':
                self.in_string = True
            elif char in "{[":
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 0:
                    self._close()

    def _close(self) -> None:
        self.closed = True
        self.unwrapped = unwrap_arguments("".join(self.parts))
        if self.unwrapped is None:
            self._break()

    def _break(self) -> None:
        self.broken = True
        self.unwrapped = None
        self.parts = []


class SSEResponseFixer:
    """Apply :func:`fix_response`'s repairs to a chat-completions SSE stream, incrementally.

    Events pass through byte for byte unless they need a repair. Events that
    carry a wrapped tool call are held back only until the accumulated
    arguments parse and reveal the real name; then they are re-emitted with
    that name and empty arguments, followed by one event with the cleaned
    arguments. If the stream ends first, the held events go out unchanged.
    """

    def __init__(self) -> None:
        self._pending = bytearray()
        # How much of ``_pending`` holds no event boundary: each byte is searched once.
        self._scanned = 0
        self._held: dict[tuple[int, int], _WrappedCall] = {}
        self._held_order: list[dict[str, Any]] = []
        self._choices_with_calls: set[int] = set()

    def feed(self, chunk: bytes) -> bytes:
        """Take raw upstream bytes; return the bytes ready for the client now."""
        self._pending += chunk
        out: list[bytes] = []
        start = 0
        # A boundary (at most 4 bytes) may straddle the previous chunk's end.
        search_from = max(0, self._scanned - 3)
        while (boundary := _EVENT_END.search(self._pending, search_from)) is not None:
            out.append(self._event(bytes(self._pending[start : boundary.end()])))
            start = search_from = boundary.end()
        del self._pending[:start]
        self._scanned = len(self._pending)
        return b"".join(out)

    def close(self) -> bytes:
        """Flush whatever is left when the upstream ends, repaired where possible."""
        tail = bytes(self._pending)
        self._pending.clear()
        self._scanned = 0
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
        function = call.get("function")
        if not isinstance(function, dict):
            function = {}
        if key not in self._held:
            if function.get("name") != WRAPPED_TOOL_NAME:
                return False
            self._held[key] = _WrappedCall()
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            self._held[key].add(arguments)
        return True

    def _resolve(self) -> bytes:
        unwrapped = {key: call.unwrapped for key, call in self._held.items()}
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


# An SSE event ends with a blank line, whichever line ending the upstream uses;
# the leftmost match is the first boundary (no two alternatives start alike).
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def _data_payload(block: bytes) -> bytes | None:
    """The data of a single-``data:``-line event; None for anything fancier (passed through)."""
    lines = [line for line in block.splitlines() if line.strip()]
    if len(lines) != 1 or not lines[0].startswith(b"data:"):
        return None
    return lines[0][5:].strip()


def _encode(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"
