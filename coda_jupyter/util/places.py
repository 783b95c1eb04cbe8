"""The name coda-jupyter goes by, and the folders it keeps its files in: one definition for every module."""

from __future__ import annotations

import os
from pathlib import Path

# The folder name under the XDG base folders, the local Databricks profile and
# the MLflow experiment's default name all use it.
APP_NAME = "coda-jupyter"
# The hidden folder it keeps its bookkeeping in inside a tree it builds (the
# agent-config overlay), next to files that belong to the agents.
BOOKKEEPING_DIR = f".{APP_NAME}"


def xdg_dir(variable: str, fallback: str, home: Path | None = None) -> Path:
    """``$<variable>/coda-jupyter``, or ``~/.local/<fallback>/coda-jupyter`` when the variable is unset."""
    base = os.environ.get(variable) or str((home or Path.home()) / ".local" / fallback)
    return Path(base) / APP_NAME


def default_state_dir(home: Path | None = None) -> Path:
    """Setup logs, the gateway key, sync state: ``CodaApp.state_dir``'s default."""
    return xdg_dir("XDG_STATE_HOME", "state", home)


def default_data_dir(home: Path | None = None) -> Path:
    """Tasks, the agent-config overlay, local MLflow: ``CodaApp.data_dir``'s default."""
    return xdg_dir("XDG_DATA_HOME", "share", home)


def home_data_dir(home: Path) -> Path:
    """``~/.local/share/coda-jupyter`` under ``home`` itself, whatever the environment says.

    Install markers and the config writers' fallback live here: they are
    keyed to the HOME they were given (a test's, an App's), not to the
    server process's XDG variables.
    """
    return home / ".local" / "share" / APP_NAME
