"""A global git post-commit hook that syncs ``~/projects`` repositories.

``core.hooksPath`` (global) points at a folder we own. Git then looks for
*every* hook there and no longer in a repository's ``.git/hooks``, so besides
``post-commit`` the folder holds a small forwarder per hook that runs the
repository's own hook when it has one: a project's pre-commit checks keep
working. Hooks whose mere presence changes git's behaviour
(``push-to-checkout``, ``proc-receive``, ``fsmonitor-watchman``, ``p4-*``) get
no forwarder. A repository with its own local ``core.hooksPath`` (husky and
friends) overrides ours and is not synced after commits; ``coda-sync`` still
works there.

The git identity (user.name / user.email from ``current_user.me()``) is set
by the shared config writer ``coda_jupyter.agents.writers.git``; this module
only adds the hook.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..agents.writers.context import ConfigContext, ConfigWriter
from ..agents.writers.git import current
from ..util.files import atomic_write
from ..util.isolated import isolated_module_argv
from .workspace import SyncPaths, default_state_dir, projects_dir

GIT_TIMEOUT_S = 10
MARKER = "installed by coda-jupyter"

FORWARDED_HOOKS: tuple[str, ...] = (
    "applypatch-msg",
    "pre-applypatch",
    "post-applypatch",
    "pre-commit",
    "pre-merge-commit",
    "prepare-commit-msg",
    "commit-msg",
    "pre-rebase",
    "post-checkout",
    "post-merge",
    "pre-push",
    "pre-receive",
    "update",
    "reference-transaction",
    "post-receive",
    "post-update",
    "pre-auto-gc",
    "post-rewrite",
    "sendemail-validate",
    "post-index-change",
)

_FORWARDER = f"""#!/bin/sh
# {MARKER}: git's global core.hooksPath points here, so run the
# repository's own hook of the same name, if it has one.
own="$(git rev-parse --git-common-dir 2>/dev/null)/hooks/$(basename "$0")"
if [ -x "$own" ]; then
  exec "$own" "$@"
fi
exit 0
"""


def hooks_dir(home: Path | None = None) -> Path:
    return (home or Path.home()) / ".config" / "coda-jupyter" / "git-hooks"


# Forks a child that leaves the process group with setsid(), and returns only
# once it has: a caller that kills its whole group right after the commit
# (some agents do) can then no longer reach the sync. ``setsid cmd &`` from
# the shell races exactly there, and util-linux ``setsid -f`` returns before
# its child has called setsid().
#
# Git runs hooks from the repository's top folder, and that repository may
# hold anything, a ``coda_jupyter/`` folder included. So the detached child
# execs the sync from ``/``, in isolated mode (``util.isolated``), with the
# command line it is given.
_DETACH = """import os, sys
command = sys.argv[1:]
r, w = os.pipe()
if os.fork():
    os.close(w)
    os.read(r, 1)
    sys.exit(0)
os.close(r)
os.setsid()
os.close(w)
os.chdir("/")
os.execv(command[0], command)
"""


def post_commit_script(python: str, home: Path | None = None, state_dir: Path | None = None) -> str:
    """The post-commit hook: the repository's own hook, then a detached sync.

    Nothing in it can fail the commit, which is already made when
    post-commit runs; the sync's own failures go to the log and status file.
    """
    root = projects_dir(home)
    patterns = {shlex.quote(str(root)) + "/*", shlex.quote(str(root.resolve())) + "/*"}
    paths = SyncPaths.default(state_dir if state_dir is not None else default_state_dir(home))
    log = shlex.quote(str(paths.log_file))
    # The detached child's command: "$python" (expanded by the shell) and the rest.
    sync = shlex.join(isolated_module_argv("coda_jupyter.sync.cli")[1:])
    detach = f'{shlex.quote(_DETACH)} "$python" {sync}'
    return f"""#!/bin/sh
# {MARKER}: sync repositories under {root} to the Databricks
# workspace after each commit. Nothing here can fail the commit.
own="$(git rev-parse --git-common-dir 2>/dev/null)/hooks/post-commit"
if [ -x "$own" ]; then
  "$own" "$@" || true
fi
top=$(git rev-parse --show-toplevel 2>/dev/null) || exit 0
case "$top" in
  {" | ".join(sorted(patterns))}) ;;
  *) exit 0 ;;
esac
python={shlex.quote(python)}
if [ ! -x "$python" ]; then
  echo "$(date '+%Y-%m-%d %H:%M:%S') post-commit: $python is missing; run coda-sync by hand" >>{log} 2>/dev/null
  exit 0
fi
"$python" -I -S -c {detach} --hook --state-dir {shlex.quote(str(paths.state_dir))} "$top" \\
  </dev/null >/dev/null 2>>{log} || true
exit 0
"""


@dataclass(frozen=True)
class HookInstall:
    hooks_dir: Path
    installed: bool
    # Files written this time (empty when everything was already current).
    changed: tuple[Path, ...]
    message: str


def _git_config(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Same rules as the identity writer: the global config of ``home``.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "XDG_CONFIG_HOME"}
    env["HOME"] = str(home)
    return subprocess.run(
        ["git", "config", "--global", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
    )


def install_hooks(
    home: Path | None = None,
    *,
    python: str = sys.executable,
    state_dir: Path | None = None,
    force: bool = False,
) -> HookInstall:
    """Write the hooks folder and point the global ``core.hooksPath`` at it.

    Idempotent. A global ``core.hooksPath`` the user set to another folder
    is left alone (``installed=False``) unless ``force``.
    """
    home = Path(home) if home is not None else Path.home()
    target = hooks_dir(home)
    existing = current(ConfigContext(home=home), "core.hooksPath")
    if existing and Path(existing).expanduser() != target and not force:
        return HookInstall(
            target,
            False,
            (),
            f"git core.hooksPath is already {existing}; left alone, so commits are not synced "
            "automatically (run coda-sync by hand)",
        )
    wanted = {name: _FORWARDER for name in FORWARDED_HOOKS}
    wanted["post-commit"] = post_commit_script(python, home, state_dir)
    changed: list[Path] = []
    for name, text in wanted.items():
        path = target / name
        try:
            same = path.read_text(encoding="utf-8") == text and path.stat().st_mode & 0o111
        except OSError:
            same = False
        if not same:
            atomic_write(path, text, mode=0o755)
            changed.append(path)
    SyncPaths.default(state_dir if state_dir is not None else default_state_dir(home)).state_dir.mkdir(
        parents=True, exist_ok=True
    )
    if existing is None or Path(existing).expanduser() != target:
        result = _git_config(home, "core.hooksPath", str(target))
        if result.returncode != 0:
            raise RuntimeError(f"git config --global core.hooksPath failed: {result.stderr.strip()}")
        changed.append(home / ".gitconfig")
    return HookInstall(target, True, tuple(changed), f"post-commit sync hook installed in {target}")


def _write(ctx: ConfigContext) -> list[Path]:
    return list(install_hooks(ctx.home).changed)


def _no_token(ctx: ConfigContext) -> list[Path]:
    return []


# For the setup engine's shared writers, next to ``writers.git.WRITER``.
WRITER = ConfigWriter("git-sync-hook", _write, _no_token)
