"""coda-jupyter: JupyterLab as the home for coding agents."""

from __future__ import annotations

from .version import __version__

__all__ = ["__version__"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "coda-jupyter"}]


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from .app import CodaApp

    return [{"module": "coda_jupyter", "app": CodaApp}]
