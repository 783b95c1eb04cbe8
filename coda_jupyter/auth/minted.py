"""The tokens a server minted and has not revoked yet, kept on disk (0600).

In memory alone they die with the server: a ``kill -9`` between minting a
token and revoking its predecessor would leave both alive until they
expire, and one killed while ``token/create`` was answering would leave a
token nobody knows the id of. So every mint is recorded *before* it is
asked for (under a comment unique to that mint, by which the token can be
found again with ``token/list``), completed with the token's id once it
arrives, and removed once the token is revoked. Whichever entry is not the
current token is due for revocation.

No token value is stored: a SHA-256 of the value lets a restarted server
recognise the token it last wrote to ~/.databrickscfg as one of its own.
Entries carry the process id of the server that owns them, so a second
server sharing the HOME never revokes the first one's tokens.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ..util.files import atomic_write_json, read_json
from ..util.processes import process_alive

VERSION = 1


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class MintedToken:
    comment: str  # unique per mint
    host: str
    pid: int  # the server process that owns the token
    minted_at: float
    expires_at: float
    token_id: str | None = None  # None: token/create has not answered (yet, or ever)
    sha256: str | None = None

    def expired(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) >= self.expires_at

    def orphaned(self) -> bool:
        """Owned by a server process that is gone (a restart of this one included)."""
        return self.pid != os.getpid() and not process_alive(self.pid)


class MintedTokens:
    """The journal: a JSON file when ``path`` is given, else kept in memory (tests, no state dir)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: list[MintedToken] = []

    def entries(self) -> list[MintedToken]:
        with self._editing() as entries:
            return list(entries)

    def add(self, entry: MintedToken) -> None:
        with self._editing() as entries:
            entries.append(entry)

    def update(self, comment: str, **changes: Any) -> None:
        with self._editing() as entries:
            entries[:] = [replace(e, **changes) if e.comment == comment else e for e in entries]

    def remove(self, *, comment: str | None = None, token_id: str | None = None) -> None:
        with self._editing() as entries:
            entries[:] = [e for e in entries if not (e.comment == comment or (token_id and e.token_id == token_id))]

    def find(self, token: str) -> MintedToken | None:
        digest = fingerprint(token)
        return next((e for e in self.entries() if e.sha256 == digest), None)

    @contextlib.contextmanager
    def _editing(self) -> Iterator[list[MintedToken]]:
        """Read, let the caller change, write back: one process at a time (flock)."""
        if self.path is None:
            yield self._memory
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = self._load()
            before = list(entries)
            yield entries
            if entries != before:
                payload = {"version": VERSION, "tokens": [asdict(e) for e in entries]}
                atomic_write_json(self.path, payload, mode=0o600)

    def _load(self) -> list[MintedToken]:
        assert self.path is not None
        raw = read_json(self.path, default={})
        tokens = raw.get("tokens") if isinstance(raw, dict) and raw.get("version") == VERSION else None
        entries: list[MintedToken] = []
        for item in tokens if isinstance(tokens, list) else []:
            try:
                entries.append(MintedToken(**item))
            except TypeError:
                continue  # not an entry this version wrote; nothing we could revoke by
        return entries
