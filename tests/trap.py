"""A folder holding a booby-trapped ``coda_jupyter`` package, as a user's repository might."""

from __future__ import annotations

from pathlib import Path


def plant_trap(folder: Path) -> Path:
    """Plant the trap in ``folder``; returns the file that appears if its code ever runs."""
    package = folder / "coda_jupyter"
    for sub in ("", "setup", "gateway", "sync"):
        (package / sub).mkdir(parents=True, exist_ok=True)
        (package / sub / "__init__.py").write_text("")
    fired = folder / "trap-fired"
    (package / "__init__.py").write_text(f"open({str(fired)!r}, 'w').write('imported')\n")
    return fired
