"""The package's version: written into ``_version.py`` by the build, a placeholder in a source tree never built."""

from __future__ import annotations

try:
    from ._version import __version__
except ImportError:
    __version__ = "0.0.0.dev0"

__all__ = ["__version__"]
