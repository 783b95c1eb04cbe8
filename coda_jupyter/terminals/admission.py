"""Admission of new agents: a cap on agent sessions and a floor of free memory.

An agent is a large process tree (measured idle, as resident memory: Claude Code
about 180 MiB, Codex and Gemini CLI about 340 MiB, OpenCode about 740 MiB), and a
Databricks App has 6 GB for everything. Without a limit a few open tabs end in
the kernel's out-of-memory killer taking the whole server down, so a new agent
terminal or background task is refused while the app is full: 429 when the
session cap is reached, 503 when free memory is below the floor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from tornado import web
from traitlets import Integer, default
from traitlets.config import LoggingConfigurable

_MIB = 1024 * 1024


class AdmissionRefused(web.HTTPError):
    """A new agent session was refused; ``message`` says why and how to free room."""

    def __init__(self, status: int, message: str):
        # Jupyter's API handlers send log_message to the client as the JSON "message".
        super().__init__(status, message)
        self.message = message


class AvailableMemory(Protocol):
    def available_mib(self) -> float | None: ...


class MemoryReader:
    """Memory available to this server, in MiB, as the kernel reports it.

    Inside a memory-limited cgroup (v2) that is the limit minus the cgroup's
    working set (usage without its inactive page cache, which the kernel
    reclaims before it kills anything), for the tightest limit among the
    cgroup and its parents. ``MemAvailable`` from ``/proc/meminfo`` caps it,
    since a limit may exceed what the host has. ``root`` is ``/`` except in tests.
    """

    def __init__(self, root: Path | str = "/"):
        self._root = Path(root)

    def available_mib(self) -> float | None:
        """Free memory in MiB; ``None`` when no source can be read (the floor then does not apply)."""
        candidates = [value for value in (self._cgroup_headroom(), self._meminfo_available()) if value is not None]
        return min(candidates) / _MIB if candidates else None

    def _meminfo_available(self) -> int | None:
        for line in self._read(self._root / "proc" / "meminfo").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
        return None

    def _cgroup_headroom(self) -> int | None:
        headrooms = [
            limit - _working_set(folder)
            for folder in self._cgroup_folders()
            if (limit := _limit(self._read(folder / "memory.max"))) is not None
        ]
        return max(0, min(headrooms)) if headrooms else None

    def _cgroup_folders(self) -> Iterable[Path]:
        """This process's cgroup v2 folder and its parents up to the root."""
        base = self._root / "sys" / "fs" / "cgroup"
        for line in self._read(self._root / "proc" / "self" / "cgroup").splitlines():
            if line.startswith("0::"):
                parts = [part for part in line[3:].strip().split("/") if part]
                for depth in range(len(parts), -1, -1):
                    yield base.joinpath(*parts[:depth])
                return

    @staticmethod
    def _read(path: Path) -> str:
        try:
            return path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            return ""


def _limit(text: str) -> int | None:
    value = text.strip()
    return int(value) if value.isdigit() else None  # "max" (no limit) or unreadable


def _working_set(folder: Path) -> int:
    current = MemoryReader._read(folder / "memory.current").strip()
    used = int(current) if current.isdigit() else 0
    for line in MemoryReader._read(folder / "memory.stat").splitlines():
        key, _, value = line.partition(" ")
        if key == "inactive_file" and value.strip().isdigit():
            return max(0, used - int(value))
    return used


class AgentAdmission(LoggingConfigurable):
    """Decides whether a new agent terminal or background task may start.

    An agent session is an agent terminal opened from the launcher (until it
    is shut down, even after the agent in it exits, since its shell stays) or
    a running background task. Plain terminals are not counted.
    """

    max_sessions = Integer(
        help="""Agent terminals and running background tasks allowed at once; a new one
        beyond it is refused with 429. 0: no cap. Default: 5 in Databricks App mode,
        else 0.""",
    ).tag(config=True)

    @default("max_sessions")
    def _default_max_sessions(self) -> int:
        return 5 if _apps_mode(self) else 0

    min_free_memory_mib = Integer(
        help="""A new agent is refused with 503 while less than this much memory (MiB) is
        available (cgroup limit minus usage, or MemAvailable). 0: no floor. Default:
        1024 in Databricks App mode (the largest agent, OpenCode, takes about 740 MiB
        idle), else 0.""",
    ).tag(config=True)

    @default("min_free_memory_mib")
    def _default_min_free_memory_mib(self) -> int:
        return 1024 if _apps_mode(self) else 0

    def __init__(
        self,
        *,
        terminals: Callable[[], Any] | None = None,
        running_tasks: Callable[[], int] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._terminals = terminals
        self._running_tasks = running_tasks or (lambda: 0)
        self._agent_terminals: list[str] = []
        # Replaced in tests by a reader of fixed numbers.
        self.memory: AvailableMemory = MemoryReader()

    def track(self, name: str) -> None:
        """Count the agent terminal ``name`` as a session until it is shut down."""
        self._agent_terminals.append(name)

    def agent_terminals(self) -> list[str]:
        """Names of agent terminals that are still running, oldest first."""
        live = self._terminals().terminals if self._terminals is not None else {}
        self._agent_terminals = [name for name in self._agent_terminals if name in live]
        return list(self._agent_terminals)

    def admit(self, what: str) -> None:
        """Raise ``AdmissionRefused`` when a new agent session (``what``, for the message) may not start."""
        self._check_cap(what)
        self._check_memory(what)

    def _check_cap(self, what: str) -> None:
        if self.max_sessions <= 0:
            return
        terminals = self.agent_terminals()
        tasks = self._running_tasks()
        if len(terminals) + tasks < self.max_sessions:
            return
        parts = []
        if terminals:
            parts.append(f"agent terminal{'s' if len(terminals) > 1 else ''} {', '.join(terminals)}")
        if tasks:
            parts.append(f"{tasks} background task{'s' if tasks > 1 else ''}")
        running = len(terminals) + tasks
        message = (
            f"Cannot start {what}: {running} agent session{'s are' if running > 1 else ' is'} running "
            f"({' and '.join(parts)}), and this app allows at most {self.max_sessions} at once to keep "
            "within its memory. To free one, shut down an agent terminal (type exit in it, or shut it "
            "down in the Running Terminals and Kernels panel; closing its tab keeps it running), or cancel "
            "a background task (Agent tasks panel, or coda_cancel), then try again."
        )
        self.log.warning("coda-jupyter: refused %s: %d of %d sessions in use", what, running, self.max_sessions)
        raise AdmissionRefused(429, message)

    def _check_memory(self, what: str) -> None:
        if self.min_free_memory_mib <= 0:
            return
        available = self.memory.available_mib()
        if available is None or available >= self.min_free_memory_mib:
            return
        message = (
            f"Cannot start {what}: only {available:.0f} MiB of memory is free, and a new agent needs "
            f"at least {self.min_free_memory_mib} MiB. Shut down an agent terminal or a notebook "
            "kernel you no longer use, or cancel a background task, then try again."
        )
        self.log.warning("coda-jupyter: refused %s: %.0f MiB free", what, available)
        raise AdmissionRefused(503, message)


def _apps_mode(configurable: LoggingConfigurable) -> bool:
    """Whether the parent ``CodaApp`` runs as a Databricks App (defaults differ there)."""
    return bool(getattr(configurable.parent, "apps_mode", False))
