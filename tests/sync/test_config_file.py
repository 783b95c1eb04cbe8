"""coda-sync and the hook read ~/.databrickscfg the way coda writes it: any bytes elsewhere are fine."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.workspace import FakeWorkspace
from tests.sync.test_sync import coda_sync, commit, make_repo, remote_files, repo_status

LATIN1 = b"[legacy]\nhost = https://legacy.example.com\nowner = Jos\xe9\n\n"


def test_coda_sync_works_with_a_latin1_byte_in_another_profile(
    home: Path, workspace: FakeWorkspace, state_dir: Path
) -> None:
    cfg = home / ".databrickscfg"
    cfg.write_bytes(LATIN1 + cfg.read_bytes())
    before = cfg.read_bytes()
    repo = make_repo(home / "projects" / "latin", {"a.txt": "a\n"})
    head = commit(repo, "first")

    synced = coda_sync(cwd=repo)

    assert synced.returncode == 0, synced.stderr
    assert "1 uploaded" in synced.stdout
    assert remote_files(workspace, "latin") == {"a.txt": b"a\n"}
    assert repo_status(state_dir, repo)["commit"] == head  # type: ignore[index]
    assert cfg.read_bytes() == before
