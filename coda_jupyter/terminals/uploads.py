"""Where images pasted or dropped onto a terminal are saved, and how long they are kept.

``POST coda/api/uploads`` (``handlers/uploads.py``) checks the request and hands
the bytes here.
"""

from __future__ import annotations

import fnmatch
import os
import re
import secrets
import tempfile
import time
from pathlib import Path

from tornado import web
from tornado.ioloop import PeriodicCallback
from traitlets import Float, Int, List, Unicode
from traitlets.config import LoggingConfigurable

from ..util.files import atomic_write

_MAX_NAME_LENGTH = 100
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
# Names of the files this store wrote, one a line: cleanup removes only those,
# never a file the user put in the folder. Hidden, like the temp files.
_LEDGER = ".coda-uploads"


def sanitise_name(original: str, extension: str) -> str:
    """A plain ASCII file name: the client's stem, the extension of the sniffed type.

    The client's own extension is dropped: ``report.html`` holding PNG bytes is
    saved as ``report.png``, so nothing opens it as the type it claimed to be.
    """
    suffix = "." + _UNSAFE_NAME_CHARS.sub("", extension.lower())
    base = re.split(r"[\\/]", original)[-1]
    stem = _UNSAFE_NAME_CHARS.sub("_", os.path.splitext(base)[0]).strip("._")
    stem = stem[-(_MAX_NAME_LENGTH - len(suffix)) :].lstrip("._")
    return (stem or "upload") + suffix


class UploadStore(LoggingConfigurable):
    """Where uploads go, what is accepted, and how long files are kept."""

    directory = Unicode("", help="Folder for uploads; empty means ~/uploads of the server's user.").tag(config=True)

    max_size = Int(
        32 * 1024 * 1024,
        help="Largest accepted upload in bytes (Claude Code reads files up to about 30 MB); larger gives 413.",
    ).tag(config=True)

    allowed_types = List(
        Unicode(),
        default_value=["image/*"],
        help="MIME types (shell patterns) accepted, checked against the type sniffed from the bytes.",
    ).tag(config=True)

    max_age = Float(
        7 * 24 * 3600.0, help="Seconds an upload is kept before cleanup removes it; 0 keeps them forever."
    ).tag(config=True)

    cleanup_interval = Float(3600.0, help="Seconds between two cleanup sweeps.").tag(config=True)

    _sweeper: PeriodicCallback | None = None

    @property
    def folder(self) -> Path:
        return Path(self.directory).expanduser() if self.directory else Path.home() / "uploads"

    def accepts(self, mime: str) -> bool:
        return any(fnmatch.fnmatchcase(mime, pattern) for pattern in self.allowed_types)

    def save(self, original_name: str, data: bytes, extension: str) -> Path:
        """Write ``data`` under a fresh ``<8 hex>_<name>``; never replaces an existing file."""
        folder = self.folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = sanitise_name(original_name, extension)
        fd, tmp = tempfile.mkstemp(prefix=".upload.", suffix=".tmp", dir=folder)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            while True:
                target = folder / f"{secrets.token_hex(4)}_{name}"
                if target.parent != folder:
                    raise web.HTTPError(400, "upload name is not a plain file name")
                try:
                    # link() fails if the name exists, so two uploads can never
                    # overwrite each other, and readers only see complete files.
                    os.link(tmp, target)
                    break
                except FileExistsError:
                    continue
        finally:
            os.unlink(tmp)
        self._record(target.name)
        return target

    def _ledger(self) -> Path:
        return self.folder / _LEDGER

    def _recorded(self) -> list[str]:
        try:
            text = self._ledger().read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if line]

    def _record(self, name: str) -> None:
        # Saves and sweeps both run on the server's event loop, so an append
        # never interleaves with the sweep's rewrite.
        fd = os.open(self._ledger(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(name + "\n")

    def sweep(self, now: float | None = None) -> list[Path]:
        """Remove uploads this store saved that are older than ``max_age``; return what was removed."""
        if self.max_age <= 0 or not self.folder.is_dir():
            return []
        cutoff = (time.time() if now is None else now) - self.max_age
        recorded = self._recorded()
        removed, kept = [], []
        for name in recorded:
            entry = self.folder / name
            if entry.parent != self.folder or not entry.is_file() or entry.is_symlink():
                continue  # gone, or not a plain file here: nothing left to clean up
            try:
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed.append(entry)
                    continue
            except OSError as err:
                self.log.warning("coda-jupyter: could not remove old upload %s: %s", entry.name, err)
            kept.append(name)
        if kept != recorded:
            atomic_write(self._ledger(), "".join(f"{name}\n" for name in kept))
        if removed:
            self.log.info("coda-jupyter: removed %d old upload(s)", len(removed))
        return removed

    def start(self) -> None:
        """Sweep now and then every ``cleanup_interval`` seconds (needs a running event loop)."""
        if self._sweeper is not None:
            return
        self.sweep()
        self._sweeper = PeriodicCallback(self._scheduled_sweep, self.cleanup_interval * 1000)
        self._sweeper.start()

    def _scheduled_sweep(self) -> None:
        # PeriodicCallback takes a callback without a result.
        self.sweep()

    def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.stop()
            self._sweeper = None
