"""Find an agent's executable on the terminal PATH and ask it for its version."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
from dataclasses import dataclass

from .spec import AgentSpec

_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?(?:[-.+][0-9A-Za-z.]+)?")
# A version banner is a line or two; anything on PATH may print without end.
_MAX_OUTPUT = 64 * 1024


@dataclass(frozen=True)
class Probe:
    installed: bool
    executable: str | None
    version: str | None


class AgentProber:
    """Resolves executables and caches ``--version`` output per (path, mtime)."""

    def __init__(self, timeout: float = 10.0):
        self.timeout = timeout
        # One probe per executable version, shared by concurrent callers.
        self._versions: dict[tuple[str, int], asyncio.Task[str | None]] = {}

    async def probe(self, spec: AgentSpec, path: str) -> Probe:
        resolved = shutil.which(spec.executable, path=path)
        if resolved is None:
            return Probe(installed=False, executable=None, version=None)
        try:
            key = (resolved, os.stat(resolved).st_mtime_ns)
        except OSError:
            return Probe(installed=False, executable=None, version=None)
        if key not in self._versions:
            self._versions[key] = asyncio.ensure_future(self._ask_version(resolved, path))
        return Probe(installed=True, executable=resolved, version=await asyncio.shield(self._versions[key]))

    async def probe_all(self, specs: list[AgentSpec], path: str) -> list[Probe]:
        return list(await asyncio.gather(*(self.probe(spec, path) for spec in specs)))

    async def _ask_version(self, executable: str, path: str) -> str | None:
        env = {**os.environ, "PATH": path, "NO_COLOR": "1", "CI": "1"}
        try:
            proc = await asyncio.create_subprocess_exec(
                executable,
                "--version",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        except OSError:
            return None
        try:
            out = await asyncio.wait_for(_read_capped(proc), self.timeout)
        except asyncio.TimeoutError:
            out = None
        if out is None:
            # It ran in its own session: end the whole group, grandchildren included.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            # asyncio reports the exit only once the pipe is drained to its end.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(_discard(proc), self.timeout)
            return None
        if proc.returncode != 0:
            return None
        match = _VERSION.search(out.decode("utf-8", "replace"))
        return match.group(0) if match else None


async def _read_capped(proc: asyncio.subprocess.Process) -> bytes | None:
    """All of the output and the exit, or ``None`` once it passes the cap."""
    assert proc.stdout is not None
    out = bytearray()
    while chunk := await proc.stdout.read(_MAX_OUTPUT + 1 - len(out)):
        out += chunk
        if len(out) > _MAX_OUTPUT:
            return None
    await proc.wait()
    return bytes(out)


async def _discard(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdout is not None
    while await proc.stdout.read(_MAX_OUTPUT):
        pass
    await proc.wait()
