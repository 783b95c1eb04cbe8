"""Terminal tools from GitHub release downloads: micro, gh and the Databricks CLI.

A tool already on the system PATH wins, unless the tool declares how to read
its version and the system one is older than the pinned one (the Databricks
CLI: images ship old ones); otherwise the pinned release is
fetched from ``base_url`` (GitHub by default, any mirror with the same
``/<owner>/<repo>/releases/download/v<version>/<asset>`` layout works),
checked against a SHA-256 that comes from this code or from the server's
configuration, never from the mirror, and installed into ``~/.local/bin``.
A mirror therefore decides where a file comes from, never which file it is.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import shutil
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..util.files import atomic_write_json, read_json
from ..util.isolated import isolated_module_argv
from ..util.places import home_data_dir
from .step import StepContext, StepError, run

DEFAULT_BASE_URL = "https://github.com"
CHECKSUMS_SETTING = "SetupService.tool_checksums"
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_RELEASE_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")
# A system CLI that does not answer ``--version`` in this time is treated as
# one whose version is unknown.
SYSTEM_VERSION_TIMEOUT = 30.0


@dataclass(frozen=True)
class ToolSettings:
    home: Path
    base_url: str = DEFAULT_BASE_URL
    # ``{tool id: {platform key: sha256}}`` for the version being installed:
    # what makes an overridden version (or an unpinned platform) installable.
    checksums: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # PATH searched for a system install; ``~/.local/bin`` is never counted as "system".
    system_path: str | None = None
    python: str = sys.executable
    download_timeout: float = 120.0

    @property
    def bin_dir(self) -> Path:
        return self.home / ".local" / "bin"

    def marker(self, tool_id: str) -> Path:
        return home_data_dir(self.home) / "installed" / f"tool-{tool_id}.json"

    def find_system(self, executable: str) -> str | None:
        path = os.environ.get("PATH", "") if self.system_path is None else self.system_path
        ours = str(self.bin_dir)
        entries = [p for p in path.split(os.pathsep) if p and os.path.realpath(p) != os.path.realpath(ours)]
        return shutil.which(executable, path=os.pathsep.join(entries))


@dataclass(frozen=True)
class ReleaseTool:
    """A single-binary tool published as GitHub release archives.

    ``asset`` and ``member`` are templates over ``{version}`` and
    ``{platform}`` (the release's own name for the OS/arch pair).
    ``sha256`` pins the archive of ``version`` by platform key; a platform
    without a pin installs only with a configured checksum.
    """

    id: str
    label: str
    executable: str
    version: str
    repo: str
    asset: str
    member: str
    platforms: Mapping[str, str]
    sha256: Mapping[str, str] = field(default_factory=dict)
    version_args: tuple[str, ...] = ("--version",)
    # How the tool prints its version (group 1 is ``X.Y.Z``). When set, a
    # system install whose output does not match, or that is older than
    # ``version``, is replaced by the pinned release instead of used.
    system_version_pattern: str | None = None

    def with_version(self, version: str) -> ReleaseTool:
        # The pins belong to the pinned version; another version has none.
        return self if version == self.version else replace(self, version=version, sha256={})

    def _names(self, key: str) -> dict[str, str]:
        if key not in self.platforms:
            raise StepError(f"no {self.label} release for {key} (supported: {', '.join(sorted(self.platforms))})")
        return {"version": self.version, "platform": self.platforms[key]}

    def expected_sha256(self, settings: ToolSettings, key: str, asset: str) -> str:
        """The configured checksum, else the pinned one; never one a mirror serves."""
        digest = settings.checksums.get(self.id, {}).get(key) or self.sha256.get(key)
        if digest is None:
            example = f'{{"{self.id}": {{"{key}": "<sha256 of {asset}>"}}}}'
            raise StepError(
                f"no SHA-256 known for {asset} ({self.label} {self.version} on {key}); "
                f"set {CHECKSUMS_SETTING} = {example} to install it"
            )
        return digest.lower()

    def url(self, base_url: str, name: str) -> str:
        return f"{base_url.rstrip('/')}/{self.repo}/releases/download/v{self.version}/{name}"

    async def ensure(self, ctx: StepContext, settings: ToolSettings) -> str:
        target = settings.bin_dir / self.executable
        marker = settings.marker(self.id)
        recorded = read_json(marker, None)
        if target.exists() and isinstance(recorded, dict) and recorded.get("version") == self.version:
            return f"already installed {self.version}"
        system = settings.find_system(self.executable)
        replacing = None
        if system is not None:
            replacing = await self.outdated_system(ctx, system)
            if replacing is None:
                return f"using system {system}"
            ctx.log(f"replacing {replacing}")
        try:
            installed = await self._install(ctx, settings, target, marker)
        except StepError as exc:
            if replacing is None:
                raise
            raise StepError(f"{exc} (while replacing {replacing})", output=exc.output) from None
        return installed if replacing is None else f"{installed}, replacing {replacing}"

    async def outdated_system(self, ctx: StepContext, system: str) -> str | None:
        """Why the system install at ``system`` must be replaced, or None to use it.

        Without ``system_version_pattern`` any system install is used.
        """
        if self.system_version_pattern is None:
            return None
        try:
            output = await asyncio.wait_for(run(ctx, [system, *self.version_args]), SYSTEM_VERSION_TIMEOUT)
        except (StepError, asyncio.TimeoutError):
            output = ""
        match = re.search(self.system_version_pattern, output)
        found = release_version(match.group(1)) if match else None
        if match is None or found is None:
            # The legacy Python ``databricks-cli`` prints "Version 0.18.0":
            # a different program under the same name.
            said = f"it printed {output.strip().splitlines()[0][:80]!r}" if output.strip() else "it printed nothing"
            return f"system {system}, whose version is unknown ({said})"
        pinned = release_version(self.version)
        if pinned is not None and found < pinned:
            return f"system {system} {match.group(1)}, older than {self.version}"
        return None

    async def _install(self, ctx: StepContext, settings: ToolSettings, target: Path, marker: Path) -> str:
        key = platform_key()
        names = self._names(key)
        asset = self.asset.format(**names)
        expected = self.expected_sha256(settings, key, asset)
        argv = [*isolated_module_argv("coda_jupyter.setup.fetch", settings.python), self.url(settings.base_url, asset)]
        argv += ["--out", str(target), "--member", self.member.format(**names), "--mode", "755"]
        argv += ["--timeout", str(settings.download_timeout), "--sha256", expected]
        await _fetch(ctx, argv)
        output = await run(ctx, [str(target), *self.version_args])
        if self.version not in output:
            command = f"{target.name} {' '.join(self.version_args)}"
            raise StepError(f"{command} printed {output.strip()[:200]!r}, expected {self.version}")
        atomic_write_json(marker, {"version": self.version, "asset": asset, "installed_at": time.time()}, mode=0o644)
        return f"installed {self.version}"


async def _fetch(ctx: StepContext, argv: list[str]) -> None:
    try:
        await run(ctx, argv)
    except StepError as exc:
        # The fetch helper's last line is the user-facing reason; drop the
        # "python exited with status 1" framing around it.
        lines = [line for line in exc.output.splitlines() if line.strip()]
        raise StepError(lines[-1] if lines else str(exc)) from None


def release_version(text: str) -> tuple[int, int, int] | None:
    """``X.Y.Z`` as numbers, so that 0.229.0 < 0.1000.0 < 1.12.1; pre-release tags are ignored."""
    match = _RELEASE_VERSION.search(text)
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def platform_key() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{sys.platform}-{arch}"


def check_checksums(tools: Iterable[ReleaseTool], checksums: Mapping[str, Mapping[str, str]]) -> None:
    """Refuse a checksum setting that could never match, at start rather than at download."""
    known = {tool.id: tool for tool in tools}
    for tool_id, by_platform in checksums.items():
        tool = known.get(tool_id)
        if tool is None:
            raise ValueError(f"{CHECKSUMS_SETTING}: unknown tool {tool_id!r} (known: {', '.join(sorted(known))})")
        for key, digest in by_platform.items():
            if key not in tool.platforms:
                raise ValueError(
                    f"{CHECKSUMS_SETTING}[{tool_id!r}]: unknown platform {key!r} "
                    f"(known: {', '.join(sorted(tool.platforms))})"
                )
            if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
                raise ValueError(f"{CHECKSUMS_SETTING}[{tool_id!r}][{key!r}]: not a hex SHA-256: {digest!r}")


# Pins are per platform key; a platform left out has no hash we could find
# with confidence and installs only with a configured checksum. Each hash was
# taken from public records of the release file, never from a download here.

# micro publishes no checksum file, only per-asset ``.sha`` files next to the
# archives. These hashes are the ones pinned, all agreeing, by independent
# public packaging recipes (Chromebrew's micro package, tool registries and
# install scripts). No record of the macOS archives' hashes was found.
# The release's own archive hashes as pinned by independent public package
# recipes and install manifests (three agree for linux64, four for linux-arm64).
# No public record of the macOS archives' hashes was found: there micro installs
# only with a configured checksum.
MICRO = ReleaseTool(
    id="micro",
    label="micro editor",
    executable="micro",
    version="2.0.15",
    repo="micro-editor/micro",
    asset="micro-{version}-{platform}.tar.gz",
    member="micro",
    platforms={
        "linux-amd64": "linux64",
        "linux-arm64": "linux-arm64",
        "darwin-arm64": "macos-arm64",
        "darwin-amd64": "osx",
    },
    sha256={
        "linux-amd64": "dfa1b6ae53e4e0b063b54224fd2b6b0a3c3159ea09d042a3a8f5cd001844d44c",
        "linux-arm64": "5ca127857bf5500be3879f1a70b27556e737a49da04a1be5334de9e8e8781ad9",
    },
)

# The entries of the release's own gh_2.97.0_checksums.txt as mirrored in
# Hermit's package manifest (cashapp/hermit-packages, gh.hcl), matched by
# independent public Dockerfiles and install scripts pinning the same archives.
GH = ReleaseTool(
    id="gh",
    label="GitHub CLI",
    executable="gh",
    version="2.97.0",
    repo="cli/cli",
    asset="gh_{version}_{platform}.tar.gz",
    member="bin/gh",
    platforms={"linux-amd64": "linux_amd64", "linux-arm64": "linux_arm64"},
    sha256={
        "linux-amd64": "a2c9b8497e1f85b1ad0dfcb78b5a622e098801b8e461e459e88e1ee12f018112",
        "linux-arm64": "73ea440ecad9c9e284429997ee6f93577bc6f7bc6fba357ef62c53ad8fb641a5",
    },
)

# The zip archives' hashes as recorded in Databricks' own Homebrew formula
# (databricks/homebrew-tap, Formula/databricks.rb for 1.12.1), matched by an
# independent public script that pins the same four archives.
DATABRICKS = ReleaseTool(
    id="databricks",
    label="Databricks CLI",
    executable="databricks",
    version="1.12.1",
    repo="databricks/cli",
    asset="databricks_cli_{version}_{platform}.zip",
    member="databricks",
    platforms={
        "linux-amd64": "linux_amd64",
        "linux-arm64": "linux_arm64",
        "darwin-amd64": "darwin_amd64",
        "darwin-arm64": "darwin_arm64",
    },
    sha256={
        "linux-amd64": "60833feee22caa98f575c4948ccbbc9473fda0dd80c9b79544dc7b079f6a9815",
        "linux-arm64": "8c2a3acd5f563fd8e3c9e64ee4566e1ec7cef087934fd4fb099d92b709f7e3a2",
        "darwin-amd64": "5c609f7743941150138d15cc1891a0a32b643eb4b66f46701005026e944b2aad",
        "darwin-arm64": "b43e40d2ea7046866849755747a8cb7b4a322e694c0215e53b481eb842bc908c",
    },
    # The Go CLI prints "Databricks CLI v0.229.0"; the legacy Python
    # databricks-cli answers "Version 0.18.0" and so counts as outdated.
    system_version_pattern=r"Databricks CLI v(\d+\.\d+\.\d+)",
)

DEFAULT_TOOLS: tuple[ReleaseTool, ...] = (MICRO, GH, DATABRICKS)
