"""Who owns this Databricks App.

The owner is an override (config, then ``APP_OWNER_EMAIL``) or the app's
``creator`` as reported by ``apps.get`` with the app's own service-principal
credentials from the environment. Deployed, the launcher (``launch.py``) looks
the creator up before the server starts and hands it over in
``APP_OWNER_EMAIL``; the server then never holds the credentials. Emails
compare lower-cased. While the owner is unknown ``owner`` is ``None`` and
callers must deny access.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Mapping

LOG = logging.getLogger("coda_jupyter.auth")
APP_NAME_VARIABLE = "DATABRICKS_APP_NAME"
OWNER_VARIABLE = "APP_OWNER_EMAIL"
# The app's own service principal, which the platform puts in the app's
# environment: only the owner lookup may use it.
SERVICE_PRINCIPAL_VARIABLES = ("DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET")


class OwnerResolver:
    def __init__(
        self,
        app_name: str | None,
        *,
        override: str | None = None,
        env: Mapping[str, str] | None = None,
        boot_attempts: int = 3,
        boot_retry_seconds: float = 2.0,
        background_retry_seconds: float = 30.0,
        background_retry_max_seconds: float = 300.0,
        sdk_retry_timeout_seconds: int = 10,
        sdk_http_timeout_seconds: float = 10.0,
        log: logging.Logger | None = None,
    ) -> None:
        environ = env if env is not None else os.environ
        self.app_name = app_name
        self._override = _email(override) or owner_override(environ)
        self._boot_attempts = max(1, boot_attempts)
        self._boot_retry = boot_retry_seconds
        self._background_retry = background_retry_seconds
        self._background_max = max(background_retry_seconds, background_retry_max_seconds)
        self._sdk_retry_timeout = sdk_retry_timeout_seconds
        self._sdk_http_timeout = sdk_http_timeout_seconds
        self.log = log or LOG
        self.owner: str | None = self._override
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def source(self) -> str | None:
        if self.owner is None:
            return None
        return "override" if self._override else "app"

    def is_owner(self, email: str | None) -> bool:
        """Fail closed: nobody is the owner while the owner is unknown."""
        return self.owner is not None and _email(email) == self.owner

    async def start(self) -> str | None:
        """Try a few times now; if still unknown, keep trying in the background."""
        if self.owner is not None:
            return self.owner
        for attempt in range(1, self._boot_attempts + 1):
            if await self._try_once():
                return self.owner
            if attempt < self._boot_attempts:
                await asyncio.sleep(self._boot_retry)
        self.log.warning(
            "coda: app owner unknown after %d attempts (%s); access is denied until it resolves",
            self._boot_attempts,
            self.last_error,
        )
        self._task = asyncio.get_running_loop().create_task(self._keep_trying(), name="coda-owner-resolution")
        return None

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep_trying(self) -> None:
        delay = self._background_retry
        while self.owner is None:
            await asyncio.sleep(delay)
            if await self._try_once():
                return
            delay = min(delay * 2, self._background_max)

    async def _try_once(self) -> bool:
        if not self.app_name:
            self.last_error = "DATABRICKS_APP_NAME is not set and no owner override is configured"
            return False
        lookup = functools.partial(
            look_up_owner,
            self.app_name,
            sdk_retry_timeout_seconds=self._sdk_retry_timeout,
            sdk_http_timeout_seconds=self._sdk_http_timeout,
        )
        owner, self.last_error = await asyncio.get_running_loop().run_in_executor(None, lookup)
        if owner is None:
            return False
        self.owner = owner
        self.log.info("coda: app %s belongs to %s", self.app_name, owner)
        return True


def owner_override(env: Mapping[str, str]) -> str | None:
    """The owner named in ``APP_OWNER_EMAIL``, lower-cased, if any."""
    return _email(env.get(OWNER_VARIABLE))


def look_up_owner(
    app_name: str, *, sdk_retry_timeout_seconds: int = 10, sdk_http_timeout_seconds: float = 10.0
) -> tuple[str | None, str | None]:
    """``(owner, None)``, or ``(None, why not)``: the app's creator, lower-cased. Never raises."""
    try:
        creator = _app_creator(app_name, sdk_retry_timeout_seconds, sdk_http_timeout_seconds)
    except Exception as err:
        first_line = (str(err) or type(err).__name__).splitlines()[0]
        return None, f"{type(err).__name__}: {first_line}"[:300]
    owner = _email(creator)
    if owner is None:
        return None, f"app {app_name!r} reports no creator"
    return owner, None


def _app_creator(app_name: str, retry_timeout_seconds: int, http_timeout_seconds: float) -> str | None:
    # No explicit credentials: the SDK picks up the app's service principal
    # (DATABRICKS_HOST + DATABRICKS_CLIENT_ID/SECRET) from the environment.
    # Imported here: the SDK costs about a second, paid only when used.
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    config = Config(retry_timeout_seconds=retry_timeout_seconds, http_timeout_seconds=http_timeout_seconds)
    return WorkspaceClient(config=config).apps.get(name=app_name).creator


def _email(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value or None
