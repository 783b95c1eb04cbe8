"""Extra skill packs (``SetupService.skill_sources``), installed pinned during setup.

A source is one of::

    {"git": "<url>", "commit": "<full commit id>"}
    {"pip": "<name>==<version>", "index_url": "<simple index>"}   # index_url optional
    {"npm": "<name>@<version>", "registry": "<registry url>"}     # registry optional

Anything that can move (a branch, a tag, a version range, ``latest``) is
refused: the step fails with the reason in the setup status.

Nothing from a pack is executed: git only checks files out, pip only
downloads a wheel (``--only-binary``, unpacked here), npm only packs the
tarball (``--ignore-scripts``, unpacked here). Every folder with a
``SKILL.md`` is copied to ``<data dir>/skill-packs/<key>/skills/<name>``, and
the skills writer shares those folders with every agent exactly like the
shipped skills.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from ..agents.writers import skills as skills_writer
from ..agents.writers.context import ConfigContext
from ..util.files import atomic_write_json, read_json
from .configure import ContextFactory
from .step import Step, StepContext, StepError, run

KINDS = ("git", "pip", "npm")
_OPTIONAL = {"git": {"commit"}, "pip": {"index_url"}, "npm": {"registry"}}
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_PIP = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==([0-9A-Za-z][0-9A-Za-z.+!_-]*)$")
_SEMVER = r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
_NPM = re.compile(rf"^((?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*)@({_SEMVER})$")
_SKILL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SKIPPED_DIRS = {".git", "node_modules", "__pycache__"}
MARKER = ".coda-skill-pack.json"
GIT_TIMEOUT = 300.0


@dataclass(frozen=True)
class SkillSource:
    kind: str
    # The git URL, or the package name.
    name: str
    # The commit or the exact version.
    pin: str
    # pip's index URL or npm's registry; None: the tool's own default.
    index: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "git":
            return f"{self.name} at {self.pin[:12]}"
        return f"{self.name} {self.pin}"

    @property
    def key(self) -> str:
        """A folder name unique to what is installed (a new pin installs anew)."""
        identity = json.dumps([self.kind, self.name, self.pin, self.index])
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.name.rstrip("/").rsplit("/", 1)[-1]).strip("-")[:40]
        return f"{self.kind}-{slug or 'pack'}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "pin": self.pin, "index": self.index}


def parse_source(entry: Mapping[str, Any]) -> SkillSource:
    """A pinned source, or ``ValueError`` saying what is wrong with ``entry``."""
    kinds = [kind for kind in KINDS if kind in entry]
    if len(kinds) != 1:
        raise ValueError(f"skill source {_show(entry)}: give exactly one of 'git', 'pip' or 'npm'")
    kind = kinds[0]
    unknown = set(entry) - {kind} - _OPTIONAL[kind]
    if unknown:
        raise ValueError(f"skill source {_show(entry)}: unknown field(s) {sorted(unknown)}")
    value = entry[kind]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"skill source {_show(entry)}: '{kind}' must be a non-empty string")
    value = value.strip()
    if kind == "git":
        commit = str(entry.get("commit") or "").strip().lower()
        if not commit:
            raise ValueError(f"skill source {_show(entry)}: not pinned; add 'commit' with the full commit id")
        if not _COMMIT.match(commit):
            raise ValueError(
                f"skill source {_show(entry)}: not pinned; 'commit' must be the full commit id "
                "(40 hex digits), not a branch, tag or short id"
            )
        return SkillSource("git", value, commit)
    if kind == "pip":
        match = _PIP.match(value)
        if not match or "*" in value:
            raise ValueError(f"skill source {_show(entry)}: not pinned; write the package as name==version")
        return SkillSource("pip", match.group(1), match.group(2), _index(entry, "index_url"))
    match = _NPM.match(value)
    if not match:
        raise ValueError(
            f"skill source {_show(entry)}: not pinned; write the package as name@version with an exact version"
        )
    return SkillSource("npm", match.group(1), match.group(2), _index(entry, "registry"))


def _index(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"skill source {_show(entry)}: '{key}' must be a URL string")
    return value or None


def _show(entry: Mapping[str, Any]) -> str:
    return json.dumps(dict(entry), sort_keys=True, default=str)


# ------------------------------------------------------------------ where packs live


def packs_dir(ctx: ConfigContext) -> Path:
    return ctx.resolved_data_dir / "skill-packs"


def pack_skills_dir(ctx: ConfigContext, source: SkillSource) -> Path:
    return packs_dir(ctx) / source.key / "skills"


def with_skill_packs(context: ContextFactory, entries: Iterable[Mapping[str, Any]]) -> ContextFactory:
    """``context`` with the skill folders of the configured (valid) packs added."""
    sources = []
    for entry in entries:
        try:
            sources.append(parse_source(entry))
        except ValueError:
            continue  # its own step reports it
    if not sources:
        return context

    def build() -> ConfigContext:
        ctx = context()
        dirs = tuple(pack_skills_dir(ctx, source) for source in sources)
        return replace(ctx, skill_pack_dirs=(*ctx.skill_pack_dirs, *dirs))

    return build


def skill_pack_steps(entries: Iterable[Mapping[str, Any]], context: ContextFactory) -> list[Step]:
    """One step per configured source; a source that is not pinned gets a step that fails saying so."""
    steps = []
    for number, entry in enumerate(entries, start=1):
        step_id = f"skill-pack-{number}"
        try:
            source = parse_source(entry)
        except ValueError as exc:
            steps.append(Step(step_id, f"Skill pack {_show(entry)}", partial(_refuse, str(exc))))
            continue
        steps.append(
            Step(step_id, f"Installing skill pack {source.label}", partial(_install, source, context), timeout=600.0)
        )
    return steps


async def _refuse(reason: str, ctx: StepContext) -> str:
    raise StepError(reason)


async def _install(source: SkillSource, context: ContextFactory, step: StepContext) -> str:
    ctx = context()
    home = packs_dir(ctx) / source.key
    if read_json(home / MARKER) == source.record():
        outcome = "already installed"
    else:
        names = await _fetch_into(source, home, step)
        outcome = f"installed {len(names)} skill(s): {', '.join(names)}"
    if ctx.overlay_home is not None:
        # Locally HOME is the user's: the next overlay build links the pack.
        return outcome
    # Shared at once, like the shipped skills (the skills writer keeps one
    # manifest, so packs removed from the configuration are unlinked too).
    paths = await asyncio.to_thread(skills_writer.write, ctx)
    step.log(f"skills: {len(paths)} link(s) changed")
    return outcome


async def _fetch_into(source: SkillSource, home: Path, step: StepContext) -> list[str]:
    home.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{source.key}.", dir=home.parent) as work_name:
        work = Path(work_name)
        content = work / "content"
        content.mkdir()
        if source.kind == "git":
            await _git(source, content, step)
        elif source.kind == "pip":
            await _pip(source, work, content, step)
        else:
            await _npm(source, work, content, step)
        return await asyncio.to_thread(_stage, source, work, content, home)


def _stage(source: SkillSource, work: Path, content: Path, home: Path) -> list[str]:
    found = find_skills(content)
    if not found:
        raise StepError(f"no SKILL.md found in {source.label}: a pack holds folders with a SKILL.md each")
    staged = work / "pack"
    for name, folder in found.items():
        shutil.copytree(folder, staged / "skills" / name, ignore=_links)
    atomic_write_json(staged / MARKER, source.record(), mode=0o644)
    # Swap the whole folder by renames, so agents never see half a pack.
    if home.exists():
        home.rename(work / "old")
    staged.rename(home)
    return sorted(found)


def _links(folder: str, names: list[str]) -> set[str]:
    """Symlinks in a pack could point anywhere on this machine: they are not copied."""
    return {name for name in names if os.path.islink(os.path.join(folder, name))}


def find_skills(root: Path) -> dict[str, Path]:
    """Every folder under ``root`` holding a SKILL.md, by skill name."""
    found: dict[str, Path] = {}
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.endswith(".dist-info"))
        if "SKILL.md" not in files:
            continue
        folder = Path(current)
        name = folder.name if folder != root else _front_matter_name(folder / "SKILL.md")
        if not name or not _SKILL_NAME.match(name):
            raise StepError(f"skill at {folder.relative_to(root)}: cannot use {name!r} as a skill name")
        if name in found:
            first, second = found[name].relative_to(root), folder.relative_to(root)
            raise StepError(f"two skills named {name!r} in one pack: {first} and {second}")
        found[name] = folder
    return found


def _front_matter_name(path: Path) -> str | None:
    """A pack that is one skill at its top level is named by its front matter."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return None
    head = text[3:].split("\n---", 1)[0]
    try:
        data = yaml.safe_load(head)
    except yaml.YAMLError:
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


# ------------------------------------------------------------------ fetchers


def _quiet_git(env: Mapping[str, str]) -> dict[str, str]:
    # Never wait for a password on a terminal nobody sees.
    return {**env, "GIT_TERMINAL_PROMPT": "0"}


async def _git(source: SkillSource, content: Path, step: StepContext) -> None:
    env = _quiet_git(step.env)
    # No hooks (the user's global hooksPath included) and no submodules run here.
    git = ["git", "-c", "core.hooksPath=/dev/null", "-C", str(content)]
    await run(step, ["git", "init", "-q", str(content)], env=env)
    try:
        await run(step, [*git, "fetch", "-q", "--depth", "1", "--no-tags", source.name, source.pin], env=env)
    except StepError:
        # Servers that refuse fetching a commit by id: fetch everything, then pick it.
        step.log("# fetching the commit by id failed; fetching all branches")
        await run(step, [*git, "fetch", "-q", "--no-tags", source.name, "+refs/heads/*:refs/remotes/pack/*"], env=env)
    await run(step, [*git, "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", source.pin], env=env)
    head = (await run(step, [*git, "rev-parse", "HEAD"], env=env)).strip().splitlines()[-1]
    if head != source.pin:
        raise StepError(f"{source.name}: checked out {head}, not the pinned {source.pin}")


async def _pip(source: SkillSource, work: Path, content: Path, step: StepContext) -> None:
    download = work / "download"
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check"]
    argv += ["--no-input", "--dest", str(download)]
    if source.index:
        argv += ["--index-url", source.index]
    await run(step, [*argv, f"{source.name}=={source.pin}"])
    await asyncio.to_thread(_unpack_wheel, source, download, content)


def _unpack_wheel(source: SkillSource, download: Path, content: Path) -> None:
    wheels = sorted(download.glob("*.whl"))
    if len(wheels) != 1:
        raise StepError(f"pip download of {source.label} left {len(wheels)} wheel(s), expected one")
    with zipfile.ZipFile(wheels[0]) as archive:
        for member in archive.infolist():
            _check_member(member.filename, source)
        archive.extractall(content)  # every member checked above


async def _npm(source: SkillSource, work: Path, content: Path, step: StepContext) -> None:
    download = work / "download"
    download.mkdir()
    argv = ["npm", "pack", f"{source.name}@{source.pin}", "--ignore-scripts", "--pack-destination", str(download)]
    if source.index:
        argv += ["--registry", source.index]
    await run(step, argv, cwd=work)
    await asyncio.to_thread(_unpack_tarball, source, download, content)


def _unpack_tarball(source: SkillSource, download: Path, content: Path) -> None:
    import tarfile  # only npm-packed skills need it, and never at server start-up

    tarballs = sorted(download.glob("*.tgz"))
    if len(tarballs) != 1:
        raise StepError(f"npm pack of {source.label} left {len(tarballs)} tarball(s), expected one")
    with tarfile.open(tarballs[0], "r:gz") as archive:
        members = []
        for member in archive.getmembers():
            _check_member(member.name, source)
            # Files and folders only: links and devices have no place in a skill.
            if member.isfile() or member.isdir():
                members.append(member)
        # Every member was checked above; the data filter checks again where Python has it.
        if hasattr(tarfile, "data_filter"):
            archive.extractall(content, members=members, filter="data")
        else:
            archive.extractall(content, members=members)  # noqa: S202


def _check_member(name: str, source: SkillSource) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise StepError(f"{source.label}: the archive holds an unsafe path {name!r}")
