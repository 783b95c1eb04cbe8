"""Fixtures for the Databricks auth components: a fake workspace, a private HOME."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from coda_jupyter.auth.credentials import CredentialManager, RotationSettings
from tests.fakes.workspace import FakeWorkspace

# Rotates fast; the lifetime leaves room for several faulted attempts (each
# 503 or timeout costs ~2-3 s of SDK retry pause) on a busy 2-core machine.
FAST = RotationSettings(
    lifetime_seconds=20,
    interval_seconds=1.5,
    backoff_initial_seconds=0.3,
    backoff_max_seconds=1.0,
    sdk_retry_timeout_seconds=1,
    sdk_http_timeout_seconds=1.0,
)


@pytest.fixture(autouse=True)
def private_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ambient workspace, owner or config file can leak into a test."""
    for name in list(os.environ):
        if name.startswith("DATABRICKS_") or name == "APP_OWNER_EMAIL":
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(home / ".databrickscfg"))
    return home


@pytest.fixture
def workspace() -> Iterator[FakeWorkspace]:
    with FakeWorkspace() as fake:
        yield fake


@pytest.fixture
def make_manager(
    jp_asyncio_loop: asyncio.AbstractEventLoop, workspace: FakeWorkspace
) -> Iterator[Callable[..., CredentialManager]]:
    """Build managers against the fake; their rotation loops stop at teardown."""
    made: list[CredentialManager] = []

    def make(settings: RotationSettings = FAST, **kwargs: Any) -> CredentialManager:
        kwargs.setdefault("mode", "apps")
        manager = CredentialManager(workspace.host, settings=settings, **kwargs)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        jp_asyncio_loop.run_until_complete(manager.stop())


Waiter = Callable[..., Any]


@pytest.fixture
def eventually() -> Waiter:
    """``await eventually(lambda: cond, timeout)`` polls until true or fails."""

    async def wait(condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not become true within {timeout}s")
            await asyncio.sleep(0.05)

    return wait
