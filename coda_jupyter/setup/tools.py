"""Terminal tools from GitHub release downloads: micro, gh and the Databricks CLI.

A tool already on the system PATH wins; otherwise the pinned release is
fetched from ``base_url`` (GitHub by default, any mirror with the same
``/<owner>/<repo>/releases/download/v<version>/<asset>`` layout works),
checked against the release's checksum file when it publishes one, and
installed into ``~/.local/bin``.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ..util.files import atomic_write_json, read_json
from .step import StepContext, StepError, run

DEFAULT_BASE_URL = "https://github.com"


@dataclass(frozen=True)
class ToolSettings:
    home: Path
    base_url: str = DEFAULT_BASE_URL
    # PATH searched for a system install; ``~/.local/bin`` is never counted as "system".
    system_path: str | None = None
    python: str = sys.executable
    download_timeout: float = 120.0

    @property
    def bin_dir(self) -> Path:
        return self.home / ".local" / "bin"

    def marker(self, tool_id: str) -> Path:
        return self.home / ".local" / "share" / "coda-jupyter" / "installed" / f"tool-{tool_id}.json"

    def find_system(self, executable: str) -> str | None:
        path = os.environ.get("PATH", "") if self.system_path is None else self.system_path
        ours = str(self.bin_dir)
        entries = [p for p in path.split(os.pathsep) if p and os.path.realpath(p) != os.path.realpath(ours)]
        return shutil.which(executable, path=os.pathsep.join(entries))


@dataclass(frozen=True)
class ReleaseTool:
    """A single-binary tool published as GitHub release archives.

    ``asset``, ``member`` and ``checksums`` are templates over ``{version}``
    and ``{platform}`` (the release's own name for the OS/arch pair).
    """

    id: str
    label: str
    executable: str
    version: str
    repo: str
    asset: str
    member: str
    platforms: Mapping[str, str]
    checksums: str | None = None
    version_args: tuple[str, ...] = ("--version",)

    def with_version(self, version: str) -> ReleaseTool:
        return replace(self, version=version)

    def _names(self) -> dict[str, str]:
        key = platform_key()
        if key not in self.platforms:
            raise StepError(f"no {self.label} release for {key} (supported: {', '.join(sorted(self.platforms))})")
        return {"version": self.version, "platform": self.platforms[key]}

    def url(self, base_url: str, name: str) -> str:
        return f"{base_url.rstrip('/')}/{self.repo}/releases/download/v{self.version}/{name}"

    async def ensure(self, ctx: StepContext, settings: ToolSettings) -> str:
        target = settings.bin_dir / self.executable
        marker = settings.marker(self.id)
        recorded = read_json(marker, None)
        if target.exists() and isinstance(recorded, dict) and recorded.get("version") == self.version:
            return f"already installed {self.version}"
        system = settings.find_system(self.executable)
        if system is not None:
            return f"using system {system}"
        names = self._names()
        asset = self.asset.format(**names)
        expected = await self._expected_sha256(ctx, settings, asset, names)
        argv = [settings.python, "-m", "coda_jupyter.setup.fetch", self.url(settings.base_url, asset)]
        argv += ["--out", str(target), "--member", self.member.format(**names), "--mode", "755"]
        argv += ["--timeout", str(settings.download_timeout)] + (["--sha256", expected] if expected else [])
        await _fetch(ctx, argv)
        output = await run(ctx, [str(target), *self.version_args])
        if self.version not in output:
            raise StepError(f"{target.name} {' '.join(self.version_args)} printed {output.strip()[:200]!r}, expected {self.version}")
        atomic_write_json(marker, {"version": self.version, "asset": asset, "installed_at": time.time()}, mode=0o644)
        return f"installed {self.version}"

    async def _expected_sha256(
        self, ctx: StepContext, settings: ToolSettings, asset: str, names: dict[str, str]
    ) -> str | None:
        if self.checksums is None:
            return None
        name = self.checksums.format(**names)
        downloads = settings.home / ".cache" / "coda-jupyter" / "downloads"
        sums = downloads / f"{self.id}-{self.version}-{name}"
        argv = [settings.python, "-m", "coda_jupyter.setup.fetch", self.url(settings.base_url, name)]
        await _fetch(ctx, [*argv, "--out", str(sums), "--timeout", str(settings.download_timeout)])
        digest = checksum_for(sums.read_text(encoding="utf-8", errors="replace"), asset)
        if digest is None:
            raise StepError(f"{name} lists no checksum for {asset}")
        return digest


def checksum_for(text: str, asset: str) -> str | None:
    """The sha256 for ``asset`` in a ``sha256sum``-style file (or a bare one-hash file)."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    for parts in lines:
        if len(parts) >= 2 and parts[-1].lstrip("*") == asset and len(parts[0]) == 64:
            return parts[0].lower()
    if len(lines) == 1 and len(lines[0]) == 1 and len(lines[0][0]) == 64:
        return lines[0][0].lower()
    return None


async def _fetch(ctx: StepContext, argv: list[str]) -> None:
    try:
        await run(ctx, argv, env={**ctx.env, "PYTHONPATH": _package_root()})
    except StepError as exc:
        # The fetch helper's last line is the user-facing reason; drop the
        # "python exited with status 1" framing around it.
        lines = [line for line in exc.output.splitlines() if line.strip()]
        raise StepError(lines[-1] if lines else str(exc)) from None


def _package_root() -> str:
    """Make ``python -m coda_jupyter.setup.fetch`` importable even from a source checkout."""
    root = str(Path(__file__).resolve().parents[2])
    existing = os.environ.get("PYTHONPATH")
    return root if not existing else os.pathsep.join([root, existing])


def platform_key() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{sys.platform}-{arch}"


MICRO = ReleaseTool(
    id="micro",
    label="micro editor",
    executable="micro",
    version="2.0.14",
    repo="zyedidia/micro",
    asset="micro-{version}-{platform}.tar.gz",
    member="micro",
    platforms={"linux-amd64": "linux64", "linux-arm64": "linux-arm64", "darwin-arm64": "macos-arm64", "darwin-amd64": "osx"},
)

GH = ReleaseTool(
    id="gh",
    label="GitHub CLI",
    executable="gh",
    version="2.62.0",
    repo="cli/cli",
    asset="gh_{version}_{platform}.tar.gz",
    member="bin/gh",
    platforms={"linux-amd64": "linux_amd64", "linux-arm64": "linux_arm64"},
    checksums="gh_{version}_checksums.txt",
)

DATABRICKS = ReleaseTool(
    id="databricks",
    label="Databricks CLI",
    executable="databricks",
    version="0.286.0",
    repo="databricks/cli",
    asset="databricks_cli_{version}_{platform}.tar.gz",
    member="databricks",
    platforms={
        "linux-amd64": "linux_amd64",
        "linux-arm64": "linux_arm64",
        "darwin-amd64": "darwin_amd64",
        "darwin-arm64": "darwin_arm64",
    },
    checksums="databricks_cli_{version}_SHA256SUMS",
)

DEFAULT_TOOLS: tuple[ReleaseTool, ...] = (MICRO, GH, DATABRICKS)
