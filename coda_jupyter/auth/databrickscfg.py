"""Read ``~/.databrickscfg`` and change one profile without touching anything else.

The file belongs to the user and to the Databricks CLI: comments, order,
spacing and the bytes of every other profile stay exactly as they were, so a
rotation rewrites only the ``host`` and ``token`` lines of coda's own profile.
Lines are classified the way ``configparser`` (which the SDK uses) reads
them, so what this module calls a section is what the SDK sees.

The text is decoded as UTF-8 with ``surrogateescape``: a byte that is not
UTF-8 (an old latin-1 editor in someone else's profile) survives a
read-edit-write round trip unchanged instead of failing the read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# configparser's SECTCRE and OPTCRE, matched against a stripped line.
_SECTION = re.compile(r"\[(?P<header>.+)\]")
_OPTION = re.compile(r"(?P<option>.*?)\s*(?P<vi>[=:])\s*(?P<value>.*)$")
_COMMENT_PREFIXES = ("#", ";")
# configparser reads in universal-newline mode: \r\n, \r and \n all end a line.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_NONSPACE = re.compile(r"\S")


class IniSyntaxError(ValueError):
    """A line configparser would reject; the message never quotes the line (it may hold a secret)."""

    def __init__(self, lineno: int, reason: str) -> None:
        super().__init__(f"line {lineno}: {reason}")
        self.lineno = lineno


@dataclass(frozen=True)
class Line:
    text: str  # with its line ending
    kind: str  # "blank", "comment", "header", "option" or "continuation"
    section: str | None  # the section it lies in (a header: its own name)
    key: str | None = None  # options and their continuations: the key as written
    value: str | None = None  # options and continuations: the stripped value part

    @property
    def ending(self) -> str:
        return self.text[len(self.text.rstrip("\r\n")) :]


def read_text(path: Path) -> str | None:
    """The file's text, every byte kept (see the module docstring); ``None`` when missing."""
    try:
        return path.read_bytes().decode("utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return None


def encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def scan(text: str) -> list[Line]:
    """Classify every line like ``configparser``'s reader; raises ``IniSyntaxError``."""
    lines: list[Line] = []
    section: str | None = None
    key: str | None = None
    key_indent = 0
    for lineno, raw in enumerate(_LINE.findall(text), start=1):
        content = raw.rstrip("\r\n")
        stripped = content.strip()
        if stripped.startswith(_COMMENT_PREFIXES):
            lines.append(Line(raw, "comment", section))
            continue
        if not stripped:
            lines.append(Line(raw, "blank", section, key))
            continue
        indent = _NONSPACE.search(content).start()  # type: ignore[union-attr]
        if section is not None and key is not None and indent > key_indent:
            lines.append(Line(raw, "continuation", section, key, stripped))
            continue
        key_indent = indent
        header = _SECTION.match(stripped)
        if header:
            section, key = header.group("header"), None
            lines.append(Line(raw, "header", section))
            continue
        if section is None:
            raise IniSyntaxError(lineno, "a key before the first [section] header")
        option = _OPTION.match(stripped)
        if option is None:
            raise IniSyntaxError(lineno, "neither a key = value line nor a [section] header")
        key = option.group("option").rstrip()
        if not key:
            raise IniSyntaxError(lineno, "a value without a key")
        lines.append(Line(raw, "option", section, key, option.group("value").strip()))
    return lines


def sections(text: str) -> set[str]:
    return {line.section for line in scan(text) if line.kind == "header" and line.section is not None}


def profile_values(text: str, profile: str) -> dict[str, str] | None:
    """The profile's keys (lower case, as the SDK reads them) and values; ``None`` when absent.

    Like the SDK, a profile other than ``DEFAULT`` does not inherit ``DEFAULT``'s keys.
    """
    values: dict[str, list[str]] = {}
    found = False
    current: str | None = None
    for line in scan(text):
        if line.section != profile:
            continue
        found = True
        if line.kind == "option" and line.key is not None:
            current = line.key.lower()
            values[current] = [line.value or ""]
        elif line.kind == "continuation" and current is not None:
            values[current].append(line.value or "")
        elif line.kind == "blank" and current is not None and line.key is not None:
            values[current].append("")
    if not found:
        return None
    return {key: "\n".join(parts).rstrip() for key, parts in values.items()}


def set_profile(text: str, profile: str, values: dict[str, str], drop: Iterable[str] = ()) -> str:
    """``text`` with ``profile``'s ``values`` set and its ``drop`` keys removed; nothing else changes.

    Keys compare case-insensitively (the SDK lowercases them). An existing key
    keeps its spelling, separator and place, and only its value changes; a
    missing key is added after the profile's last key; a missing profile is
    appended at the end. Later repeats of a key (configparser would let the
    last one win) and of the profile are cleared of these keys.
    """
    if any("\r" in part or "\n" in part for part in (profile, *values, *values.values())):
        raise ValueError("a profile name, key or value may not contain a line break")
    wanted = {key.lower(): value for key, value in values.items()}
    removed = {key.lower() for key in drop} - set(wanted)
    lines = scan(text)
    newline = lines[0].ending if lines and lines[0].ending else "\n"
    output: list[str] = []
    written: set[str] = set()
    skipping = False
    insert_at: int | None = None  # where the first copy of the profile takes missing keys
    in_first = False
    for line in lines:
        if line.kind == "header":
            in_first = line.section == profile and insert_at is None
            if in_first:
                insert_at = len(output) + 1
        ours = line.section == profile and line.key is not None and line.kind in ("option", "continuation")
        key = line.key.lower() if ours and line.key is not None else None
        if line.kind == "option":
            skipping = False
            if key in wanted and key not in written:
                output.append(_with_value(line, wanted[key]))
                written.add(key)
                skipping = True  # the old value's continuation lines go with it
                if in_first:
                    insert_at = len(output)
                continue
            if key in wanted or key in removed:
                skipping = True
                continue
        if line.kind == "continuation" and skipping:
            continue
        output.append(line.text)
        if in_first and line.kind in ("option", "continuation"):
            insert_at = len(output)
    missing = [f"{key} = {value}{newline}" for key, value in values.items() if key.lower() not in written]
    if insert_at is not None:
        if missing and insert_at > 0 and not output[insert_at - 1].endswith(("\r", "\n")):
            output[insert_at - 1] += newline
        output[insert_at:insert_at] = missing
    else:
        if output and not output[-1].endswith(("\r", "\n")):
            output[-1] += newline
        if output:
            output.append(newline)
        output += [f"[{profile}]{newline}", *missing]
    return "".join(output)


def _with_value(line: Line, value: str) -> str:
    """``line`` (an option) with its value replaced: indent, key and separator as they were."""
    content = line.text.rstrip("\r\n")
    stripped = content.strip()
    option = _OPTION.match(stripped)
    assert option is not None, "scan() classified this line as an option"
    indent = content[: len(content) - len(content.lstrip())]
    return indent + stripped[: option.start("value")] + value + line.ending
