"""The git post-commit hook that syncs ``~/projects`` repositories.

Git looks for hooks in one folder: ``core.hooksPath`` when set, else
``.git/hooks``. Ours (``hooks_dir()``) holds the ``post-commit`` sync hook and
a small forwarder per other hook that runs the repository's own hook of that
name, so a project's pre-commit checks keep working. Hooks whose mere presence
changes git's behaviour (``push-to-checkout``, ``proc-receive``,
``fsmonitor-watchman``, ``p4-*``) get no forwarder.

How git is pointed at the folder depends on who owns HOME:

- In a Databricks App (or locally with ``AgentConfig.write_user_configs``)
  ``install_hooks()`` sets the *global* ``core.hooksPath``: every commit on
  the machine runs our hooks. A repository with its own local
  ``core.hooksPath`` (husky and friends) overrides ours there and is not
  synced after commits; ``coda-sync`` still works.
- Locally, the user's git config is theirs: ``write_hooks()`` only writes
  the folder and ``terminal_git_env()`` gives Jupyter terminals git's
  ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` variables,
  a config entry that exists only for processes started there (agents,
  tasks, plain shells). A commit from VS Code or another shell never runs
  our hooks. Such entries outrank every config file, a repository's own
  ``core.hooksPath`` included, so the forwarders look that one up (ignoring
  ours) and run the repository's hooks from it: husky keeps working and
  its repositories sync too.

Either way the post-commit hook syncs only repositories under
``~/projects`` (where ``coda-sync`` syncs from) and does nothing anywhere
else, after running the repository's own post-commit hook.

The git identity (user.name / user.email from ``current_user.me()``) is set
by the shared config writer ``coda_jupyter.agents.writers.git``; this module
only adds the hook.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..agents.writers.context import ConfigContext, ConfigWriter
from ..agents.writers.git import current, owns_global_config
from ..util.files import atomic_write
from ..util.isolated import isolated_module_argv
from ..util.places import APP_NAME, default_state_dir
from .workspace import SyncPaths, projects_dir

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


def _own_hooks_lines(target: Path) -> str:
    """Shell lines setting ``own`` to the folder git would take hooks from without ours.

    The last ``core.hooksPath`` value that is not ours (values come in
    git's precedence order: system, global, local, worktree, command line),
    else the repository's ``hooks`` folder. Relative values are relative to
    the folder git runs hooks in, which is where this script runs.
    """
    ours = shlex.quote(str(target))
    # "-ef" also catches another spelling of our folder, which would make a
    # forwarder exec itself forever.
    return f"""own=$(git config --type=path --get-all core.hooksPath 2>/dev/null | while IFS= read -r dir; do
  [ "$dir" = {ours} ] || [ "$dir" -ef {ours} ] || printf '%s\\n' "$dir"
done | tail -n 1)
[ -n "$own" ] || own="$(git rev-parse --git-common-dir 2>/dev/null)/hooks"
"""


def forwarder_script(target: Path) -> str:
    return f"""#!/bin/sh
# {MARKER}: git takes its hooks from this folder, so run the
# repository's own hook of the same name, if it has one.
{_own_hooks_lines(target)}own="$own/$(basename "$0")"
if [ -x "$own" ]; then
  exec "$own" "$@"
fi
exit 0
"""


def hooks_dir(home: Path | None = None) -> Path:
    return (home or Path.home()) / ".config" / APP_NAME / "git-hooks"


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
{_own_hooks_lines(hooks_dir(home))}own="$own/post-commit"
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


def _hook_scripts(home: Path, python: str, state_dir: Path | None) -> dict[str, str]:
    target = hooks_dir(home)
    wanted = {name: forwarder_script(target) for name in FORWARDED_HOOKS}
    wanted["post-commit"] = post_commit_script(python, home, state_dir)
    return wanted


def _is_current(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") == text and bool(path.stat().st_mode & 0o111)
    except (OSError, UnicodeDecodeError):
        return False


def write_hooks(
    home: Path | None = None,
    *,
    python: str = sys.executable,
    state_dir: Path | None = None,
) -> list[Path]:
    """Write (or bring up to date) the hooks folder; git is not told about it here.

    Returns the files written (empty when everything was already current).
    """
    home = Path(home) if home is not None else Path.home()
    target = hooks_dir(home)
    changed: list[Path] = []
    for name, text in _hook_scripts(home, python, state_dir).items():
        path = target / name
        if not _is_current(path, text):
            atomic_write(path, text, mode=0o755)
            changed.append(path)
    SyncPaths.default(state_dir if state_dir is not None else default_state_dir(home)).state_dir.mkdir(
        parents=True, exist_ok=True
    )
    return changed


def install_hooks(
    home: Path | None = None,
    *,
    python: str = sys.executable,
    state_dir: Path | None = None,
    force: bool = False,
) -> HookInstall:
    """Write the hooks folder and point the *global* ``core.hooksPath`` at it.

    For a HOME coda owns (a Databricks App) or whose owner opted in
    (``AgentConfig.write_user_configs``). Idempotent. A global
    ``core.hooksPath`` the user set to another folder is left alone
    (``installed=False``) unless ``force``.
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
    changed = write_hooks(home, python=python, state_dir=state_dir)
    if existing is None or Path(existing).expanduser() != target:
        result = _git_config(home, "core.hooksPath", str(target))
        if result.returncode != 0:
            raise RuntimeError(f"git config --global core.hooksPath failed: {result.stderr.strip()}")
        changed.append(home / ".gitconfig")
    return HookInstall(target, True, tuple(changed), f"post-commit sync hook installed in {target}")


def hooks_current(home: Path | None = None, *, python: str = sys.executable, state_dir: Path | None = None) -> bool:
    """Whether the hooks folder holds exactly what ``write_hooks()`` would write.

    Pointing git at a folder that lacks a forwarder, or holds one from an
    older release, could skip a repository's own hooks (its pre-commit
    checks among them).
    """
    home = Path(home) if home is not None else Path.home()
    target = hooks_dir(home)
    return all(_is_current(target / name, text) for name, text in _hook_scripts(home, python, state_dir).items())


def terminal_git_env(home: Path | None = None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables that make git in a Jupyter terminal use our hooks folder.

    Git reads ``GIT_CONFIG_COUNT`` entries (git >= 2.31) as command-line
    configuration: they apply to the processes that inherit them and to
    nothing else, and no file changes. Entries already in the server's
    environment are kept; ours is appended after them. Empty until
    ``write_hooks()`` has brought the folder up to date.
    """
    if not hooks_current(home):
        return {}
    environ = os.environ if environ is None else environ
    try:
        index = max(int(environ.get("GIT_CONFIG_COUNT", "0")), 0)
    except ValueError:
        # Git itself refuses to run with a malformed count; do not add to it.
        return {}
    return {
        f"GIT_CONFIG_KEY_{index}": "core.hooksPath",
        f"GIT_CONFIG_VALUE_{index}": str(hooks_dir(home)),
        "GIT_CONFIG_COUNT": str(index + 1),
    }


def _write(ctx: ConfigContext) -> list[Path]:
    if owns_global_config(ctx):
        return list(install_hooks(ctx.home).changed)
    return write_hooks(ctx.home)


# For the setup engine's shared writers, next to ``writers.git.WRITER``.
WRITER = ConfigWriter("git-sync-hook", _write)
