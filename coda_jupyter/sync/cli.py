"""``coda-sync``: push ``~/projects`` repositories to the Databricks workspace.

Exit codes: 0 synced (or status shown), 1 a sync failed, 2 nothing to sync
(not a git repository, outside ``~/projects``, bad arguments). Run by the
post-commit hook (already detached in its own session) with ``--hook``: then
it never prints and always exits 0, since its only audience is the log and
the status file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from ..auth.credentials import profile_exists
from .workspace import (
    LOG,
    NotARepository,
    OutsideProjects,
    SyncError,
    SyncPaths,
    SyncResult,
    auth_env_vars,
    projects_dir,
    sync_repo,
    sync_status,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NOTHING = 2
LOG_MAX_BYTES = 1024 * 1024


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coda-sync",
        description="Push the last commit of a repository under ~/projects to "
        "/Workspace/Users/<you>/projects/<name> (only files changed since the last sync).",
    )
    parser.add_argument("path", nargs="?", help="a path inside the repository (default: the current folder)")
    parser.add_argument("--all", action="store_true", help="sync every repository directly under ~/projects")
    parser.add_argument("--status", action="store_true", help="show the last sync of each repository")
    parser.add_argument("--json", action="store_true", help="with --status: print JSON")
    parser.add_argument("--full", action="store_true", help="upload every tracked file, not only changes")
    parser.add_argument(
        "--profile",
        default=os.environ.get("DATABRICKS_CONFIG_PROFILE"),
        help="~/.databrickscfg profile (default: DEFAULT when present, else the environment)",
    )
    parser.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--hook", action="store_true", help=argparse.SUPPRESS)
    return parser


def _setup_logging(paths: SyncPaths, to_stderr: bool) -> None:
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(paths.log_file, maxBytes=LOG_MAX_BYTES, backupCount=1, encoding="utf-8")
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s [{os.getpid()}] %(message)s"))
    # The SDK's own warnings belong in the log too, not on the user's terminal.
    sdk = logging.getLogger("databricks.sdk")
    for logger, level in ((LOG, logging.INFO), (sdk, logging.WARNING)):
        for old in list(logger.handlers):
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    if to_stderr:
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(logging.WARNING)
        console.setFormatter(logging.Formatter("coda-sync: %(message)s"))
        LOG.addHandler(console)


def _choose_profile(requested: str | None) -> str | None:
    """The profile to use; the environment's credentials are dropped when one is used.

    Terminals on a Databricks App may still see the app's service-principal
    variables; mixed with a profile they make the SDK refuse or, worse,
    authenticate as the app instead of its owner.
    """
    profile = requested or ("DEFAULT" if profile_exists("DEFAULT") else None)
    if profile is not None:
        for name in auth_env_vars():
            os.environ.pop(name, None)
    return profile


def _summary(result: SyncResult) -> str:
    parts = [f"{len(result.uploaded)} uploaded", f"{result.unchanged} unchanged"]
    if result.deleted:
        parts.append(f"{len(result.deleted)} deleted")
    if result.skipped:
        parts.append(f"{len(result.skipped)} skipped")
    commit = (result.commit or "no commit")[:12]
    return f"{result.repo.name} @ {commit} -> {result.destination}: {', '.join(parts)}"


def _repos_under_projects() -> list[Path]:
    root = projects_dir()
    if not root.is_dir():
        return []
    return sorted(child for child in root.iterdir() if child.is_dir() and (child / ".git").exists())


def _sync_one(path: Path, args: argparse.Namespace, profile: str | None, paths: SyncPaths) -> int:
    try:
        result = sync_repo(path, profile=profile, state_dir=paths.state_dir, full=args.full)
    except (NotARepository, OutsideProjects) as err:
        LOG.warning("skipped %s: %s", path, err)
        return EXIT_NOTHING
    except SyncError:
        return EXIT_FAILED  # already logged (and on stderr) by sync_repo
    LOG.info("%s", _summary(result))
    if not args.hook:
        print(_summary(result))
        for skipped in result.skipped:
            print(f"  skipped {skipped}")
    return EXIT_OK


def _print_status(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(status, indent=2))
        return
    if not status["repos"]:
        print("No repository has been synced yet.")
    for repo in status["repos"]:
        when = repo.get("last_success") or repo.get("last_attempt")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when)) if when else "never"
        line = f"{repo.get('name') or repo['path']}: {repo.get('state')} (last success {stamp})"
        if repo.get("destination"):
            line += f" -> {repo['destination']}"
        print(line)
        if repo.get("last_error"):
            print(f"  error: {repo['last_error']}")
    print(f"Log: {status['log_file']}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    paths = SyncPaths.default(args.state_dir)
    if args.status:
        _print_status(sync_status(paths.state_dir), args.json)
        return EXIT_OK
    if args.all and args.path:
        print("coda-sync: give a path or --all, not both", file=sys.stderr)
        return EXIT_NOTHING
    _setup_logging(paths, to_stderr=not args.hook)
    profile = _choose_profile(args.profile)
    try:
        if args.all:
            repos = _repos_under_projects()
            if not repos:
                LOG.warning("no git repositories under %s", projects_dir())
                return EXIT_OK if args.hook else EXIT_NOTHING
            codes = [_sync_one(repo, args, profile, paths) for repo in repos]
            code = EXIT_FAILED if EXIT_FAILED in codes else EXIT_OK
        else:
            code = _sync_one(Path(args.path or os.getcwd()), args, profile, paths)
    except Exception:
        LOG.exception("coda-sync crashed")
        code = EXIT_FAILED
    return EXIT_OK if args.hook else code


if __name__ == "__main__":
    sys.exit(main())
