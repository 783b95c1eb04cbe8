"""Push a git repository under ``~/projects`` to the owner's workspace folder.

``~/projects/<name>`` goes to ``/Workspace/Users/{email}/projects/<name>``
through the databricks-sdk workspace API. What is pushed is the repository's
last commit (``HEAD``): the files git tracks there, byte for byte. Syncing the
commit rather than the working tree means a background sync started by the
post-commit hook never uploads a half-edited file, and the git blob id of each
file is a free content hash: a small state file per repository records the
blob ids last uploaded, so each sync sends only what changed since.

Every file is imported with ``ImportFormat.RAW``: the workspace then stores
it as a plain workspace file at the same path. ``AUTO`` would turn a ``.py``
starting with ``# Databricks notebook source`` (or an ``.ipynb``) into a
notebook and drop its extension, so the workspace path would no longer match
the repository path and later updates and deletions would miss it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..auth.credentials import databrickscfg_path, sdk_profile_arguments
from ..util.files import atomic_write_json, read_json
from ..util.places import default_state_dir
from ..util.processes import process_alive

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

LOG = logging.getLogger("coda_jupyter.sync")

PROJECTS_DIR_NAME = "projects"
STATE_VERSION = 1
GIT_TIMEOUT_S = 120
# The workspace import API refuses larger payloads; such files are skipped
# and listed in the status instead of failing the whole sync.
MAX_FILE_BYTES = 10 * 1024 * 1024
SDK_RETRY_TIMEOUT_S = 60
SDK_HTTP_TIMEOUT_S = 30.0
# Regular files only: symlinks (120000) have no workspace equivalent and
# gitlinks (160000, submodules) are other repositories.
_REGULAR_MODES = frozenset({"100644", "100755"})


class SyncError(Exception):
    """A failure with a message fit for the user (never holds a secret)."""


class NotARepository(SyncError):
    pass


class OutsideProjects(SyncError):
    pass


# -- places ------------------------------------------------------------------


def projects_dir(home: Path | None = None) -> Path:
    return (home or Path.home()) / PROJECTS_DIR_NAME


@dataclass(frozen=True)
class SyncPaths:
    state_dir: Path

    @classmethod
    def default(cls, state_dir: Path | None = None) -> SyncPaths:
        return cls(Path(state_dir) if state_dir is not None else default_state_dir())

    @property
    def log_file(self) -> Path:
        return self.state_dir / "sync.log"

    @property
    def status_file(self) -> Path:
        return self.state_dir / "sync-status.json"

    @property
    def repo_states(self) -> Path:
        return self.state_dir / "sync"

    def repo_state(self, repo: Path) -> Path:
        digest = hashlib.sha256(str(repo).encode()).hexdigest()[:12]
        return self.repo_states / f"{repo.name}-{digest}.json"


# -- git -----------------------------------------------------------------------


def _git_env() -> dict[str, str]:
    # A hook's environment carries GIT_DIR / GIT_INDEX_FILE of the commit
    # that triggered it; our git calls must address the repository by path.
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        env=_git_env(),
        capture_output=True,
        timeout=GIT_TIMEOUT_S,
    )
    if check and result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise SyncError(f"git {args[0]} failed in {repo}: {detail[-1] if detail else result.returncode}")
    return result


def find_repo(path: Path) -> Path:
    """The top level of the git repository containing ``path``."""
    path = Path(path).expanduser()
    if not path.exists():
        raise NotARepository(f"{path} does not exist")
    start = path if path.is_dir() else path.parent
    result = _git(start, "rev-parse", "--show-toplevel", check=False)
    top = result.stdout.decode().strip()
    if result.returncode != 0 or not top:
        raise NotARepository(f"{path} is not inside a git repository")
    return Path(top).resolve()


def project_name(repo: Path, home: Path | None = None) -> str:
    """``repo``'s path below ``~/projects`` (POSIX form); refuses anything else.

    Using the whole relative path (not just the folder name) keeps
    ``~/projects/a/x`` and ``~/projects/b/x`` from landing on one folder.
    """
    root = projects_dir(home).resolve()
    try:
        relative = Path(repo).resolve().relative_to(root)
    except ValueError:
        raise OutsideProjects(
            f"{repo} is not under {root}: only repositories in {root} are synced to the workspace"
        ) from None
    if not relative.parts:
        raise OutsideProjects(f"{root} itself is not a project; sync one of the repositories inside it")
    return relative.as_posix()


def destination(user_name: str, name: str) -> str:
    return f"/Workspace/Users/{user_name}/{PROJECTS_DIR_NAME}/{name}"


@dataclass(frozen=True)
class TrackedFile:
    path: str
    blob: str
    size: int


def head_files(repo: Path) -> tuple[str | None, list[TrackedFile], list[str]]:
    """``(commit, regular files, skipped non-files)`` of ``HEAD``; no commit yet: ``(None, [], [])``."""
    head = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    if head.returncode != 0:
        return None, [], []
    commit = head.stdout.decode().strip()
    listing = _git(repo, "ls-tree", "-r", "-l", "-z", "--full-tree", commit).stdout
    files: list[TrackedFile] = []
    others: list[str] = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, blob, size = meta.decode().split()
        path = raw_path.decode("utf-8", errors="surrogateescape")
        if kind == "blob" and mode in _REGULAR_MODES:
            files.append(TrackedFile(path, blob, int(size)))
        else:
            others.append(path)
    return commit, files, others


class BlobReader:
    """Reads blobs through one ``git cat-file --batch`` process."""

    def __init__(self, repo: Path) -> None:
        self._proc = subprocess.Popen(
            ["git", "-C", str(repo), "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_git_env(),
        )

    def read(self, blob: str) -> bytes:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(blob.encode() + b"\n")
        self._proc.stdin.flush()
        header = self._proc.stdout.readline().decode().split()
        if len(header) != 3 or header[1] != "blob":
            raise SyncError(f"git could not read blob {blob}")
        content = self._proc.stdout.read(int(header[2]))
        self._proc.stdout.read(1)  # the newline after each object
        return content

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


# -- credentials -------------------------------------------------------------


# Variables that would make the SDK authenticate some other way than the
# chosen profile (the app's service principal above all).
def auth_env_vars() -> frozenset[str]:
    from databricks.sdk.core import Config

    return frozenset(a.env for a in Config.attributes() if a.env and (a.auth or a.name in ("host", "auth_type")))


def make_client(profile: str | None) -> WorkspaceClient:
    """A client for ``profile`` in ~/.databrickscfg, or from the environment when ``None``."""
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    try:
        selected = sdk_profile_arguments(profile) if profile is not None else {}
        # Our timeouts win over the profile's, as they did when the SDK read the file.
        arguments: dict[str, Any] = {
            **selected,
            "retry_timeout_seconds": SDK_RETRY_TIMEOUT_S,
            "http_timeout_seconds": SDK_HTTP_TIMEOUT_S,
        }
        config = Config(**arguments)
    except ValueError:
        where = f"profile {profile!r} in {databrickscfg_path()}" if profile else "the environment"
        raise SyncError(
            f"No usable Databricks credentials in {where}; configure a token in JupyterLab and retry"
        ) from None
    return WorkspaceClient(config=config)


def describe(err: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """One scrubbed line about ``err`` for the log and the status file."""
    from databricks.sdk.errors import DatabricksError, PermissionDenied, Unauthenticated

    if isinstance(err, (Unauthenticated, PermissionDenied)):
        text = (
            f"the workspace rejected the credentials ({err.error_code or type(err).__name__}); "
            "renew the token in JupyterLab, then run coda-sync"
        )
    elif isinstance(err, DatabricksError):
        first = (str(err) or type(err).__name__).splitlines()[0]
        text = f"{err.error_code or type(err).__name__}: {first}"
    elif isinstance(err, SyncError):
        text = str(err)
    else:
        lines = (str(err) or "").splitlines()
        text = f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:500]


# -- state and status --------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock; concurrent syncs of one repo run one after the other."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _update_status(paths: SyncPaths, repo: Path, **fields: Any) -> None:
    with _locked(paths.status_file.with_suffix(".lock")):
        status = read_json(paths.status_file, default={})
        repos = status.get("repos") if isinstance(status, dict) else None
        repos = repos if isinstance(repos, dict) else {}
        record = repos.get(str(repo)) or {}
        record.update(fields)
        repos[str(repo)] = record
        atomic_write_json(paths.status_file, {"version": STATE_VERSION, "repos": repos}, mode=0o644)


def _recorded_process_alive(pid: Any) -> bool:
    # The status file is JSON anyone may have edited: a pid may be anything.
    return isinstance(pid, int) and process_alive(pid)


def sync_status(state_dir: Path | None = None) -> dict[str, Any]:
    """Last sync per repository, for the Agents panel.

    ``{"log_file": str, "repos": [{"name", "path", "destination", "state",
    "commit", "last_attempt", "last_success", "uploaded", "deleted",
    "skipped", "last_error"}]}`` with ``state`` one of ``syncing``, ``ok``,
    ``error`` or ``interrupted`` (the syncing process died). Times are epoch
    seconds. Never holds a token.
    """
    paths = SyncPaths.default(state_dir)
    raw = read_json(paths.status_file, default={})
    repos = raw.get("repos") if isinstance(raw, dict) else None
    records: list[dict[str, Any]] = []
    for path, record in (repos or {}).items():
        if not isinstance(record, dict):
            continue
        entry = {key: value for key, value in record.items() if key != "pid"}
        entry["path"] = path
        if record.get("state") == "syncing" and not _recorded_process_alive(record.get("pid")):
            entry["state"] = "interrupted"
        records.append(entry)
    records.sort(key=lambda r: str(r.get("name") or r["path"]))
    return {"log_file": str(paths.log_file), "repos": records}


@dataclass
class RepoState:
    destination: str
    host: str
    files: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> RepoState | None:
        raw = read_json(path)
        if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION:
            return None
        files = raw.get("files")
        if not isinstance(files, dict):
            return None
        return cls(str(raw.get("destination")), str(raw.get("host")), {str(k): str(v) for k, v in files.items()})

    def save(self, path: Path) -> None:
        atomic_write_json(
            path,
            {
                "version": STATE_VERSION,
                "destination": self.destination,
                "host": self.host,
                "files": dict(sorted(self.files.items())),
            },
            mode=0o644,
        )


# -- the sync ------------------------------------------------------------------


@dataclass
class SyncResult:
    repo: Path
    destination: str
    commit: str | None
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unchanged: int = 0


def _leaf_dirs(dirs: Iterable[str]) -> list[str]:
    """Drop folders that another folder in the set lies inside (mkdirs makes parents)."""
    unique = sorted(set(dirs))
    return [d for d in unique if not any(other.startswith(d + "/") for other in unique)]


def sync_repo(
    path: Path,
    *,
    client: WorkspaceClient | None = None,
    profile: str | None = None,
    state_dir: Path | None = None,
    home: Path | None = None,
    full: bool = False,
) -> SyncResult:
    """Push ``HEAD`` of the repository containing ``path`` to the workspace.

    Raises ``NotARepository`` / ``OutsideProjects`` before touching anything,
    and ``SyncError`` (with a scrubbed message already logged and recorded in
    the status file) when the sync itself fails.
    """
    repo = find_repo(path)
    name = project_name(repo, home)
    paths = SyncPaths.default(state_dir)
    state_file = paths.repo_state(repo)
    with _locked(state_file.with_suffix(".lock")):
        _update_status(paths, repo, name=name, state="syncing", pid=os.getpid(), last_attempt=time.time())
        secrets: list[str | None] = []
        try:
            ws = client or make_client(profile)
            secrets.append(ws.config.token)
            result = _push(ws, repo, name, state_file, full)
        except Exception as err:
            message = describe(err, secrets)
            LOG.error("%s: sync failed: %s", name, message)
            _update_status(paths, repo, state="error", pid=None, last_error=message)
            raise SyncError(message) from None
        _update_status(
            paths,
            repo,
            state="ok",
            pid=None,
            destination=result.destination,
            commit=result.commit,
            last_success=time.time(),
            uploaded=len(result.uploaded),
            deleted=len(result.deleted),
            skipped=result.skipped,
            last_error=None,
        )
        return result


def _to_upload(files: list[TrackedFile], previous: RepoState, result: SyncResult) -> list[TrackedFile]:
    """The files whose blob changed since the last sync; the others are counted or skipped."""
    changed: list[TrackedFile] = []
    for tracked in files:
        if previous.files.get(tracked.path) == tracked.blob:
            result.unchanged += 1
        elif tracked.size > MAX_FILE_BYTES:
            result.skipped.append(f"{tracked.path} (larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB)")
        else:
            changed.append(tracked)
    return changed


def _upload(ws: WorkspaceClient, repo: Path, changed: list[TrackedFile], state: RepoState, result: SyncResult) -> None:
    """Upload ``changed`` under the result's destination, recording each one that arrived."""
    from databricks.sdk.service.workspace import ImportFormat

    if not changed:
        return
    dest = result.destination
    folders = {(PurePosixPath(dest) / f.path).parent.as_posix() for f in changed}
    for folder in _leaf_dirs(folders):
        ws.workspace.mkdirs(folder)
    reader = BlobReader(repo)
    try:
        for tracked in changed:
            ws.workspace.upload(
                f"{dest}/{tracked.path}", reader.read(tracked.blob), format=ImportFormat.RAW, overwrite=True
            )
            state.files[tracked.path] = tracked.blob
            result.uploaded.append(tracked.path)
    finally:
        reader.close()


def _push(ws: WorkspaceClient, repo: Path, name: str, state_file: Path, full: bool) -> SyncResult:
    from databricks.sdk.errors import NotFound

    user = ws.current_user.me().user_name
    if not user:
        raise SyncError("the workspace did not say who the current user is")
    dest = destination(user, name)
    host = ws.config.host or ""
    commit, files, others = head_files(repo)
    result = SyncResult(repo, dest, commit)
    if commit is None:
        # An unborn branch says nothing about what should be deleted.
        LOG.info("%s: nothing committed yet; nothing to sync", name)
        return result
    previous = RepoState.load(state_file)
    if full or previous is None or previous.destination != dest or previous.host != host:
        previous = RepoState(dest, host)
    state = RepoState(dest, host, dict(previous.files))
    changed = _to_upload(files, previous, result)
    result.skipped.extend(f"{p} (not a regular file)" for p in others)
    current = {f.path for f in files}
    removed = sorted(p for p in previous.files if p not in current)
    LOG.info(
        "%s: commit %s -> %s: %d to upload, %d to delete, %d unchanged",
        name,
        (commit or "none")[:12],
        dest,
        len(changed),
        len(removed),
        result.unchanged,
    )
    try:
        _upload(ws, repo, changed, state, result)
        for gone in removed:
            # NotFound: already gone, the goal is reached.
            with contextlib.suppress(NotFound):
                ws.workspace.delete(f"{dest}/{gone}")
            state.files.pop(gone, None)
            result.deleted.append(gone)
    finally:
        # Keep what did reach the workspace so a retry sends only the rest.
        state.save(state_file)
    for skipped in result.skipped:
        LOG.warning("%s: skipped %s", name, skipped)
    LOG.info("%s: synced %d file(s), deleted %d", name, len(result.uploaded), len(result.deleted))
    return result
