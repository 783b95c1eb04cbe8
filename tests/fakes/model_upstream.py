"""A fake Databricks model upstream: Anthropic, OpenAI chat/responses and Gemini, JSON and SSE.

It stands in for the AI Gateway and serving endpoints (the only things tests
may stub) and records every request so tests can see exactly what the local
gateway forwarded. Paths match by suffix, so ``/anthropic/v1/messages`` and
``/serving-endpoints/anthropic/v1/messages`` both work.

Run ``python -m tests.fakes.model_upstream [--big-sse-bytes N]`` to serve it
from a separate process; it prints ``{"port": N}`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.iostream import StreamClosedError
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from tests.fakes import tool_calls

SSE = "text/event-stream"


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: str
    headers: httputil.HTTPHeaders
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Canned:
    """A response served verbatim to the next request, whatever its path."""

    status: int = 200
    chunks: list[bytes] = field(default_factory=list)
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class FakeModelUpstream:
    """Tornado server on 127.0.0.1 with knobs tests turn between requests.

    - ``reply_text``: what every model answers.
    - ``enqueue(...)``: serve a canned response (errors, odd SSE) to the next request.
    - ``hold()`` / ``release()``: streams send their first event, then wait.
    - ``delay``: seconds of silence before answering at all.
    - ``big_sse_bytes``: streamed chat completions send this many bytes.
    """

    def __init__(self, reply_text: str = "Hello from the fake upstream.") -> None:
        self.reply_text = reply_text
        self.requests: list[Recorded] = []
        self.delay = 0.0
        self.big_sse_bytes = 0
        self.streams_finished = 0
        # (tool-name suffix, arguments): each request offering the next such tool gets a call to it.
        self.tool_script: list[tuple[str, dict[str, Any]]] = []
        # Full names of the tools called so far, in order.
        self.tools_called: list[str] = []
        self._queue: list[Canned] = []
        self._release: asyncio.Event | None = None
        self._server: HTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        sockets = bind_sockets(0, "127.0.0.1")
        app = Application([(r"/.*", _FakeHandler, {"fake": self})], log_function=lambda handler: None)
        self._server = HTTPServer(app, max_body_size=256 * 1024 * 1024)
        self._server.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._release is not None:
            self._release.set()
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    def enqueue(
        self,
        status: int = 200,
        body: bytes | str | dict[str, Any] | list[bytes] = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        if isinstance(body, dict):
            chunks = [json.dumps(body).encode()]
        elif isinstance(body, str):
            chunks = [body.encode()]
        elif isinstance(body, bytes):
            chunks = [body]
        else:
            chunks = list(body)
        self._queue.append(Canned(status, chunks, content_type, dict(headers or {})))

    def hold(self) -> None:
        self._release = asyncio.Event()

    def release(self) -> None:
        if self._release is not None:
            self._release.set()

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    async def _wait_if_held(self) -> None:
        if self._release is not None:
            await self._release.wait()


# ---------------------------------------------------------------- handler

_ANTHROPIC = re.compile(r"/v1/messages$")
_CHAT = re.compile(r"/chat/completions$")
_RESPONSES = re.compile(r"/responses$")
_GEMINI = re.compile(r"/models/(?P<model>[^/:]+):(?P<verb>generateContent|streamGenerateContent)$")
_MODELS = re.compile(r"/models$")


class _FakeHandler(RequestHandler):
    SUPPORTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

    def initialize(self, fake: FakeModelUpstream) -> None:
        self.fake = fake

    def check_xsrf_cookie(self) -> None:
        return None

    async def get(self) -> None:
        await self._serve()

    post = put = patch = delete = get

    async def _serve(self) -> None:
        fake = self.fake
        request = self.request
        fake.requests.append(
            Recorded(
                request.method or "", request.path, request.query, httputil.HTTPHeaders(request.headers), request.body
            )
        )
        if fake.delay:
            await asyncio.sleep(fake.delay)
        try:
            if fake._queue:
                await self._canned(fake._queue.pop(0))
            else:
                await self._model()
        except StreamClosedError:
            pass  # the gateway under test went away; that is its business

    async def _canned(self, canned: Canned) -> None:
        self.set_status(canned.status)
        self.set_header("Content-Type", canned.content_type)
        for name, value in canned.headers.items():
            self.set_header(name, value)
        for index, chunk in enumerate(canned.chunks):
            self.write(chunk)
            if len(canned.chunks) > 1:
                await self.flush()
                if index == 0:
                    await self.fake._wait_if_held()
        self.fake.streams_finished += 1

    async def _model(self) -> None:
        path = self.request.path
        body = _json_or_empty(self.request.body)
        stream = bool(body.get("stream"))
        model = str(body.get("model") or "")
        if await self._tool_call(path, body, stream, model):
            return None
        if _ANTHROPIC.search(path):
            events = _anthropic_sse(model, self.fake.reply_text) if stream else None
            return await self._answer(events, _anthropic_json(model, self.fake.reply_text))
        if _CHAT.search(path):
            if stream and self.fake.big_sse_bytes:
                return await self._big_stream(model)
            events = _chat_sse(model, self.fake.reply_text) if stream else None
            return await self._answer(events, _chat_json(model, self.fake.reply_text))
        if _RESPONSES.search(path):
            events = _responses_sse(model, self.fake.reply_text) if stream else None
            return await self._answer(events, _responses_json(model, self.fake.reply_text))
        gemini = _GEMINI.search(path)
        if gemini:
            model = gemini.group("model")
            if gemini.group("verb") == "streamGenerateContent":
                if self.get_query_argument("alt", "") == "sse":
                    return await self._answer(_gemini_sse(model, self.fake.reply_text), {})
                return await self._answer(None, [_gemini_json(model, self.fake.reply_text)])
            return await self._answer(None, _gemini_json(model, self.fake.reply_text))
        if _MODELS.search(path) and self.request.method == "GET":
            return await self._answer(None, {"object": "list", "data": [{"id": "databricks-fake", "object": "model"}]})
        self.set_status(404)
        self.finish({"error": {"message": f"fake upstream has no {path}"}})

    async def _tool_call(self, path: str, body: dict[str, Any], stream: bool, model: str) -> bool:
        """Answer with the next call of ``fake.tool_script`` when this request offers that tool."""
        fake = self.fake
        if len(fake.tools_called) >= len(fake.tool_script):
            return False
        suffix, arguments = fake.tool_script[len(fake.tools_called)]
        name = next((n for n in tool_calls.offered_tools(body) if n.endswith(suffix)), None)
        if name is None:
            return False
        gemini = _GEMINI.search(path)
        if _ANTHROPIC.search(path):
            reply = (tool_calls.anthropic_sse if stream else None, tool_calls.anthropic_json)
        elif _CHAT.search(path):
            reply = (tool_calls.chat_sse if stream else None, tool_calls.chat_json)
        elif _RESPONSES.search(path):
            reply = (tool_calls.responses_sse if stream else None, tool_calls.responses_json)
        elif gemini:
            model = gemini.group("model")
            streamed = gemini.group("verb") == "streamGenerateContent"
            if streamed and self.get_query_argument("alt", "") == "sse":
                reply = (tool_calls.gemini_sse, tool_calls.gemini_json)
            else:
                # A stream without alt=sse is one JSON array of chunks.
                reply = (None, (lambda m, c: [tool_calls.gemini_json(m, c)]) if streamed else tool_calls.gemini_json)
        else:
            return False
        fake.tools_called.append(name)
        call = tool_calls.Call(name, arguments, f"call_fake_{len(fake.tools_called)}")
        events, payload = reply
        await self._answer(events(model, call) if events else None, payload(model, call))
        return True

    async def _answer(self, events: list[bytes] | None, payload: Any) -> None:
        if events is None:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(payload))
            return
        self.set_header("Content-Type", SSE)
        self.set_header("Cache-Control", "no-cache")
        for index, event in enumerate(events):
            self.write(event)
            await self.flush()
            if index == 0:
                await self.fake._wait_if_held()
        self.fake.streams_finished += 1
        self.finish()

    async def _big_stream(self, model: str) -> None:
        self.set_header("Content-Type", SSE)
        block = _big_block(model)
        sent = 0
        first = True
        while sent < self.fake.big_sse_bytes:
            self.write(block)
            sent += len(block)
            await self.flush()
            if first:
                first = False
                await self.fake._wait_if_held()
        self.write(b"data: [DONE]\n\n")
        self.fake.streams_finished += 1
        self.finish()


def _json_or_empty(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [word + (" " if index < len(words) - 1 else "") for index, word in enumerate(words)]


def _sse(data: Any, event: str | None = None, newline: bytes = b"\n") -> bytes:
    head = f"event: {event}".encode() + newline if event else b""
    return head + b"data: " + json.dumps(data).encode() + newline + newline


# -- Anthropic messages


def _anthropic_json(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": len(_pieces(text))},
    }


def _anthropic_sse(model: str, text: str) -> list[bytes]:
    start = {**_anthropic_json(model, ""), "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": 5, "output_tokens": 1}
    events = [
        _sse({"type": "message_start", "message": start}, "message_start"),
        _sse(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            "content_block_start",
        ),
    ]
    for piece in _pieces(text):
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
        events.append(_sse(delta, "content_block_delta"))
    events += [
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(_pieces(text))},
            },
            "message_delta",
        ),
        _sse({"type": "message_stop"}, "message_stop"),
    ]
    return events


# -- OpenAI chat completions


def _chat_json(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": len(_pieces(text)), "total_tokens": 5 + len(_pieces(text))},
    }


def _chat_chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _chat_sse(model: str, text: str) -> list[bytes]:
    events = [_sse(_chat_chunk(model, {"role": "assistant", "content": ""}))]
    events += [_sse(_chat_chunk(model, {"content": piece})) for piece in _pieces(text)]
    events.append(_sse(_chat_chunk(model, {}, "stop")))
    events.append(b"data: [DONE]\n\n")
    return events


_BIG_BLOCKS: dict[str, bytes] = {}


def _big_block(model: str) -> bytes:
    """About 64 KiB of ordinary chat chunks, built once per model."""
    if model not in _BIG_BLOCKS:
        event = _sse(_chat_chunk(model, {"content": "x" * 900}))
        _BIG_BLOCKS[model] = event * max(1, 65536 // len(event))
    return _BIG_BLOCKS[model]


# -- OpenAI responses


def _responses_json(model: str, text: str, status: str = "completed") -> dict[str, Any]:
    output = []
    if text:
        output.append(
            {
                "type": "message",
                "id": "msg_fake",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": model,
        "output": output,
        "usage": {"input_tokens": 5, "output_tokens": len(_pieces(text)), "total_tokens": 5 + len(_pieces(text))},
    }


def _responses_sse(model: str, text: str) -> list[bytes]:
    item = {"type": "message", "id": "msg_fake", "status": "in_progress", "role": "assistant", "content": []}
    part = {"type": "output_text", "text": "", "annotations": []}
    raw = [
        ("response.created", {"response": _responses_json(model, "", "in_progress")}),
        ("response.output_item.added", {"output_index": 0, "item": item}),
        ("response.content_part.added", {"item_id": "msg_fake", "output_index": 0, "content_index": 0, "part": part}),
    ]
    for piece in _pieces(text):
        raw.append(
            (
                "response.output_text.delta",
                {"item_id": "msg_fake", "output_index": 0, "content_index": 0, "delta": piece},
            )
        )
    done_part = {**part, "text": text}
    raw += [
        ("response.output_text.done", {"item_id": "msg_fake", "output_index": 0, "content_index": 0, "text": text}),
        (
            "response.content_part.done",
            {"item_id": "msg_fake", "output_index": 0, "content_index": 0, "part": done_part},
        ),
        ("response.output_item.done", {"output_index": 0, "item": _responses_json(model, text)["output"][0]}),
        ("response.completed", {"response": _responses_json(model, text)}),
    ]
    return [_sse({"type": kind, "sequence_number": n, **data}, kind) for n, (kind, data) in enumerate(raw)]


# -- Gemini


def _gemini_json(model: str, text: str, finish: bool = True) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    answer: dict[str, Any] = {"candidates": [candidate], "modelVersion": model}
    if finish:
        candidate["finishReason"] = "STOP"
        answer["usageMetadata"] = {
            "promptTokenCount": 5,
            "candidatesTokenCount": len(_pieces(text)),
            "totalTokenCount": 5 + len(_pieces(text)),
        }
    return answer


def _gemini_sse(model: str, text: str) -> list[bytes]:
    pieces = _pieces(text)
    return [
        _sse(_gemini_json(model, piece, finish=index == len(pieces) - 1), newline=b"\r\n")
        for index, piece in enumerate(pieces)
    ]


# ---------------------------------------------------------------- separate process


async def _serve_forever(big_sse_bytes: int) -> None:
    fake = FakeModelUpstream()
    fake.big_sse_bytes = big_sse_bytes
    await fake.start()
    print(json.dumps({"port": fake.port}), flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--big-sse-bytes", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(_serve_forever(args.big_sse_bytes))


if __name__ == "__main__":
    main()
