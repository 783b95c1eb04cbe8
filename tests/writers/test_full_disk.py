"""A full disk while config files are rewritten: every file keeps its old content, no temp file stays."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import ROTATED, TOKEN, snapshot

ROOT = Path(__file__).resolve().parents[2]
USER_CFG = "# mine\n[work]\nhost = https://work.example.com\ntoken = work-token\n"
# Larger than nothing, smaller than any config file the writers produce.
FILE_SIZE_LIMIT = 16


def run_writers(home: Path, token: str, email: str, limit: int = 0, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    request = json.dumps({"home": str(home), "token": token, "email": email, "limit": limit, "skip": skip})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "XDG_", "DATABRICKS_"))}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1")
    done = subprocess.run(
        [sys.executable, "-m", "tests.writers.full_disk_child", request],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def seed(home: Path) -> dict[str, bytes | str]:
    """Config files as a previous run (and the user) left them."""
    (home / ".databrickscfg").write_text(USER_CFG, encoding="utf-8")
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_text('{"permissions": {"allow": ["Bash(ls)"]}}\n')
    first = run_writers(home, TOKEN, "jane.doe@example.com")
    assert all(isinstance(n, int) for n in first.values()), first
    return snapshot(home)


def check_nothing_changed(home: Path, before: dict[str, bytes | str], failed: dict[str, Any], code: int) -> None:
    assert snapshot(home) == before, "a file changed, or a temp file was left behind"
    # Which writers had something to write: the same run without a full disk.
    wrote = {name for name, n in run_writers(home, ROTATED, "john.roe@example.com").items() if n}
    assert {"claude", "codex", "gemini", "opencode", "hermes", "git", "databrickscfg"} <= wrote
    for name in wrote & set(failed):
        assert isinstance(failed[name], dict), f"{name} claimed success on a full disk: {failed[name]}"
        if failed[name]["error"] != "RuntimeError":  # git reports its own failure as text
            assert failed[name]["errno"] == code, (name, failed[name])
    assert snapshot(home) != before
    assert ROTATED in (home / ".databrickscfg").read_text() and USER_CFG in (home / ".databrickscfg").read_text()


def test_file_size_limit_leaves_every_config_intact(home: Path) -> None:
    before = seed(home)
    # Python's subprocess gives git back the default SIGXFSZ action, which
    # kills it mid-write: that is a signal, not a full disk (the tmpfs test
    # below covers git with a real ENOSPC).
    failed = run_writers(home, ROTATED, "john.roe@example.com", limit=FILE_SIZE_LIMIT, skip=("git",))
    assert "git" not in failed
    check_nothing_changed(home, before, failed, errno.EFBIG)


@pytest.fixture
def full_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (root only); the test fills it once the home on it is seeded."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def fill(disk: Path) -> None:
    with open(disk / "filler", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as err:
            assert err.errno == errno.ENOSPC


def test_no_space_left_leaves_every_config_intact(full_tmpfs: Path) -> None:
    home = full_tmpfs / "home"
    home.mkdir()
    before = seed(home)
    fill(full_tmpfs)
    failed = run_writers(home, ROTATED, "john.roe@example.com")
    (full_tmpfs / "filler").unlink()
    check_nothing_changed(home, before, failed, errno.ENOSPC)
