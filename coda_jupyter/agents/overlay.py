"""coda's overlay of agent configs: what agents read in Jupyter terminals, locally.

Locally the user's HOME is theirs: an agent they start outside Jupyter must
keep its own settings, never a gateway URL that dies with the server. So
setup builds each agent's config files in a folder coda owns (the overlay)
and every Jupyter terminal names it in the agent's config-home variable
(``AgentSpec.config_home``). A Databricks App, or ``write_user_configs``,
writes HOME as before.

A build starts from an empty folder: the user's files named in ``merged``
are copied in as the base, their login files and skills are linked, coda's
writers merge their keys on top, and the result is put in place file by
file (unchanged files are not rewritten). Nothing is ever written under
HOME: links are only read through, and a file in the overlay that is a link
is replaced, never written through.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import threading
from collections.abc import Collection, Iterable
from dataclasses import replace
from pathlib import Path

from ..util.files import atomic_write
from ..util.places import BOOKKEEPING_DIR
from .spec import AgentSpec
from .writers.context import ConfigContext, ConfigWriter

log = logging.getLogger(__name__)

OVERLAY_NAME = "agent-home"
# Inside the overlay: what the last build put there, so a file it no longer
# makes is removed and nothing an agent wrote at run time is.
PUBLISHED = Path(BOOKKEEPING_DIR) / "published.json"
FOLDER_MODE = 0o700

# Setup runs steps in parallel threads; one build at a time.
_lock = threading.Lock()


def overlay_dir(data_dir: Path) -> Path:
    return data_dir / OVERLAY_NAME


def skill_link_dirs(agents: Iterable[AgentSpec]) -> tuple[str, ...]:
    """Where the shared skills are linked in the overlay: every agent's own folder."""
    folders: dict[str, None] = {}
    for spec in agents:
        if spec.config_home is not None:
            folders.update(dict.fromkeys(spec.config_home.skill_dirs))
    return tuple(folders)


def terminal_variables(agents: Iterable[AgentSpec], overlay: Path) -> dict[str, str]:
    """Each agent's config-home variables, for a terminal's environment.

    Only for folders a build made: Codex refuses to start with a CODEX_HOME
    that does not exist, and before the first build the user's own config is
    the better one to read.
    """
    env: dict[str, str] = {}
    for spec in agents:
        if spec.config_home is None:
            continue
        for name, relative in spec.config_home.variables.items():
            folder = Path(os.path.normpath(overlay / relative))
            if folder.is_dir():
                env[name] = str(folder)
    return env


def build(
    ctx: ConfigContext,
    agents: Iterable[AgentSpec],
    writers: Iterable[ConfigWriter],
    own: Collection[ConfigWriter] = (),
) -> list[Path]:
    """Rebuild ``ctx.overlay_home`` from the user's files and ``writers``; the files that changed.

    A writer that fails (a file of the user's it cannot parse) leaves its
    files out and the others go on; the error is raised, after the build is
    in place, only for a writer in ``own`` (the calling step's), so each
    setup step reports its own agent's problem and no other.
    """
    overlay = ctx.overlay_home
    if overlay is None:
        raise ValueError("no overlay folder in this context")
    agents = list(agents)
    with _lock:
        staging = overlay.parent / f".{overlay.name}.build"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=FOLDER_MODE, parents=True)
        try:
            _seed(staging, ctx.home, agents)
            build_ctx = replace(
                ctx,
                home=staging,
                user_home=ctx.home,
                published_home=overlay,
                overlay_home=None,
                skill_link_dirs=skill_link_dirs(agents),
            )
            failure: Exception | None = None
            for writer in writers:
                try:
                    writer(build_ctx)
                except Exception as exc:
                    log.warning("overlay: %s left out: %s", writer.name, exc)
                    if writer in own and failure is None:
                        failure = exc
            changed = _publish(staging, overlay)
            if failure is not None:
                raise failure
            return changed
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _seed(staging: Path, home: Path, agents: list[AgentSpec]) -> None:
    for spec in agents:
        config = spec.config_home
        if config is None:
            continue
        for relative in config.variables.values():
            (staging / relative).mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        for target, source in config.merged.items():
            _copy(home / source, staging / target)
        for relative in config.linked:
            _link(home / relative, staging / relative)
        for relative in config.linked_entries:
            folder = home / relative
            if not folder.is_dir():
                continue
            for entry in sorted(folder.iterdir()):
                # Dot entries are the CLI's own (Codex installs its system
                # skills in skills/.system at start): linked, the agent
                # would write into HOME.
                if not entry.name.startswith("."):
                    _link(entry, staging / relative / entry.name)


def _copy(source: Path, target: Path) -> None:
    """The user's file as a base: its bytes and mode (read only, through links)."""
    try:
        payload = source.read_bytes()
        mode = stat.S_IMODE(source.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return
    target.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    atomic_write(target, payload, mode=mode)


def _link(source: Path, target: Path) -> None:
    # A login made later outside Jupyter shows at the next build.
    if not os.path.lexists(source) or os.path.lexists(target):
        return
    target.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    target.symlink_to(source)


def _publish(staging: Path, overlay: Path) -> list[Path]:
    overlay.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    os.chmod(overlay, FOLDER_MODE)
    manifest = overlay / PUBLISHED
    previous = set(_read_manifest(manifest))
    current: list[str] = []
    changed: list[Path] = []
    for folder, dirnames, filenames in os.walk(staging):
        relative_folder = Path(folder).relative_to(staging)
        (overlay / relative_folder).mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        for name in sorted(dirnames + filenames):
            source = Path(folder) / name
            relative = relative_folder / name
            target = overlay / relative
            if source.is_symlink():
                current.append(relative.as_posix())
                if _put_link(target, os.readlink(source)):
                    changed.append(target)
            elif source.is_file():
                current.append(relative.as_posix())
                if _put_file(source, target):
                    changed.append(target)
    for stale in sorted(previous - set(current)):
        target = overlay / stale
        if target.is_symlink() or target.is_file():
            target.unlink()
            changed.append(target)
    text = json.dumps(sorted(current), indent=1) + "\n"
    if not manifest.is_file() or manifest.read_text(encoding="utf-8") != text:
        atomic_write(manifest, text, mode=0o600)
    return changed


def _put_file(source: Path, target: Path) -> bool:
    payload = source.read_bytes()
    mode = stat.S_IMODE(source.stat().st_mode)
    if target.is_symlink():
        # Never write through a link: it may lead into HOME.
        target.unlink()
    elif target.is_file() and target.read_bytes() == payload:
        if stat.S_IMODE(target.stat().st_mode) == mode:
            return False
        os.chmod(target, mode)
        return True
    elif target.is_dir():
        log.warning("overlay: %s is a folder an agent made; left as is", target)
        return False
    atomic_write(target, payload, mode=mode)
    return True


def _put_link(target: Path, points_to: str) -> bool:
    if target.is_symlink() and os.readlink(target) == points_to:
        return False
    if target.is_dir() and not target.is_symlink():
        log.warning("overlay: %s is a folder an agent made; left as is", target)
        return False
    temporary = target.with_name(f".{target.name}.link")
    if os.path.lexists(temporary):
        temporary.unlink()
    temporary.symlink_to(points_to)
    # Atomic: an agent starting meanwhile sees the old entry or the new one.
    os.replace(temporary, target)
    return True


def _read_manifest(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return []
    return [str(entry) for entry in data] if isinstance(data, list) else []
