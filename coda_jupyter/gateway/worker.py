"""A child process that runs the content filter on bodies too large to repair on the event loop.

Parsing and re-encoding tens of MiB of JSON holds the GIL for hundreds of
milliseconds, so a thread would stall the Jupyter server just as much; so
would handing the body over in one piece (one big copy holds the GIL too).
The gateway therefore streams the body to this process through a pipe in
small pieces as asyncio writes them, and reads the repaired body back the
same way. Frames: request = kind (1 byte: ``q`` request, ``s`` response),
content-type length (4 bytes) and text, body length (8 bytes) and body;
reply = body length (8 bytes) and body. Run as
``python -m coda_jupyter.gateway.worker``; it exits when its stdin closes.
"""

from __future__ import annotations

import asyncio
import struct
import sys
from typing import BinaryIO

from ..util.isolated import isolated_module_argv
from .filter import repair_request_body, repair_response_body

PIECE = 64 * 1024
_REQUEST, _RESPONSE = b"q", b"s"


class FilterWorkerError(RuntimeError):
    """The worker process died or answered nonsense; the next job starts a new one."""


class FilterWorker:
    """The gateway's handle on one worker process, started on first use; jobs run one at a time."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def repair_request(self, body: bytearray | bytes, content_type: str) -> bytearray:
        return await self._run(_REQUEST, body, content_type)

    async def repair_response(self, body: bytearray | bytes) -> bytearray:
        return await self._run(_RESPONSE, body, "")

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()

    async def _run(self, kind: bytes, body: bytearray | bytes, content_type: str) -> bytearray:
        async with self._lock:
            process = await self._started()
            assert process.stdin is not None and process.stdout is not None
            try:
                encoded_type = content_type.encode("utf-8", "replace")
                process.stdin.write(kind + struct.pack(">I", len(encoded_type)) + encoded_type)
                process.stdin.write(struct.pack(">Q", len(body)))
                view = memoryview(body)
                for start in range(0, len(view), PIECE):
                    process.stdin.write(view[start : start + PIECE])
                    await process.stdin.drain()
                await process.stdin.drain()
                (size,) = struct.unpack(">Q", await process.stdout.readexactly(8))
                result = bytearray()
                while len(result) < size:
                    piece = await process.stdout.read(min(PIECE, size - len(result)))
                    if not piece:
                        raise asyncio.IncompleteReadError(bytes(result), size)
                    result += piece
                return result
            except (OSError, asyncio.IncompleteReadError) as exc:
                await self.stop()
                raise FilterWorkerError(f"the content filter's worker process failed ({type(exc).__name__})") from exc

    async def _started(self) -> asyncio.subprocess.Process:
        if self._process is None or self._process.returncode is not None:
            self._process = await asyncio.create_subprocess_exec(
                *isolated_module_argv(__name__), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd="/"
            )
        return self._process


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _next_job(source: BinaryIO) -> tuple[bytes, str, bytes] | None:
    """One request frame, or None once the gateway has closed the pipe."""
    kind = _read_exactly(source, 1)
    type_size = _read_exactly(source, 4) if kind else None
    content_type = _read_exactly(source, struct.unpack(">I", type_size)[0]) if type_size else None
    size = _read_exactly(source, 8) if content_type is not None else None
    body = _read_exactly(source, struct.unpack(">Q", size)[0]) if size else None
    if kind is None or content_type is None or body is None:
        return None
    return kind, content_type.decode("utf-8", "replace"), body


def main() -> None:
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while (job := _next_job(source)) is not None:
        kind, content_type, body = job
        repaired = repair_request_body(body, content_type) if kind == _REQUEST else repair_response_body(body)
        sink.write(struct.pack(">Q", len(repaired)))
        sink.write(repaired)
        sink.flush()


if __name__ == "__main__":
    main()
