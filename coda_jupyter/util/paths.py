"""Checks on path text that arrives from clients."""

from __future__ import annotations

import os


def unusable_path_reason(path: str) -> str | None:
    """Why the OS could not take ``path`` as a file name, or ``None``.

    NUL bytes and unpaired surrogates both arrive through JSON escapes and
    would otherwise fail deep inside ``realpath`` or ``exec``.
    """
    if "\x00" in path:
        return "must not contain NUL characters"
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        return "is not a valid file name (unpaired surrogate)"
    return None
