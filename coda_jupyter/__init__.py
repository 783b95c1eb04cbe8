"""coda-jupyter: JupyterLab as the home for coding agents."""

from __future__ import annotations

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "0.0.0.dev0"

__all__ = ["__version__"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "coda-jupyter"}]


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from .app import CodaApp

    return [{"module": "coda_jupyter", "app": CodaApp}]
