"""Does a node version satisfy a package's ``engines.node`` range?

npm ranges are a small grammar (``||``, space-joined comparators, ``^``,
``~``, x-ranges, hyphen ranges); implementing it here avoids shipping a
JavaScript semver or shelling out to node for every check.
"""

from __future__ import annotations

import re

Version = tuple[int, int, int]
_PART = re.compile(r"^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:[-+].*)?$")
_COMPARATOR = re.compile(r"^(>=|<=|>|<|=|\^|~)?\s*(.*)$")


def parse_version(text: str) -> Version:
    parts = _parse(text.strip())
    if parts is None or None in parts:
        raise ValueError(f"not a full version: {text!r}")
    return parts  # type: ignore[return-value]


def satisfies(version: Version, node_range: str) -> bool:
    """True when ``version`` is inside ``node_range``; an unparsable range is treated as satisfied."""
    try:
        return any(_set_holds(version, alternative) for alternative in node_range.split("||"))
    except ValueError:
        return True


def _parse(text: str) -> tuple[int | None, int | None, int | None] | None:
    if text in ("", "*", "x", "X"):
        return (None, None, None)
    match = _PART.match(text)
    if match is None:
        return None
    numbers = [None if g is None or not g.isdigit() else int(g) for g in match.groups()]
    # Anything after a wildcard is a wildcard too ("1.x.3" means "1.x").
    for i in range(1, 3):
        if numbers[i - 1] is None:
            numbers[i] = None
    return (numbers[0], numbers[1], numbers[2])


def _set_holds(version: Version, text: str) -> bool:
    text = text.strip()
    hyphen = re.match(r"^(\S+)\s+-\s+(\S+)$", text)
    if hyphen:
        low, high = (_partial(p) for p in hyphen.groups())
        return version >= _floor(low) and _upper_ok(version, high, inclusive=True)
    tokens = re.findall(r"(?:>=|<=|>|<|=|\^|~)?\s*[^\s<>=^~]+", text) or ["*"]
    return all(_comparator_holds(version, token.strip()) for token in tokens)


def _partial(text: str) -> tuple[int | None, int | None, int | None]:
    parts = _parse(text)
    if parts is None:
        raise ValueError(text)
    return parts


def _floor(parts: tuple[int | None, int | None, int | None]) -> Version:
    return (parts[0] or 0, parts[1] or 0, parts[2] or 0)


def _bump(parts: tuple[int | None, int | None, int | None]) -> Version | None:
    """The first version above every version matching a partial version."""
    major, minor, patch = parts
    if major is None:
        return None
    if minor is None:
        return (major + 1, 0, 0)
    if patch is None:
        return (major, minor + 1, 0)
    return (major, minor, patch + 1)


def _upper_ok(version: Version, parts: tuple[int | None, int | None, int | None], inclusive: bool) -> bool:
    if None in parts:
        ceiling = _bump(parts)
        return ceiling is None or version < ceiling
    full = _floor(parts)
    return version <= full if inclusive else version < full


def _comparator_holds(version: Version, token: str) -> bool:
    match = _COMPARATOR.match(token)
    assert match is not None
    op, rest = match.group(1) or "", match.group(2)
    parts = _partial(rest)
    if op in ("", "="):
        if None not in parts:
            return version == _floor(parts)
        ceiling = _bump(parts)
        return ceiling is None or _floor(parts) <= version < ceiling
    if op == ">=":
        return version >= _floor(parts)
    if op == ">":
        if None not in parts:
            return version > _floor(parts)
        ceiling = _bump(parts)
        return ceiling is not None and version >= ceiling
    if op == "<":
        return version < _floor(parts)
    if op == "<=":
        return _upper_ok(version, parts, inclusive=True)
    major, minor, patch = _floor(parts)
    if op == "~":
        ceiling = (major + 1, 0, 0) if parts[1] is None else (major, minor + 1, 0)
    elif major > 0 or parts[1] is None:
        ceiling = (major + 1, 0, 0)
    elif minor > 0 or parts[2] is None:
        ceiling = (0, minor + 1, 0)
    else:
        ceiling = (0, 0, patch + 1)
    return (major, minor, patch) <= version < ceiling
