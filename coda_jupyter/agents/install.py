"""What an agent installs from: the declarations that hang off ``AgentSpec.install``.

Only data: the package and its pinned version (overridable per agent, see
``setup.plan``). How a declaration is installed, verified and recorded is
the setup concern's (``setup/installers.py``), so the catalogue does not
depend on the machinery that runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class NpmInstall:
    """A CLI from the npm registry, installed with ``npm install -g --prefix ~/.local``."""

    package: str
    version: str

    def with_version(self, version: str) -> NpmInstall:
        return replace(self, version=version)


@dataclass(frozen=True)
class PypiVenvInstall:
    """A CLI from PyPI in its own venv (it may pin dependencies the server cannot share)."""

    package: str
    version: str
    # Extra console scripts to link besides the agent's executable.
    extra_links: tuple[str, ...] = field(default=())
    # Package extras to install with it (optional features such as MCP support).
    extras: tuple[str, ...] = field(default=())

    @property
    def requirement(self) -> str:
        return f"{self.package}[{','.join(self.extras)}]" if self.extras else self.package

    def with_version(self, version: str) -> PypiVenvInstall:
        return replace(self, version=version)


Install = NpmInstall | PypiVenvInstall
