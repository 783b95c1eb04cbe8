"""Read-merge-write helpers shared by every config writer.

Rules: parse with a real parser, change only the keys we own, keep the user's
keys and order, write atomically, and skip the write entirely when nothing
changed (so re-runs are byte-identical and cheap, and mtimes stay put).
"""

from __future__ import annotations

import copy
import json
import os
import re
import stat
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import tomlkit

from coda_jupyter.util.files import atomic_write

SECRET_MODE = 0o600
PLAIN_MODE = 0o644


_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Serialise read-merge-write cycles on one file within this process:
    two writers share ~/.claude/settings.json (model env and MLflow hook), and
    run in parallel they would drop each other's keys (upstream bug)."""
    key = path.absolute()
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        yield


class ConfigFileError(Exception):
    """A config file exists but cannot be parsed; we refuse to overwrite it."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: cannot merge into this file ({reason}); fix or move it and retry")
        self.path = path


def write_if_changed(path: Path, text: str, mode: int) -> bool:
    """Write ``text`` atomically unless the file already holds it.

    The mode is enforced on every call: a secret file someone loosened to
    0644 is tightened again even when its content is current.
    """
    payload = text.encode("utf-8")
    try:
        current = path.read_bytes()
    except FileNotFoundError:
        current = None
    if current == payload:
        if stat.S_IMODE(path.stat().st_mode) != mode:
            os.chmod(path, mode)
            return True
        return False
    atomic_write(path, payload, mode=mode)
    return True


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def kept_mode(path: Path, default: int = PLAIN_MODE) -> int:
    """For files without secrets: keep whatever mode the user gave the file."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return default


# --- JSON -------------------------------------------------------------------


def read_json_object(path: Path) -> dict[str, Any]:
    text = _read_text(path)
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigFileError(path, f"invalid JSON at line {getattr(exc, 'lineno', '?')}") from None
    if not isinstance(data, dict):
        raise ConfigFileError(path, "top level is not a JSON object")
    return data


def update_json(path: Path, mutate: Callable[[dict[str, Any]], None], mode: int) -> bool:
    """Apply ``mutate`` to the parsed object and write it back if it changed."""
    with file_lock(path):
        return _update_json(path, mutate, mode)


def _update_json(path: Path, mutate: Callable[[dict[str, Any]], None], mode: int) -> bool:
    original = read_json_object(path)
    data = copy.deepcopy(original)
    mutate(data)
    if data == original:
        # Leave the file alone, mode included: a file without anything of
        # ours in it is the user's business.
        return False
    return write_if_changed(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n", mode)


def child(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    """``mapping[key]`` as a dict, created when missing.

    A non-dict value under a key we need is replaced: we cannot merge into a
    string, and the agent could not read it either.
    """
    value = mapping.get(key)
    if not isinstance(value, dict):
        value = {}
        mapping[key] = value
    return value


def merge_entry(mapping: dict[str, Any], key: str, ours: Mapping[str, Any]) -> None:
    """Set our fields of ``mapping[key]`` and keep any extra fields the user
    added there (headers, timeouts, ...)."""
    entry = child(mapping, key)
    entry.update(ours)


# --- TOML -------------------------------------------------------------------


def update_toml(path: Path, mutate: Callable[[tomlkit.TOMLDocument], None], mode: int) -> bool:
    with file_lock(path):
        return _update_toml(path, mutate, mode)


def _update_toml(path: Path, mutate: Callable[[tomlkit.TOMLDocument], None], mode: int) -> bool:
    # The TOML libraries are imported on first use: server start-up reads no TOML.
    import tomlkit

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # tomli is the parser that became tomllib in 3.11
        import tomli as tomllib

    text = _read_text(path) or ""
    try:
        tomllib.loads(text)
        document = tomlkit.parse(text)
    except (tomllib.TOMLDecodeError, tomlkit.exceptions.TOMLKitError) as exc:
        # tomllib's messages carry a position, never the offending text.
        raise ConfigFileError(path, f"invalid TOML: {exc}") from None
    before = document.as_string()
    mutate(document)
    after = document.as_string()
    if after == before:
        return False
    # tomlkit preserves the user's formatting; tomllib proves the result is
    # still valid TOML before it replaces a working file.
    tomllib.loads(after)
    return write_if_changed(path, after, mode)


def toml_table(document: tomlkit.TOMLDocument | Any, key: str) -> Any:
    value = document.get(key)
    if not isinstance(value, dict):
        import tomlkit

        value = tomlkit.table()
        document[key] = value
    return value


def set_toml_values(table: Any, values: Mapping[str, Any]) -> None:
    """Assign only the values that differ, so untouched items keep their
    comments and formatting."""
    for key, value in values.items():
        if table.get(key) != value:
            table[key] = value


# --- YAML -------------------------------------------------------------------


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    text = _read_text(path)
    if text is None or not text.strip():
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # Only the position: pyyaml's message quotes the offending line, which
        # may hold a key.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigFileError(path, f"invalid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigFileError(path, "top level is not a mapping")
    return data


def update_yaml(path: Path, mutate: Callable[[dict[str, Any]], None], mode: int, header: str = "") -> bool:
    with file_lock(path):
        return _update_yaml(path, mutate, mode, header)


def _update_yaml(path: Path, mutate: Callable[[dict[str, Any]], None], mode: int, header: str = "") -> bool:
    original = read_yaml_mapping(path)
    data = copy.deepcopy(original)
    mutate(data)
    if data == original:
        return False
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return write_if_changed(path, header + body, mode)


# --- dotenv -----------------------------------------------------------------

_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_@%+=:,./~-]*$")


def dotenv_value(value: str) -> str:
    """Unquoted when safe: some readers (Gemini's auth mechanism) keep quotes
    literally, so plain values must stay plain."""
    if _PLAIN_VALUE.match(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def update_dotenv(path: Path, values: Mapping[str, str | None], mode: int) -> bool:
    """Set (or, for ``None``, remove) ``values``; every other line is kept.

    Each key of ours ends up on exactly one line, at the position of its first
    existing assignment (later duplicates are dropped so dotenv's
    last-one-wins cannot resurrect an old value).
    """
    with file_lock(path):
        return _update_dotenv(path, values, mode)


def _update_dotenv(path: Path, values: Mapping[str, str | None], mode: int) -> bool:
    lines = (_read_text(path) or "").splitlines()
    seen: set[str] = set()
    output: list[str] = []
    for line in lines:
        match = _ASSIGNMENT.match(line)
        key = match.group(1) if match else None
        if key is None or key not in values:
            output.append(line)
            continue
        if key in seen or values[key] is None:
            continue
        seen.add(key)
        output.append(f"{key}={dotenv_value(values[key])}")  # type: ignore[arg-type]
    for key, value in values.items():
        if key not in seen and value is not None:
            output.append(f"{key}={dotenv_value(value)}")
    text = "\n".join(output) + "\n" if output else ""
    if text == (_read_text(path) or ""):
        return False
    return write_if_changed(path, text, mode)


# --- marked block in a text file --------------------------------------------


def update_marked_block(path: Path, block: str, begin: str, end: str) -> bool:
    """Keep ``block`` (which starts with ``begin`` and ends with ``end``) in ``path``.

    An existing block is replaced where it stands; without one the block is
    appended. Every byte outside the block stays as the user wrote it. Markers
    that do not pair up are refused: guessing where our block ends could
    delete the user's text.
    """
    with file_lock(path):
        try:
            # Bytes, not read_text(): newline translation would turn the user's \r\n into \n.
            text: str | None = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            text = None
        except UnicodeDecodeError:
            raise ConfigFileError(path, "not UTF-8 text") from None
        merged = _merged_block(path, text or "", block, begin, end)
        if merged == text:
            return False
        return write_if_changed(path, merged, kept_mode(path))


def _merged_block(path: Path, text: str, block: str, begin: str, end: str) -> str:
    starts, ends = text.count(begin), text.count(end)
    if starts == 0 and ends == 0:
        if not text:
            return block + "\n"
        return text + ("" if text.endswith("\n") else "\n") + "\n" + block + "\n"
    start = text.find(begin)
    stop = text.find(end, start)
    if starts != 1 or ends != 1 or stop < 0:
        raise ConfigFileError(path, "coda-jupyter's begin/end markers do not pair up; keep one of each or remove both")
    return text[:start] + block + text[stop + len(end) :]
