"""Download one release file, check its sha256 and unpack one member.

Run as ``python -m coda_jupyter.setup.fetch`` by tool steps, so a slow or
stuck download lives in a process group the engine can kill on timeout.
The expected sha256 is required: nothing is written before the downloaded
bytes match it. Exit status 1 means the file could not be fetched, 2 that
it was wrong.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path


class FetchError(Exception):
    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def download(url: str, timeout: float) -> bytes:
    try:
        # The URL comes from the admin's tool mirror setting; the checksum guards what it returns.
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        raise FetchError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"cannot download {url}: {reason}") from None


def extract_member(archive: bytes, member: str, name: str) -> bytes:
    """The bytes of ``member`` (a path, or a path suffix) inside a tar or zip archive."""

    def matches(path: str) -> bool:
        path = path.lstrip("./")
        return path == member or path.endswith("/" + member)

    if zipfile.is_zipfile(io.BytesIO(archive)):
        with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
            for info in zipped.infolist():
                if not info.is_dir() and matches(info.filename):
                    return zipped.read(info)
    else:
        try:
            with tarfile.open(fileobj=io.BytesIO(archive)) as tarred:
                for entry in tarred.getmembers():
                    if entry.isfile() and matches(entry.name):
                        handle = tarred.extractfile(entry)
                        if handle is not None:
                            return handle.read()
        except tarfile.TarError as exc:
            raise FetchError(f"{name} is not a readable archive: {exc}", status=2) from None
    raise FetchError(f"{name} has no {member}", status=2)


def write_executable(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--sha256", required=True, help="expected sha256 of the downloaded file")
    parser.add_argument("--member", help="extract this file from the archive instead of keeping it")
    parser.add_argument("--mode", default="644", help="octal file mode of --out")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    name = args.url.rsplit("/", 1)[-1]
    try:
        data = download(args.url, args.timeout)
        digest = hashlib.sha256(data).hexdigest()
        # Flushed now: stdout and stderr share one pipe and the caller reports the last line.
        print(f"downloaded {name}: {len(data)} bytes, sha256 {digest}", flush=True)
        if digest != args.sha256.lower():
            raise FetchError(f"checksum mismatch for {name}: expected {args.sha256}, got {digest}", status=2)
        if args.member:
            data = extract_member(data, args.member, name)
        write_executable(args.out, data, int(args.mode, 8))
    except FetchError as exc:
        print(exc, file=sys.stderr)
        return exc.status
    return 0


if __name__ == "__main__":
    sys.exit(main())
