"""Run one of this package's modules in a child Python that imports nothing from where it starts.

``python -m`` puts the current folder first on ``sys.path``. The server's
folder is the user's notebook root, which may hold anything, a repository
with its own ``coda_jupyter/`` folder included; its code would then run in
place of ours. Isolated mode (``-I``) keeps the current folder, PYTHONPATH
and user site-packages off ``sys.path``; the folder this package was loaded
from is appended explicitly, so an install there (``pip install --user``,
an editable checkout) still works.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Appends the package's folder (argv[1]), then runs the module (argv[2]) as
# __main__ with the arguments that follow.
_BOOT = (
    "import runpy, sys; sys.path.append(sys.argv.pop(1)); "
    "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)"
)


def package_root() -> Path:
    """The folder that holds the ``coda_jupyter`` package in use."""
    return Path(__file__).resolve().parents[2]


def isolated_module_argv(module: str, python: str | None = None) -> list[str]:
    """argv that runs ``python -m module`` isolated; append the module's own arguments."""
    return [python or sys.executable, "-I", "-c", _BOOT, str(package_root()), module]
