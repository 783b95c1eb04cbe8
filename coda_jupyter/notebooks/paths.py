"""Notebook paths as agents send them: relative to the Jupyter root, never outside it."""

from __future__ import annotations

import os
import posixpath

from ..util.paths import unusable_path_reason


class NotebookError(Exception):
    """A failure the calling agent can act on; its text goes back as a tool error."""


def notebook_path(raw: str, root_dir: str) -> str:
    """The API path (``dir/name.ipynb``, ``/``-separated, no leading slash) of ``raw``.

    ``raw`` is relative to the Jupyter root, or absolute inside it. ``..``
    that climbs out, and symlinks that lead out, are refused: the contents
    manager only checks the first.
    """
    text = raw.strip()
    reason = unusable_path_reason(text)
    if reason:
        raise NotebookError(f"path {reason}")
    if not text:
        raise NotebookError("path must not be empty")
    root = os.path.realpath(root_dir)
    if os.path.isabs(text):
        absolute = os.path.abspath(text)
        if not _inside(absolute, root) and not _inside(absolute, os.path.abspath(root_dir)):
            raise NotebookError(f"path {raw!r} is outside the Jupyter root")
        base = root if _inside(absolute, root) else os.path.abspath(root_dir)
        text = os.path.relpath(absolute, base).replace(os.sep, "/")
    api_path = posixpath.normpath(text.replace("\\", "/")).lstrip("/")
    if api_path in ("", ".") or api_path == ".." or api_path.startswith("../"):
        raise NotebookError(f"path {raw!r} is outside the Jupyter root")
    if not api_path.endswith(".ipynb"):
        raise NotebookError(f"path {raw!r} is not a notebook (.ipynb)")
    resolved = os.path.realpath(os.path.join(root, *api_path.split("/")))
    if not _inside(resolved, root):
        raise NotebookError(f"path {raw!r} leads outside the Jupyter root")
    return api_path


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
