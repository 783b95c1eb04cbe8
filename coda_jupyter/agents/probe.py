"""Find an agent's executable on the terminal PATH and ask it for its version."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from dataclasses import dataclass

from .spec import AgentSpec

_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?(?:[-.+][0-9A-Za-z.]+)?")


@dataclass(frozen=True)
class Probe:
    installed: bool
    executable: str | None
    version: str | None


class AgentProber:
    """Resolves executables and caches ``--version`` output per (path, mtime)."""

    def __init__(self, timeout: float = 10.0):
        self.timeout = timeout
        self._versions: dict[tuple[str, int], str | None] = {}

    async def probe(self, spec: AgentSpec, path: str) -> Probe:
        resolved = shutil.which(spec.executable, path=path)
        if resolved is None:
            return Probe(installed=False, executable=None, version=None)
        try:
            key = (resolved, os.stat(resolved).st_mtime_ns)
        except OSError:
            return Probe(installed=False, executable=None, version=None)
        if key not in self._versions:
            self._versions[key] = await self._ask_version(resolved, path)
        return Probe(installed=True, executable=resolved, version=self._versions[key])

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
            out, _ = await asyncio.wait_for(proc.communicate(), self.timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            return None
        if proc.returncode != 0:
            return None
        match = _VERSION.search(out.decode("utf-8", "replace"))
        return match.group(0) if match else None
