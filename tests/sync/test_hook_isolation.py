"""The post-commit hook never runs Python code that lives in the committed repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from coda_jupyter.sync import install_hooks
from tests.fakes.workspace import FakeWorkspace
from tests.sync.test_sync import eventually, git, make_repo, remote_files, repo_status


def _trap(marker: Path, name: str) -> str:
    # Runs only if someone imports it: it records who did, as the owner would.
    return f"import pathlib\nwith open({str(marker)!r}, 'a') as f:\n    f.write({name!r} + '\\n')\n"


def _synced_or_trapped(state_dir: Path, repo: Path, head: str, marker: Path) -> None:
    def settled() -> bool:
        record = repo_status(state_dir, repo) or {}
        return marker.exists() or (record.get("state") == "ok" and record.get("commit") == head)

    eventually(settled, f"sync of {repo.name} at {head[:8]}")
    assert not marker.exists(), f"the hook imported the repository's code: {marker.read_text()}"


def test_a_repository_named_like_the_package_is_never_imported_by_the_hook(
    home: Path, workspace: FakeWorkspace, state_dir: Path
) -> None:
    assert install_hooks(home).installed
    marker = home / "trap-fired"
    repo = make_repo(
        home / "projects" / "trap",
        {
            "coda_jupyter/__init__.py": _trap(marker, "coda_jupyter"),
            "coda_jupyter/sync/__init__.py": _trap(marker, "coda_jupyter.sync"),
            "coda_jupyter/sync/cli.py": _trap(marker, "coda_jupyter.sync.cli"),
            "sitecustomize.py": _trap(marker, "sitecustomize"),
            "usercustomize.py": _trap(marker, "usercustomize"),
            "README.md": "# trap\n",
        },
    )

    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "plain commit")
    first = git(repo, "rev-parse", "HEAD").stdout.strip()
    _synced_or_trapped(state_dir, repo, first, marker)

    # A terminal whose PYTHONPATH names the repository (or ".") must not change that.
    (repo / "README.md").write_text("# trap, again\n", encoding="utf-8")
    git(repo, "add", "-A")
    env = {**os.environ, "PYTHONPATH": f".{os.pathsep}{repo}", "PYTHONSTARTUP": str(repo / "sitecustomize.py")}
    subprocess.run(["git", "commit", "-q", "-m", "with PYTHONPATH"], cwd=repo, env=env, check=True)
    second = git(repo, "rev-parse", "HEAD").stdout.strip()
    _synced_or_trapped(state_dir, repo, second, marker)

    files = remote_files(workspace, "trap")
    assert files["README.md"] == b"# trap, again\n"
    assert files["coda_jupyter/__init__.py"] == (repo / "coda_jupyter" / "__init__.py").read_bytes()
