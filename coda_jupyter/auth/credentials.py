"""Databricks credentials: a pasted PAT becomes short-lived, rotating tokens.

The pasted personal access token (the "bootstrap" PAT) is used exactly twice:
to check who it belongs to and to mint the first short-lived token. It is
never stored and never revoked: the only tokens this module revokes are the
ones it minted itself, addressed by id. Every Databricks call goes through
databricks-sdk in a worker thread so the server's event loop never blocks.
"""

from __future__ import annotations

import asyncio
import configparser
import enum
import functools
import inspect
import io
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar


from ..util.files import atomic_write

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

LOG = logging.getLogger("coda_jupyter.auth")

T = TypeVar("T")


class CredentialError(Exception):
    """A user-facing failure; ``status`` is the HTTP code a handler should use."""

    status = 500


class InvalidToken(CredentialError):
    status = 400


class MissingHost(CredentialError):
    status = 400


class ProfileUnavailable(CredentialError):
    status = 400


class AlreadyConfigured(CredentialError):
    status = 409


class WorkspaceUnavailable(CredentialError):
    status = 502


@dataclass(frozen=True)
class Credentials:
    """What callbacks receive. ``repr`` never shows the token."""

    host: str
    user: str
    token: str | None = field(repr=False)
    token_id: str | None = None
    expires_at: float | None = None
    # Set when the source is an existing ~/.databrickscfg profile (no rotation).
    profile: str | None = None


Callback = Callable[[Credentials], Awaitable[None] | None]


@dataclass(frozen=True)
class RotationSettings:
    lifetime_seconds: int = 900
    interval_seconds: float = 600.0
    backoff_initial_seconds: float = 5.0
    backoff_max_seconds: float = 120.0
    # The SDK retries 429/503 and timeouts itself for up to 5 minutes by
    # default; our own backoff handles retries, so keep the SDK's short.
    sdk_retry_timeout_seconds: int = 30
    sdk_http_timeout_seconds: float = 30.0
    comment: str = "coda-jupyter"

    def __post_init__(self) -> None:
        if self.lifetime_seconds <= 0 or self.interval_seconds <= 0:
            raise ValueError("token lifetime and rotation interval must be positive")
        if self.interval_seconds >= self.lifetime_seconds:
            raise ValueError("the rotation interval must be shorter than the token lifetime")
        if self.backoff_initial_seconds <= 0 or self.backoff_max_seconds < self.backoff_initial_seconds:
            raise ValueError("backoff must be positive and its maximum at least its initial value")


class _Outcome(enum.Enum):
    ROTATED = "rotated"
    RETRY = "retry"
    DEAD = "dead"


def databrickscfg_path() -> Path:
    """Where the SDK and CLI read profiles from (``DATABRICKS_CONFIG_FILE`` wins)."""
    override = os.environ.get("DATABRICKS_CONFIG_FILE")
    return Path(override).expanduser() if override else Path.home() / ".databrickscfg"


def profile_exists(profile: str) -> bool:
    """Whether ~/.databrickscfg has the section, read without the (slow to import) SDK."""
    parser = configparser.ConfigParser(interpolation=None, default_section="\0none")
    try:
        parser.read(databrickscfg_path(), encoding="utf-8")
    except configparser.Error:
        return False
    return parser.has_section(profile)


def normalise_host(host: str | None) -> str | None:
    """Apps may inject ``DATABRICKS_HOST`` without a scheme or with a trailing slash."""
    if not host or not host.strip():
        return None
    host = host.strip().rstrip("/")
    return host if "://" in host else f"https://{host}"


# Keys that select another way of authenticating; a profile holding our token
# must not keep them or the SDK refuses the profile as ambiguous.
@functools.lru_cache(maxsize=1)
def _auth_keys() -> frozenset[str]:
    from databricks.sdk.core import Config

    return frozenset({"auth_type"} | {a.name for a in Config.attributes() if a.auth})


def _profile_parser() -> configparser.ConfigParser:
    # DEFAULT is an ordinary section here so its keys never leak into others;
    # keys keep their case; duplicate sections merge instead of failing.
    parser = configparser.ConfigParser(interpolation=None, default_section="\0none", strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    return parser


def write_profile(path: Path, profile: str, host: str, token: str) -> None:
    """Point ``profile`` at host+token atomically (0600), keeping other profiles."""
    parser = _profile_parser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        # Neither we nor the SDK can read it; keep the user's bytes aside.
        aside = path.with_name(path.name + ".unreadable")
        path.replace(aside)
        LOG.warning("coda: %s was unreadable; moved it to %s", path, aside)
        parser = _profile_parser()
    kept = {}
    if parser.has_section(profile):
        kept = {k: v for k, v in parser[profile].items() if k not in _auth_keys() and k != "host"}
        parser.remove_section(profile)
    parser.add_section(profile)
    parser[profile].update({"host": host, "token": token, **kept})
    text = io.StringIO()
    parser.write(text)
    atomic_write(path, text.getvalue(), mode=0o600)


def _is_auth_error(err: BaseException) -> bool:
    from databricks.sdk.errors import PermissionDenied, Unauthenticated

    return isinstance(err, (Unauthenticated, PermissionDenied))


def _is_not_found(err: BaseException) -> bool:
    from databricks.sdk.errors import NotFound

    return isinstance(err, NotFound)


def _scrub(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class CredentialManager:
    """Owns the workspace token: validation, minting, persistence, rotation.

    ``mode`` is reported in ``status()`` only ("apps" or "local"). ``profile``
    names the ~/.databrickscfg section rotated tokens are written to and the
    one ``load_profile`` reads by default.
    """

    def __init__(
        self,
        host: str | None,
        *,
        mode: str = "local",
        profile: str = "DEFAULT",
        settings: RotationSettings | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.mode = mode
        self.profile = profile
        self.settings = settings or RotationSettings()
        self.log = log or LOG
        self._host = normalise_host(host)
        self._creds: Credentials | None = None
        self._source: str | None = None
        self._expired = False
        self._last_rotation: float | None = None
        self._last_error: str | None = None
        self._next_rotation: float | None = None
        # Minted tokens still to revoke, id -> expiry (dropped once expired).
        self._pending_revocations: dict[str, float | None] = {}
        self._available: list[Callback] = []
        self._rotated: list[Callback] = []
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # -- public API ------------------------------------------------------

    @property
    def credentials(self) -> Credentials | None:
        return self._creds

    def on_available(self, callback: Callback) -> None:
        """Called after every successful ``configure`` or ``load_profile``."""
        self._available.append(callback)

    def on_rotated(self, callback: Callback) -> None:
        """Called after each rotation, before the previous token is revoked."""
        self._rotated.append(callback)

    def state(self) -> str:
        creds = self._creds
        if creds is None:
            return "missing"
        now = time.time()
        if self._expired or (creds.expires_at is not None and now >= creds.expires_at):
            return "expired"
        # A healthy loop rotates when (lifetime - interval) is left; half of
        # that left means rotation has been failing for a while.
        running_out = (self.settings.lifetime_seconds - self.settings.interval_seconds) / 2
        if creds.expires_at is not None and creds.expires_at - now < running_out:
            return "expiring"
        if self._last_error:
            return "error"
        return "valid"

    def status(self) -> dict[str, Any]:
        creds = self._creds
        return {
            "mode": self.mode,
            "configured": creds is not None,
            "state": self.state(),
            "source": self._source,
            "user": creds.user if creds else None,
            "host": creds.host if creds else self._host,
            "expires_at": creds.expires_at if creds else None,
            "last_rotation": self._last_rotation,
            "next_rotation": self._next_rotation,
            "last_error": self._last_error,
        }

    async def configure(self, pat: str, *, replace: bool = False, host: str | None = None) -> dict[str, Any]:
        """Validate a pasted PAT, mint a short-lived token from it and start rotating."""
        pat = (pat or "").strip()
        if not pat:
            raise InvalidToken("A Databricks personal access token is required.")
        async with self._lock:
            if self._holds_live_credentials() and not replace:
                raise AlreadyConfigured(
                    "Databricks credentials are already configured; send replace=true to change them."
                )
            target = normalise_host(host) or self._host
            if target is None:
                raise MissingHost("No Databricks workspace host is known; pass the host with the token.")
            try:
                user = await self._in_thread(self._whoami, target, pat)
            except Exception as err:
                if _is_auth_error(err):
                    raise InvalidToken(
                        "The workspace rejected this token: it is invalid, expired or revoked."
                    ) from None
                raise WorkspaceUnavailable(f"Could not validate the token: {self._describe(err, pat)}") from None
            try:
                minted = await self._in_thread(self._mint, target, pat, user)
            except Exception as err:
                if _is_auth_error(err):
                    raise InvalidToken("This token may not create tokens; check its scopes.") from None
                raise WorkspaceUnavailable(
                    f"Could not create a short-lived token: {self._describe(err, pat)}"
                ) from None
            await self._stop_loop()
            try:
                await self._in_thread(write_profile, databrickscfg_path(), self.profile, target, minted.token or "")
            except OSError as err:
                await self._revoke_quietly(minted, minted.token_id)
                raise CredentialError(f"Could not write {databrickscfg_path()}: {err.strerror}") from None
            previous = self._creds
            if previous is not None and previous.token_id is not None:
                self._pending_revocations[previous.token_id] = previous.expires_at
            self._host = target
            self._install(minted, source="pat")
            self.log.info("coda: Databricks credentials configured for %s (token id %s)", user, minted.token_id)
            await self._revoke_pending()
            self._task = asyncio.get_running_loop().create_task(self._rotation_loop(), name="coda-token-rotation")
        await self._notify(self._available, minted)
        return self.status()

    async def load_profile(self, profile: str | None = None, *, replace: bool = False) -> dict[str, Any]:
        """Use an existing ~/.databrickscfg profile as-is: no minting, no rotation."""
        name = profile or self.profile
        async with self._lock:
            if self._holds_live_credentials() and not replace:
                raise AlreadyConfigured("Databricks credentials are already configured.")
            try:
                creds = await self._in_thread(self._from_profile, name)
            except ValueError as err:
                raise ProfileUnavailable(f"Profile {name!r} is not usable: {self._describe(err)}") from None
            except Exception as err:
                if _is_auth_error(err):
                    raise InvalidToken(f"The workspace rejected the credentials of profile {name!r}.") from None
                raise WorkspaceUnavailable(f"Could not validate profile {name!r}: {self._describe(err)}") from None
            await self._stop_loop()
            self._host = creds.host
            self._install(creds, source="profile")
            self._last_rotation = None
            self.log.info("coda: using Databricks profile %s for %s", name, creds.user)
        await self._notify(self._available, creds)
        return self.status()

    async def stop(self) -> None:
        """Stop rotating. Minted tokens are left to expire on their own."""
        async with self._lock:
            await self._stop_loop()

    # -- rotation --------------------------------------------------------

    async def _rotation_loop(self) -> None:
        failures = 0
        while True:
            delay = self._delay(failures)
            self._next_rotation = time.time() + delay
            await asyncio.sleep(delay)
            async with self._lock:
                outcome = await self._rotate_once()
            if outcome is _Outcome.DEAD:
                self._next_rotation = None
                return
            if outcome is _Outcome.RETRY:
                failures += 1
                continue
            failures = 0
            creds = self._creds
            if creds is not None:
                await self._notify(self._rotated, creds)
            async with self._lock:
                await self._revoke_pending()

    def _delay(self, failures: int) -> float:
        now = time.time()
        if failures == 0:
            due = (self._last_rotation or now) + self.settings.interval_seconds
            return max(0.0, due - now)
        backoff = min(
            self.settings.backoff_initial_seconds * 2.0 ** (failures - 1),
            self.settings.backoff_max_seconds,
        )
        expires_at = self._creds.expires_at if self._creds else None
        if expires_at is None:
            return backoff
        # Keep trying before the old token dies instead of sleeping past it.
        return min(backoff, max((expires_at - now) / 2, self.settings.backoff_initial_seconds))

    async def _rotate_once(self) -> _Outcome:
        current = self._creds
        if current is None or current.token is None:
            return _Outcome.DEAD
        if current.expires_at is not None and time.time() >= current.expires_at:
            self._expired = True
            self._last_error = "The token expired before it could be rotated; paste a new token."
            self.log.warning("coda: Databricks token expired before rotation succeeded")
            return _Outcome.DEAD
        try:
            minted = await self._in_thread(self._mint, current.host, current.token, current.user)
        except Exception as err:
            if _is_auth_error(err):
                self._expired = True
                self._last_error = "The workspace rejected the token (revoked or expired); paste a new token."
                self.log.warning(
                    "coda: Databricks token was rejected; rotation stopped until a new token is configured"
                )
                return _Outcome.DEAD
            self._last_error = f"Rotation failed, retrying: {self._describe(err, current.token)}"
            self.log.warning("coda: token rotation failed (%s); keeping the current token", self._last_error)
            return _Outcome.RETRY
        try:
            await self._in_thread(write_profile, databrickscfg_path(), self.profile, current.host, minted.token or "")
        except OSError as err:
            self._last_error = f"Could not write {databrickscfg_path()}: {err.strerror}"
            self.log.warning("coda: %s; keeping the current token", self._last_error)
            await self._revoke_quietly(current, minted.token_id)
            return _Outcome.RETRY
        if current.token_id is not None:
            self._pending_revocations[current.token_id] = current.expires_at
        self._install(minted, source="pat")
        self.log.info("coda: rotated Databricks token (new id %s, previous id %s)", minted.token_id, current.token_id)
        return _Outcome.ROTATED

    async def _revoke_pending(self) -> None:
        creds = self._creds
        if creds is None or creds.token is None:
            return
        now = time.time()
        for token_id, expires_at in list(self._pending_revocations.items()):
            if expires_at is not None and now >= expires_at:
                del self._pending_revocations[token_id]
                continue
            try:
                await self._in_thread(self._revoke, creds.host, creds.token, token_id)
            except Exception as err:
                # Already gone counts as revoked; anything else is retried later.
                if not _is_not_found(err):
                    self.log.warning(
                        "coda: could not revoke previous token id %s (%s); will retry",
                        token_id,
                        self._describe(err, creds.token),
                    )
                    continue
            del self._pending_revocations[token_id]
            self.log.info("coda: revoked previous token id %s", token_id)

    async def _revoke_quietly(self, auth: Credentials, token_id: str | None) -> None:
        if token_id is None or auth.token is None:
            return
        try:
            await self._in_thread(self._revoke, auth.host, auth.token, token_id)
        except Exception as err:
            self.log.warning("coda: could not revoke token id %s (%s)", token_id, self._describe(err, auth.token))

    # -- helpers ---------------------------------------------------------

    def _install(self, creds: Credentials, source: str) -> None:
        self._creds = creds
        self._source = source
        self._expired = False
        self._last_error = None
        self._last_rotation = time.time()

    def _holds_live_credentials(self) -> bool:
        return self.state() not in ("missing", "expired")

    async def _stop_loop(self) -> None:
        task, self._task = self._task, None
        self._next_rotation = None
        if task is None or task is asyncio.current_task():
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    async def _notify(self, callbacks: list[Callback], creds: Credentials) -> None:
        for callback in list(callbacks):
            try:
                result = callback(creds)
                if inspect.isawaitable(result):
                    await result
            except Exception as err:
                self.log.warning(
                    "coda: credentials callback %s failed: %s",
                    getattr(callback, "__qualname__", callback),
                    self._describe(err, creds.token),
                )

    async def _in_thread(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, func, *args)

    def _describe(self, err: BaseException, *secrets: str | None) -> str:
        known = [*secrets, self._creds.token if self._creds else None]
        first_line = (str(err) or type(err).__name__).splitlines()[0]
        return _scrub(f"{type(err).__name__}: {first_line}"[:300], known)

    # -- SDK calls (run in worker threads) -------------------------------

    def _client(self, host: str, token: str) -> WorkspaceClient:
        # Imported here: the SDK costs about a second, paid only when used.
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.core import Config

        config = Config(
            host=host,
            token=token,
            auth_type="pat",
            retry_timeout_seconds=self.settings.sdk_retry_timeout_seconds,
            http_timeout_seconds=self.settings.sdk_http_timeout_seconds,
        )
        return WorkspaceClient(config=config)

    def _whoami(self, host: str, token: str) -> str:
        user = self._client(host, token).current_user.me().user_name
        if not user:
            raise WorkspaceUnavailable("the workspace did not say who owns this token")
        return user

    def _mint(self, host: str, token: str, user: str) -> Credentials:
        created = self._client(host, token).tokens.create(
            lifetime_seconds=self.settings.lifetime_seconds, comment=self.settings.comment
        )
        info = created.token_info
        if not created.token_value or info is None or not info.token_id:
            raise WorkspaceUnavailable("token/create answered without a token")
        # The workspace's expiry is authoritative; our clock is the fallback.
        expires_at = (
            info.expiry_time / 1000
            if info.expiry_time and info.expiry_time > 0
            else time.time() + self.settings.lifetime_seconds
        )
        return Credentials(host, user, created.token_value, info.token_id, expires_at)

    def _revoke(self, host: str, token: str, token_id: str) -> None:
        self._client(host, token).tokens.delete(token_id=token_id)

    def _from_profile(self, name: str) -> Credentials:
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.core import Config

        config = Config(
            profile=name,
            config_file=str(databrickscfg_path()),
            retry_timeout_seconds=self.settings.sdk_retry_timeout_seconds,
            http_timeout_seconds=self.settings.sdk_http_timeout_seconds,
        )
        user = WorkspaceClient(config=config).current_user.me().user_name
        if not config.host or not user:
            raise ValueError("the profile names no workspace or user")
        token = config.token if config.auth_type == "pat" else None
        return Credentials(config.host.rstrip("/"), user, token, profile=name)
