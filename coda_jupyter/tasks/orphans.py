"""Agents a crashed server left behind: processes of tasks already reported as over.

When the server dies its PTY masters close and the kernel hangs each task
terminal up: the agent gets SIGHUP, and EIO on every later write. An agent
that ignores SIGHUP (nohup, or a handler of its own) lives on unseen and keeps
editing files. The restarted server marks such tasks interrupted, so it stops
these survivors too.

They are found by ``CODA_TASK_ID`` in ``/proc/<pid>/environ``: the
environment a process started with, inherited by its children. That names a
task's processes only, even when a pid was reused or a child left the agent's
process group. Without /proc (macOS) nothing is found and nothing is killed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Iterable

_PROC = "/proc"


def task_processes(task_ids: Collection[str]) -> list[int]:
    """Pids of live processes started for any of ``task_ids``; this server is never one."""
    wanted = {f"CODA_TASK_ID={task_id}".encode() for task_id in task_ids}
    if not wanted:
        return []
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return []
    own = os.getpid()
    found = []
    for name in entries:
        if not name.isdigit() or int(name) == own:
            continue
        try:
            with open(os.path.join(_PROC, name, "environ"), "rb") as handle:
                environ = handle.read()
        except OSError:  # exited meanwhile, or another user's process
            continue
        if wanted.intersection(environ.split(b"\0")):
            found.append(int(name))
    return found


def signal_all(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
