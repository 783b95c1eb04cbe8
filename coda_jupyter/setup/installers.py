"""Installing what the catalogue declares (``agents/install.py``), under the user's home.

Each install leaves the server's own environment alone, proves the CLI runs
(``--version``) and records that proof in a marker file, so a restart with
the pinned version present finishes without the network.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..agents.install import Install, NpmInstall, PypiVenvInstall
from ..util.files import atomic_write_json, read_json
from ..util.places import home_data_dir
from .node_range import parse_version, satisfies
from .step import StepContext, StepError, run


@dataclass(frozen=True)
class InstallSettings:
    """Where installs go and which registries/caches they use."""

    home: Path
    npm: str = "npm"
    node: str = "node"
    # Interpreter the Hermes venv is built from (the server's own by default).
    python: str = sys.executable
    npm_cache: Path | None = None
    npm_registry: str | None = None
    pip_cache: Path | None = None
    pip_index_url: str | None = None
    verify_timeout: float = 60.0

    @property
    def prefix(self) -> Path:
        return self.home / ".local"

    @property
    def bin_dir(self) -> Path:
        return self.prefix / "bin"

    @property
    def data_dir(self) -> Path:
        return home_data_dir(self.home)

    @property
    def venv_root(self) -> Path:
        return self.data_dir / "venvs"

    def marker(self, name: str) -> Path:
        return self.data_dir / "installed" / f"{name}.json"

    def env(self, base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        path = [str(self.bin_dir), *[p for p in env.get("PATH", os.defpath).split(os.pathsep) if p]]
        env.update(
            HOME=str(self.home),
            PATH=os.pathsep.join(dict.fromkeys(path)),
            npm_config_update_notifier="false",
            npm_config_fund="false",
            npm_config_audit="false",
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            NO_COLOR="1",
        )
        return env


@dataclass(frozen=True)
class InstallTarget:
    """The agent an install step is for."""

    agent_id: str
    executable: str


async def ensure(install: Install, ctx: StepContext, target: InstallTarget, settings: InstallSettings) -> str:
    """Install ``install`` for ``target`` unless the pinned version is present and proven."""
    if isinstance(install, NpmInstall):
        return await _ensure_npm(install, ctx, target, settings)
    return await _ensure_pypi(install, ctx, target, settings)


def npm_installed_version(install: NpmInstall, settings: InstallSettings) -> str | None:
    manifest = settings.prefix / "lib" / "node_modules" / install.package / "package.json"
    data = read_json(manifest, None)
    return data.get("version") if isinstance(data, dict) else None


async def _ensure_npm(install: NpmInstall, ctx: StepContext, target: InstallTarget, settings: InstallSettings) -> str:
    env = settings.env(ctx.env)
    executable = settings.bin_dir / target.executable
    marker = _Marker(settings.marker(target.agent_id), install.package, install.version)
    present = npm_installed_version(install, settings)
    if present == install.version and executable.exists() and marker.holds():
        return f"already installed {install.version}"
    if present != install.version:
        await _check_node_engine(install, ctx, settings, env)
        argv = [settings.npm, "install", "-g", "--prefix", str(settings.prefix)]
        argv += _option("--cache", settings.npm_cache) + _option("--registry", settings.npm_registry)
        await run(ctx, [*argv, f"{install.package}@{install.version}"], env=env)
        present = npm_installed_version(install, settings)
        if present != install.version:
            raise StepError(f"npm finished but {install.package} is at {present or 'nothing'}, not {install.version}")
    if not executable.exists():
        raise StepError(f"npm installed {install.package}@{install.version} but {executable} is missing")
    await _verify(ctx, executable, install.version, env, settings.verify_timeout)
    marker.write()
    return f"installed {install.version}"


async def _check_node_engine(
    install: NpmInstall, ctx: StepContext, settings: InstallSettings, env: dict[str, str]
) -> None:
    spec = f"{install.package}@{install.version}"
    argv = [settings.npm, "view", spec, "engines", "--json"]
    argv += _option("--cache", settings.npm_cache) + _option("--registry", settings.npm_registry)
    output = await run(ctx, argv, env=env)
    node_range = _engines_node(output)
    if node_range is None:
        return
    node_text = (await run(ctx, [settings.node, "--version"], env=env)).strip()
    if not satisfies(parse_version(node_text), node_range):
        raise StepError(
            f"{spec} needs node {node_range} but this machine has node {node_text}; "
            f"pin an older {install.package} or upgrade node"
        )


def venv_of(target: InstallTarget, settings: InstallSettings) -> Path:
    return settings.venv_root / target.agent_id


def pypi_installed_version(install: PypiVenvInstall, venv: Path) -> str | None:
    wanted = _normalize(install.package)
    for site in sorted(venv.glob("lib/python*/site-packages")):
        for dist in metadata.distributions(path=[str(site)]):
            if _normalize(dist.metadata["Name"] or "") == wanted:
                return dist.version
    return None


def missing_extras(install: PypiVenvInstall, venv: Path) -> list[str]:
    """Requirements of the declared extras that the venv lacks (an install made before they were asked for)."""
    # Imported here: only this check needs it, and server start-up should not pay for it.
    from packaging.requirements import Requirement

    missing: list[str] = []
    if not install.extras:
        return missing
    for site in sorted(venv.glob("lib/python*/site-packages")):
        dists = {_normalize(d.metadata["Name"] or ""): d for d in metadata.distributions(path=[str(site)])}
        ours = dists.get(_normalize(install.package))
        for line in (ours.requires or []) if ours is not None else []:
            requirement = Requirement(line)
            marker = requirement.marker
            # Only what an extra adds: a base dependency holds without any extra too.
            wanted = (
                marker is not None
                and not marker.evaluate({"extra": ""})
                and any(marker.evaluate({"extra": extra}) for extra in install.extras)
            )
            if wanted and _normalize(requirement.name) not in dists:
                missing.append(requirement.name)
    return missing


async def _ensure_pypi(
    install: PypiVenvInstall, ctx: StepContext, target: InstallTarget, settings: InstallSettings
) -> str:
    env = settings.env(ctx.env)
    venv = venv_of(target, settings)
    names = (target.executable, *install.extra_links)
    links = {settings.bin_dir / name: venv / "bin" / name for name in names}
    # The marker names the extras too: an install without them is not this one.
    marker = _Marker(settings.marker(target.agent_id), install.requirement, install.version)
    present = pypi_installed_version(install, venv)
    linked = all(link.is_symlink() and link.resolve() == dest.resolve() for link, dest in links.items())
    if present == install.version and linked and marker.holds():
        return f"already installed {install.version}"
    if present != install.version or missing_extras(install, venv):
        python = venv / "bin" / "python"
        if not python.exists():
            await run(ctx, [settings.python, "-m", "venv", "--clear", str(venv)], env=env)
        argv = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
        argv += _option("--cache-dir", settings.pip_cache) + _option("--index-url", settings.pip_index_url)
        await run(ctx, [*argv, f"{install.requirement}=={install.version}"], env=env)
        present = pypi_installed_version(install, venv)
        if present != install.version:
            raise StepError(f"pip finished but {install.package} is at {present or 'nothing'}, not {install.version}")
    for link, dest in links.items():
        if not dest.exists():
            raise StepError(f"{install.package} {install.version} has no {dest.name} script in {venv}")
        _symlink(link, dest)
    await _verify(ctx, settings.bin_dir / target.executable, install.version, env, settings.verify_timeout)
    marker.write()
    return f"installed {install.version}"


@dataclass(frozen=True)
class _Marker:
    """Proof that a pinned version was installed and answered ``--version``."""

    path: Path
    package: str
    version: str

    def holds(self) -> bool:
        data = read_json(self.path, None)
        return isinstance(data, dict) and data.get("package") == self.package and data.get("version") == self.version

    def write(self) -> None:
        atomic_write_json(
            self.path, {"package": self.package, "version": self.version, "verified_at": time.time()}, mode=0o644
        )


async def _verify(ctx: StepContext, executable: Path, version: str, env: dict[str, str], timeout: float) -> None:
    """npm 11 may skip install scripts and still exit 0: only a working CLI counts."""
    try:
        output = await asyncio.wait_for(run(ctx, [str(executable), "--version"], env=env), timeout)
    except asyncio.TimeoutError:
        raise StepError(f"{executable.name} --version did not answer within {timeout:g}s") from None
    if version not in output:
        raise StepError(f"{executable.name} --version printed {output.strip()[:200]!r}, expected {version}")


def _engines_node(npm_view_output: str) -> str | None:
    start, end = npm_view_output.find("{"), npm_view_output.rfind("}")
    if start < 0 or end < start:
        return None
    try:
        engines = json.loads(npm_view_output[start : end + 1])
    except ValueError:
        return None
    node = engines.get("node") if isinstance(engines, dict) else None
    return node if isinstance(node, str) and node.strip() else None


def _option(flag: str, value: object | None) -> list[str]:
    return [] if value is None else [flag, str(value)]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _symlink(link: Path, dest: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    temp = link.with_name(f".{link.name}.coda-tmp")
    temp.unlink(missing_ok=True)
    temp.symlink_to(dest)
    os.replace(temp, link)
