"""Atomic file writes: secrets and state never appear half-written."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write(path: str | os.PathLike[str], data: str | bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder.

    The temp file is created with ``mode`` before any byte is written, so a
    secret is never readable by others, even briefly; ``os.replace`` makes the
    switch atomic for readers. A symlink (a dotfile kept in a dotfiles
    repository) stays a symlink: its final target is what gets replaced, from
    a temp file next to that target. If anything fails (a full disk, a file
    size limit) the old content stays and the temp file is removed.
    """
    target = resolve_symlinks(Path(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def resolve_symlinks(path: Path) -> Path:
    """The file a chain of symlinks ends at (which may not exist yet); ``path`` itself if no link.

    Raises ``OSError(ELOOP)`` for a symlink loop rather than replacing one of its links.
    """
    if not path.is_symlink():
        return path
    target = Path(os.path.realpath(path))
    if target.is_symlink():
        raise OSError(errno.ELOOP, "too many levels of symbolic links", str(path))
    return target


def atomic_write_json(path: str | os.PathLike[str], payload: Any, mode: int = 0o600) -> None:
    atomic_write(path, json.dumps(payload, indent=2, sort_keys=False) + "\n", mode=mode)


def read_json(path: str | os.PathLike[str], default: Any = None) -> Any:
    """Read JSON, returning ``default`` when the file is missing or corrupt."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (FileNotFoundError, ValueError):
        return default
