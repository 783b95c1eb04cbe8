"""The gateway's address: one loopback port per user, chosen once, recorded, reused.

Why a TCP port and not a unix socket: every agent takes its model API as an
``http(s)://`` base URL (Claude Code ``ANTHROPIC_BASE_URL``, Codex
``base_url`` in ``config.toml``, Gemini CLI ``GOOGLE_GEMINI_BASE_URL``,
OpenCode's provider ``baseURL``, Hermes ``base_url``) and none of them takes a
socket path, so a socket would need a TCP relay in front of it, which is a
port again.

Why a recorded port: agent configs written earlier keep working after a
restart, and nothing else ever gets our agents' traffic. A listening port
belongs to the process holding it: while the server runs, no other user can
bind it (tornado's sockets have ``SO_REUSEADDR`` only, which never lets a
second socket listen on a port that is listening, and Linux grants
``SO_REUSEPORT`` sharing to the same user only). At start the recorded port
is bound again when it is free; when another program holds it, a new port is
bound and recorded, and agents are configured from the port actually held,
never from the file alone. While the server is down the port is closed:
agents get "connection refused" at once instead of waiting.

The record lives in the state folder, kept 0700, as a 0600 file written
atomically (a symlinked file stays a symlink).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from tornado.netutil import bind_sockets

from ..util.files import atomic_write

log = logging.getLogger("coda_jupyter.gateway")

LOOPBACK = "127.0.0.1"
PORT_FILE_NAME = "gateway-port"
# Below 1024 needs privileges a user server never has; such a record is junk.
_LOWEST_PORT = 1024
_HIGHEST_PORT = 65535


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner may enter (0700), created when missing.

    Raises ``PermissionError`` for a folder another user owns: they could
    swap whatever we write there.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid():
        raise PermissionError(errno.EPERM, "the state folder belongs to another user", str(path))
    if info.st_mode & 0o077:
        path.chmod(0o700)
    return path


@dataclass(frozen=True)
class PortRecord:
    """The file naming the gateway's port, e.g. ``~/.local/state/coda-jupyter/gateway-port``."""

    path: Path

    def read(self) -> int | None:
        """The recorded port, or None when there is none or it is not a usable port number."""
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        if not re.fullmatch(r"[0-9]{1,5}", text):
            return None
        port = int(text)
        return port if _LOWEST_PORT <= port <= _HIGHEST_PORT else None

    def write(self, port: int) -> None:
        private_dir(self.path.parent)
        atomic_write(self.path, f"{port}\n", mode=0o600)


def bind_recorded(record: PortRecord) -> list[socket.socket]:
    """Listening sockets on 127.0.0.1: the recorded port when free, else a new one, then recorded."""
    recorded = record.read()
    if recorded is not None:
        try:
            return bind_sockets(recorded, LOOPBACK)
        except OSError as err:
            if err.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
            log.warning(
                "model gateway: port %s (recorded in %s) is held by another program; choosing a new port",
                recorded,
                record.path,
            )
    sockets = bind_sockets(0, LOOPBACK)
    port = int(sockets[0].getsockname()[1])
    try:
        record.write(port)
    except OSError as err:
        # The gateway still works on this port; only the next start may pick another.
        log.warning("model gateway: could not record port %s in %s: %s", port, record.path, err)
    return sockets
