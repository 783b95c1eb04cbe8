"""The environment every terminal (agent or plain) runs with."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

# Claude Code refuses to start ("nested session") when it sees these.
NESTING_VARIABLES = ("CLAUDECODE", "CLAUDE_CODE_SESSION")


def user_bin_dir() -> Path:
    return Path.home() / ".local" / "bin"


def first_dirs(extra_dirs: Iterable[str] = ()) -> list[str]:
    """Directories every terminal's PATH starts with: ``~/.local/bin`` (the agents), then extra dirs."""
    return [str(user_bin_dir()), *extra_dirs]


def terminal_path(extra_dirs: Iterable[str] = (), base: str | None = None) -> str:
    """PATH for terminals: ``~/.local/bin`` and extra dirs first, without duplicates."""
    base_path = os.environ.get("PATH", "") if base is None else base
    ordered: list[str] = []
    for entry in [*first_dirs(extra_dirs), *base_path.split(os.pathsep)]:
        if entry and entry not in ordered:
            ordered.append(entry)
    return os.pathsep.join(ordered)


def terminal_env_changes(extra_dirs: Iterable[str] = (), stripped: Iterable[str] = ()) -> dict[str, str | None]:
    """Changes in terminado's ``extra_env`` form: ``None`` removes a variable.

    A shell's login files may reset PATH; ``startup/path.sh`` then rebuilds it
    from CODA_PATH_FIRST and CODA_TERMINAL_PATH.
    """
    extra_dirs = list(extra_dirs)
    changes: dict[str, str | None] = {name: None for name in (*NESTING_VARIABLES, *stripped)}
    changes["PATH"] = terminal_path(extra_dirs)
    changes["CODA_TERMINAL_PATH"] = changes["PATH"]
    changes["CODA_PATH_FIRST"] = os.pathsep.join(first_dirs(extra_dirs))
    return changes
