"""Cell operations on an nbformat v4 notebook, and outputs turned into capped text and images.

The same functions serve the server-side path (a notebook read through the
contents manager) and the replies of the lab relay (cells as the browser's
model serialises them, which is nbformat JSON too).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from .paths import NotebookError

CellType = Literal["code", "markdown", "raw"]

# Caps on what goes back to the agent (the notebook itself keeps everything).
MAX_CELL_OUTPUT_CHARS = 10_000
MAX_REPLY_CHARS = 200_000
MAX_IMAGES = 8
MAX_IMAGE_BASE64_CHARS = 1_000_000
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def source_text(source: Any) -> str:
    """nbformat allows a source as a string or a list of lines."""
    return "".join(source) if isinstance(source, list) else str(source or "")


def new_cell(cell_type: CellType, source: str) -> dict[str, Any]:
    cell: dict[str, Any] = {"id": new_cell_id(), "cell_type": cell_type, "metadata": {}, "source": source}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def new_cell_id() -> str:
    return secrets.token_hex(4)


def ensure_ids(nb: dict[str, Any]) -> bool:
    """Give every cell an id (nbformat 4.5), so agents can address cells stably; whether any was missing."""
    changed = False
    for cell in nb["cells"]:
        if not cell.get("id"):
            cell["id"] = new_cell_id()
            changed = True
    if nb.get("nbformat") == 4 and int(nb.get("nbformat_minor", 0)) < 5:
        nb["nbformat_minor"] = 5
        changed = True
    return changed


def cell_position(cells: list[dict[str, Any]], cell_id: str | None, index: int | None) -> int:
    """The index of the cell named by ``cell_id`` (preferred) or ``index``."""
    if cell_id is not None:
        for position, cell in enumerate(cells):
            if cell.get("id") == cell_id:
                return position
        raise NotebookError(f"no cell with id {cell_id!r}: read the notebook again for current ids")
    if index is None:
        raise NotebookError("give cell_id or index")
    if not 0 <= index < len(cells):
        raise NotebookError(f"index {index} is out of range: the notebook has {len(cells)} cells")
    return index


def insert_position(cells: list[dict[str, Any]], index: int) -> int:
    """Where an insert at ``index`` lands; -1 (or the length) appends."""
    if index == -1:
        return len(cells)
    if not 0 <= index <= len(cells):
        raise NotebookError(f"index {index} is out of range: use 0..{len(cells)}, or -1 to append")
    return index


@dataclass
class Rendered:
    """Outputs for the agent: text per cell, images collected for the whole reply."""

    images: list[tuple[str, str]] = field(default_factory=list)
    chars: int = 0
    notes: list[str] = field(default_factory=list)

    def outputs(self, outputs: list[dict[str, Any]]) -> list[str]:
        texts: list[str] = []
        for output in outputs:
            text = self._output(output)
            if text:
                texts.append(text)
        joined = _cap("\n".join(texts), MAX_CELL_OUTPUT_CHARS)
        if self.chars + len(joined) > MAX_REPLY_CHARS:
            joined = f"[outputs left out: the reply reached its {MAX_REPLY_CHARS:,}-character cap]"
        self.chars += len(joined)
        return [joined] if joined else []

    def _output(self, output: dict[str, Any]) -> str:
        kind = output.get("output_type")
        if kind == "stream":
            return source_text(output.get("text"))
        if kind == "error":
            traceback = "\n".join(output.get("traceback") or [])
            return _ANSI.sub("", traceback) or f"{output.get('ename')}: {output.get('evalue')}"
        if kind in ("execute_result", "display_data"):
            data = output.get("data") or {}
            for mime in IMAGE_TYPES:
                if mime in data:
                    self._image(mime, source_text(data[mime]).replace("\n", ""))
            for mime in ("text/plain", "text/markdown", "text/latex"):
                if mime in data:
                    return source_text(data[mime])
            others = [mime for mime in data if mime not in IMAGE_TYPES]
            return f"[{', '.join(others)} output]" if others else ""
        return ""

    def _image(self, mime: str, b64: str) -> None:
        if len(b64) > MAX_IMAGE_BASE64_CHARS:
            self.notes.append(
                f"an {mime} image of {len(b64):,} base64 characters was left out (cap {MAX_IMAGE_BASE64_CHARS:,})"
            )
        elif len(self.images) >= MAX_IMAGES:
            self.notes.append(f"an {mime} image was left out (at most {MAX_IMAGES} images per reply)")
        else:
            self.images.append((mime, b64))


def _cap(text: str, limit: int) -> str:
    """Head and tail of long text: a traceback's last lines matter most."""
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 3
    return f"{text[:head]}\n[... {len(text) - head - tail:,} characters cut ...]\n{text[-tail:]}"


def describe_cell(cell: dict[str, Any], index: int, rendered: Rendered | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "index": index,
        "cell_id": cell.get("id"),
        "cell_type": cell.get("cell_type"),
        "source": source_text(cell.get("source")),
    }
    if cell.get("cell_type") == "code":
        entry["execution_count"] = cell.get("execution_count")
        if rendered is not None:
            entry["outputs"] = rendered.outputs(cell.get("outputs") or [])
    return entry
