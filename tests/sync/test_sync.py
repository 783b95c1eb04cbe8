"""Workspace sync end to end: real git, the real hook, the real SDK, a fake workspace."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from coda_jupyter.sync import install_hooks, sync_status
from coda_jupyter.sync.hooks import hooks_dir
from tests.fakes.workspace import FakeWorkspace
from tests.sync.conftest import USER
from tests.waiting import eventually

IMPORT = "/api/2.0/workspace/import"
DELETE = "/api/2.0/workspace/delete"


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=check)


def make_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    write(path, files)
    return path


def write(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def commit(repo: Path, message: str, *paths: str) -> str:
    git(repo, "add", *(paths or ("-A",)))
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def coda_sync(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coda_jupyter.sync.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def repo_status(state_dir: Path, repo: Path) -> dict[str, Any] | None:
    for record in sync_status(state_dir)["repos"]:
        if record["path"] == str(repo.resolve()):
            return record
    return None


def wait_synced(state_dir: Path, repo: Path, head: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        record = repo_status(state_dir, repo)
        if record and record.get("state") == "ok" and record.get("commit") == head:
            return record
        return None

    return eventually(done, f"sync of {repo.name} at {head[:8]}", timeout=90)


def wait_failed(state_dir: Path, repo: Path, after: float) -> dict[str, Any]:
    def failed() -> dict[str, Any] | None:
        record = repo_status(state_dir, repo)
        if record and record.get("state") == "error" and record.get("last_attempt", 0) >= after:
            return record
        return None

    return eventually(failed, f"a failed sync of {repo.name}", timeout=90)


def remote(name: str, path: str = "") -> str:
    return f"/Users/{USER}/projects/{name}" + (f"/{path}" if path else "")


def remote_files(workspace: FakeWorkspace, name: str) -> dict[str, bytes]:
    prefix = remote(name) + "/"
    return {p.removeprefix(prefix): c for p, c in workspace.files().items() if p.startswith(prefix)}


def secrets_absent(workspace: FakeWorkspace, *texts: str) -> None:
    tokens = [workspace.bootstrap_token, *(t.value for t in workspace.minted_tokens())]
    for text in texts:
        for token in tokens:
            assert token not in text


NOTEBOOK = "# Databricks notebook source\nprint('hello')\n"


def test_commits_sync_tracked_files_then_only_the_delta(home: Path, workspace: FakeWorkspace, state_dir: Path) -> None:
    assert install_hooks(home).installed
    repo = make_repo(
        home / "projects" / "x",
        {
            "notebook.py": NOTEBOOK,
            "README.md": "# x\n",
            "src/pkg/mod.py": "VALUE = 1\n",
            ".gitignore": "*.log\n",
        },
    )
    own_hook = repo / ".git" / "hooks" / "post-commit"
    own_hook.write_text('#!/bin/sh\necho ran >> "$(git rev-parse --show-toplevel)/../own-hook-ran"\n')
    own_hook.chmod(0o755)
    write(repo, {"debug.log": "ignored\n", "scratch.txt": "untracked\n"})
    first = commit(repo, "first", "notebook.py", "README.md", "src", ".gitignore")

    record = wait_synced(state_dir, repo, first)
    assert record["destination"] == f"/Workspace/Users/{USER}/projects/x"
    assert record["uploaded"] == 4 and record["last_error"] is None
    assert remote_files(workspace, "x") == {
        "notebook.py": NOTEBOOK.encode(),
        "README.md": b"# x\n",
        "src/pkg/mod.py": b"VALUE = 1\n",
        ".gitignore": b"*.log\n",
    }
    # Uploaded as a plain file: a notebook import would have dropped ".py".
    assert workspace.is_dir(remote("x", "src/pkg"))
    imports_after_first = len(workspace.calls(IMPORT))
    assert imports_after_first == 4

    write(repo, {"README.md": "# x, revised\n", "src/new.txt": "new\n"})
    git(repo, "rm", "-q", "notebook.py")
    second = commit(repo, "second", "README.md", "src/new.txt")

    record = wait_synced(state_dir, repo, second)
    assert record["uploaded"] == 2 and record["deleted"] == 1
    assert len(workspace.calls(IMPORT)) - imports_after_first == 2
    files = remote_files(workspace, "x")
    assert files["README.md"] == b"# x, revised\n" and files["src/new.txt"] == b"new\n"
    assert len(workspace.calls(DELETE, "POST")) == 1
    assert "scratch.txt" not in files and "debug.log" not in files
    # The repository's own post-commit hook still ran, once per commit.
    assert (home / "projects" / "own-hook-ran").read_text().split() == ["ran", "ran"]


def test_repository_hooks_keep_working_under_the_global_hooks_path(home: Path, workspace: FakeWorkspace) -> None:
    install_hooks(home)
    repo = make_repo(home / "projects" / "guarded", {"a.txt": "a\n"})
    guard = repo / ".git" / "hooks" / "pre-commit"
    guard.write_text("#!/bin/sh\necho 'blocked by the project' >&2\nexit 1\n")
    guard.chmod(0o755)
    git(repo, "add", "-A")
    result = git(repo, "commit", "-q", "-m", "nope", check=False)
    assert result.returncode != 0 and "blocked by the project" in result.stderr


def test_sync_survives_the_committer_killing_its_process_group(
    home: Path, workspace: FakeWorkspace, state_dir: Path
) -> None:
    install_hooks(home)
    repo = make_repo(home / "projects" / "agent", {"main.py": "print(1)\n"})
    git(repo, "add", "-A")
    # Like an agent that kills the whole group once the command returns.
    subprocess.run(
        ["sh", "-c", 'git commit -q -m "by an agent" && kill -KILL 0'],
        cwd=repo,
        start_new_session=True,
        capture_output=True,
    )
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    wait_synced(state_dir, repo, head)
    assert remote_files(workspace, "agent") == {"main.py": b"print(1)\n"}


def test_failures_are_reported_never_fail_the_commit_and_coda_sync_recovers(
    home: Path, workspace: FakeWorkspace, state_dir: Path
) -> None:
    install_hooks(home)
    repo = make_repo(home / "projects" / "flaky", {"a.txt": "one\n"})
    workspace.fail_next(IMPORT, 500)
    started = time.time()
    head = commit(repo, "first")  # check=True: the commit itself succeeded

    record = wait_failed(state_dir, repo, started)
    assert "INTERNAL_ERROR" in record["last_error"]
    log = (state_dir / "sync.log").read_text()
    assert "flaky: sync failed" in log and "INTERNAL_ERROR" in log

    manual = coda_sync(cwd=repo / ".")
    assert manual.returncode == 0, manual.stderr
    assert "1 uploaded" in manual.stdout
    assert repo_status(state_dir, repo)["state"] == "ok"  # type: ignore[index]
    assert repo_status(state_dir, repo)["commit"] == head  # type: ignore[index]
    assert remote_files(workspace, "flaky") == {"a.txt": b"one\n"}

    workspace.revoke_all()
    write(repo, {"a.txt": "two\n"})
    started = time.time()
    commit(repo, "second")
    record = wait_failed(state_dir, repo, started)
    assert "rejected the credentials" in record["last_error"]

    denied = coda_sync(cwd=repo)
    assert denied.returncode == 1
    assert "rejected the credentials" in denied.stderr

    state_files = [p.read_text() for p in (state_dir / "sync").glob("*.json")]
    secrets_absent(
        workspace,
        (state_dir / "sync.log").read_text(),
        (state_dir / "sync-status.json").read_text(),
        denied.stdout + denied.stderr + manual.stdout + manual.stderr,
        *state_files,
    )


def test_repositories_outside_projects_are_never_synced(home: Path, workspace: FakeWorkspace, state_dir: Path) -> None:
    install_hooks(home)
    outside = make_repo(home / "elsewhere" / "y", {"secret-notes.txt": "private\n"})
    commit(outside, "outside")
    inside = make_repo(home / "projects" / "z", {"b.txt": "b\n"})
    head = commit(inside, "inside")
    wait_synced(state_dir, inside, head)

    refused = coda_sync(str(outside), cwd=home)
    assert refused.returncode == 2
    assert "not under" in refused.stderr and str(home / "projects") in refused.stderr
    assert not [p for p in workspace.files() if "secret-notes" in p]
    assert repo_status(state_dir, outside) is None


def test_coda_sync_all_status_and_full(home: Path, workspace: FakeWorkspace, state_dir: Path) -> None:
    # No hook installed: everything here is the manual command.
    first = make_repo(home / "projects" / "one", {"a.txt": "a\n"})
    second = make_repo(home / "projects" / "two", {"b/c.txt": "c\n", "d.txt": "d\n"})
    commit(first, "one")
    commit(second, "two")
    (home / "projects" / "not-a-repo").mkdir()

    synced = coda_sync("--all", cwd=home)
    assert synced.returncode == 0, synced.stderr
    assert remote_files(workspace, "one") == {"a.txt": b"a\n"}
    assert remote_files(workspace, "two") == {"b/c.txt": b"c\n", "d.txt": b"d\n"}

    imports = len(workspace.calls(IMPORT))
    again = coda_sync(str(second / "b"), cwd=home)
    assert again.returncode == 0 and "0 uploaded, 2 unchanged" in again.stdout
    assert len(workspace.calls(IMPORT)) == imports

    full = coda_sync("--full", cwd=second)
    assert full.returncode == 0 and "2 uploaded" in full.stdout
    assert len(workspace.calls(IMPORT)) == imports + 2

    shown = coda_sync("--status", cwd=home)
    assert shown.returncode == 0
    assert "one: ok" in shown.stdout and "two: ok" in shown.stdout
    as_json = json.loads(coda_sync("--status", "--json", cwd=home).stdout)
    assert {r["name"] for r in as_json["repos"]} == {"one", "two"}
    assert all(r["destination"].startswith(f"/Workspace/Users/{USER}/projects/") for r in as_json["repos"])

    nowhere = coda_sync(cwd=home / "projects" / "not-a-repo")
    assert nowhere.returncode == 2 and "not inside a git repository" in nowhere.stderr


def test_install_is_idempotent_and_respects_a_foreign_hooks_path(home: Path) -> None:
    first = install_hooks(home)
    assert first.installed and (hooks_dir(home) / "post-commit").stat().st_mode & 0o111
    configured = subprocess.run(
        ["git", "config", "--global", "core.hooksPath"], capture_output=True, text=True
    ).stdout.strip()
    assert configured == str(hooks_dir(home))
    assert install_hooks(home).changed == ()

    subprocess.run(["git", "config", "--global", "core.hooksPath", str(home / "my-hooks")], check=True)
    kept = install_hooks(home)
    assert not kept.installed and "my-hooks" in kept.message
    assert install_hooks(home, force=True).installed
