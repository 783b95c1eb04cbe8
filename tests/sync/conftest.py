"""Fixtures for the sync tests: a private HOME with ~/projects, a fake workspace, the state dir."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from coda_jupyter.auth.credentials import write_profile
from tests.fakes.workspace import FakeWorkspace

USER = "Ada.Lovelace@Example.COM"


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith(("DATABRICKS_", "GIT_", "XDG_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    (home / "projects").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(home / ".databrickscfg"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Ada")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "ada@example.com")
    return home


@pytest.fixture
def workspace(home: Path) -> Iterator[FakeWorkspace]:
    with FakeWorkspace(user_name=USER) as fake:
        write_profile(home / ".databrickscfg", "DEFAULT", fake.host, fake.bootstrap_token)
        yield fake


@pytest.fixture
def state_dir(home: Path) -> Path:
    return home / ".local" / "state" / "coda-jupyter"
