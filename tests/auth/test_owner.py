"""Owner resolution: override, apps.get(name).creator through the real SDK, fail closed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import pytest

from coda_jupyter.auth.owner import OwnerResolver
from tests.fakes.workspace import DEFAULT_APP, DEFAULT_APP_CREATOR, FakeWorkspace

Eventually = Callable[..., Awaitable[object]]
APP_PATH = f"/api/2.0/apps/{DEFAULT_APP}"


@pytest.fixture
def sp_env(workspace: FakeWorkspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app's service principal, as the Apps runtime puts it in the environment."""
    token = workspace.seed_token(user_name="service-principal-1234")
    monkeypatch.setenv("DATABRICKS_HOST", workspace.host)
    monkeypatch.setenv("DATABRICKS_TOKEN", token)
    yield token


def _resolver(**kwargs: object) -> OwnerResolver:
    defaults: dict[str, object] = {
        "boot_attempts": 2,
        "boot_retry_seconds": 0.1,
        "background_retry_seconds": 0.2,
        "background_retry_max_seconds": 0.4,
        "sdk_retry_timeout_seconds": 1,
        "sdk_http_timeout_seconds": 1.0,
    }
    defaults.update(kwargs)
    return OwnerResolver(DEFAULT_APP, **defaults)  # type: ignore[arg-type]


async def test_creator_from_apps_api_lowercased(workspace: FakeWorkspace, sp_env: str) -> None:
    resolver = _resolver()
    assert await resolver.start() == DEFAULT_APP_CREATOR.lower()
    assert resolver.source == "app"
    [call] = workspace.calls(APP_PATH)
    assert call.token_id == workspace.token_id_of(sp_env), "asked with the service principal's credentials"
    assert resolver.is_owner(DEFAULT_APP_CREATOR.upper())
    assert resolver.is_owner(" ada.lovelace@example.com ")
    assert not resolver.is_owner("mallory@example.com")
    assert not resolver.is_owner(None)


async def test_env_override_wins_without_network(
    workspace: FakeWorkspace, sp_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_OWNER_EMAIL", " Grace.Hopper@Example.com ")
    resolver = _resolver()
    assert resolver.owner == "grace.hopper@example.com"
    assert await resolver.start() == "grace.hopper@example.com"
    assert resolver.source == "override"
    assert workspace.requests == []


async def test_config_override_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_OWNER_EMAIL", "env@example.com")
    assert _resolver(override="Config@Example.com").owner == "config@example.com"


async def test_bounded_boot_retries_then_background_resolution(
    workspace: FakeWorkspace, sp_env: str, eventually: Eventually
) -> None:
    workspace.fail_next(APP_PATH, 500, times=4)
    resolver = _resolver()
    try:
        assert await resolver.start() is None
        assert len(workspace.calls(APP_PATH)) == 2, "boot tries exactly boot_attempts times"
        assert resolver.owner is None and not resolver.is_owner(DEFAULT_APP_CREATOR)
        assert resolver.last_error and "InternalError" in resolver.last_error

        await eventually(lambda: resolver.owner is not None, what="background resolution")
        assert resolver.owner == DEFAULT_APP_CREATOR.lower()
        assert [c.status for c in workspace.calls(APP_PATH)] == [500, 500, 500, 500, 200]
        assert resolver.last_error is None
    finally:
        await resolver.stop()


async def test_unknown_app_stays_unknown(workspace: FakeWorkspace, sp_env: str) -> None:
    resolver = OwnerResolver("no-such-app", boot_attempts=1, background_retry_seconds=60, sdk_retry_timeout_seconds=1)
    try:
        assert await resolver.start() is None
        assert resolver.last_error and "does not exist" in resolver.last_error
        assert not resolver.is_owner(DEFAULT_APP_CREATOR)
    finally:
        await resolver.stop()


async def test_without_app_name_or_override_nobody_owns(sp_env: str) -> None:
    resolver = OwnerResolver(None, boot_attempts=1, background_retry_seconds=60)
    try:
        assert await resolver.start() is None
        assert resolver.last_error and "DATABRICKS_APP_NAME" in resolver.last_error
    finally:
        await resolver.stop()


async def test_revoked_service_principal_fails_closed(workspace: FakeWorkspace, sp_env: str) -> None:
    workspace.revoke_all()
    resolver = _resolver(background_retry_seconds=60)
    try:
        assert await resolver.start() is None
        assert resolver.last_error and "Unauthenticated" in resolver.last_error
        assert sp_env not in resolver.last_error
    finally:
        await resolver.stop()
