"""Small questions about other processes."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """Whether ``pid`` names a running process (one of another user's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
