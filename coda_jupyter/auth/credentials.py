"""Databricks credentials: a pasted PAT becomes short-lived, rotating tokens.

The pasted personal access token (the "bootstrap" PAT) is used exactly twice:
to check who it belongs to and to mint the first short-lived token. It is
never stored and never revoked: the only tokens this module revokes are the
ones it minted itself, addressed by id. Those are recorded on disk before they
are minted (``minted.MintedTokens``), so a server killed mid-rotation and
started again revokes what its predecessor left behind and carries on with
the token it last wrote. Every Databricks call goes through databricks-sdk in
a worker thread so the server's event loop never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import inspect
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from traitlets import Float, Int, Unicode, default
from traitlets.config import LoggingConfigurable

from ..util.files import atomic_write
from . import databrickscfg
from .minted import MintedToken, MintedTokens, fingerprint

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


class ConfigFileUnusable(CredentialError):
    """~/.databrickscfg has a line nobody's parser accepts; coda will not rewrite it."""

    status = 409


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
    try:
        text = databrickscfg.read_text(databrickscfg_path())
        return text is not None and profile in databrickscfg.sections(text)
    except (OSError, databrickscfg.IniSyntaxError):
        return False


def sdk_profile_arguments(profile: str) -> dict[str, str]:
    """Arguments for the SDK's ``Config`` that select ``profile`` of ~/.databrickscfg.

    The SDK reads the whole file itself, as locale text with a strict parser,
    so one byte it cannot decode (or a repeated section) anywhere costs every
    profile. When that would happen, the profile's own values, read the
    tolerant way, are handed over instead. Raises ``ValueError`` like the SDK
    when the profile is missing.
    """
    from databricks.sdk.core import Config

    path = databrickscfg_path()
    if _sdk_reads(path):
        return {"profile": profile, "config_file": str(path)}
    try:
        values = databrickscfg.profile_values(databrickscfg.read_text(path) or "", profile)
    except databrickscfg.IniSyntaxError as err:
        raise ValueError(f"{path} {err}") from None
    if values is None:
        raise ValueError(f"{path} has no {profile} profile")
    known = {attribute.name for attribute in Config.attributes()}
    return {key: value for key, value in values.items() if key in known}


def _sdk_reads(path: Path) -> bool:
    # The same reader the SDK builds (databricks/sdk/config.py), imported here so
    # that a server start without the file does not pay for it.
    import configparser

    try:
        configparser.ConfigParser().read(path)
    except (UnicodeDecodeError, configparser.Error):
        return False
    return True


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


def write_profile(path: Path, profile: str, host: str, token: str) -> None:
    """Point ``profile`` at host+token atomically (0600); every other byte of the file stays.

    Through a symlink the link's target is written. A file with a line the
    SDK and the Databricks CLI could not parse either is refused with
    ``ConfigFileUnusable`` and left exactly as it is.
    """
    text = databrickscfg.read_text(path) or ""
    try:
        updated = databrickscfg.set_profile(text, profile, {"host": host, "token": token}, drop=_auth_keys())
    except databrickscfg.IniSyntaxError as err:
        raise ConfigFileUnusable(
            f"{path} {err}; coda did not change the file. Fix or remove that line, then retry."
        ) from None
    atomic_write(path, databrickscfg.encode(updated), mode=0o600)


def _is_auth_error(err: BaseException) -> bool:
    from databricks.sdk.errors import PermissionDenied, Unauthenticated

    return isinstance(err, (Unauthenticated, PermissionDenied))


def _is_not_found(err: BaseException) -> bool:
    from databricks.sdk.errors import NotFound

    return isinstance(err, NotFound)


def _timed_out(err: BaseException) -> bool:
    """Whether ``err``, or an error it was raised from, is a timeout."""
    from requests.exceptions import Timeout

    seen: BaseException | None = err
    for _depth in range(8):
        if seen is None:
            return False
        if isinstance(seen, (TimeoutError, Timeout)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _scrub(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class CredentialManager(LoggingConfigurable):
    """Owns the workspace token: validation, minting, persistence, rotation.

    ``mode`` ("apps" or "local") is reported in ``status()`` and decides
    whether ``start`` may fall back to ``local_profile``. ``profile`` names
    the ~/.databrickscfg section rotated tokens are written to and the one
    ``load_profile`` reads by default. ``journal`` is the 0600 file that
    records minted tokens until they are revoked (kept in memory when
    ``None``; then a restart cannot clean up after a crash). ``host`` and
    ``settings`` given here win over the traits (tests pass them).
    """

    host = Unicode(help="Workspace URL. Default: DATABRICKS_HOST (set by Databricks Apps).").tag(config=True)

    @default("host")
    def _default_host(self) -> str:
        return os.environ.get("DATABRICKS_HOST", "").strip()

    local_profile = Unicode(
        "DEFAULT",
        help="""Locally, the ~/.databrickscfg profile used at start when it holds
        working credentials (never rewritten). Empty to ignore the file.""",
    ).tag(config=True)

    token_lifetime = Int(900, help="Lifetime in seconds of each minted workspace token.").tag(config=True)

    rotation_interval = Float(600.0, help="Seconds between token rotations; must be shorter than token_lifetime.").tag(
        config=True
    )

    def __init__(
        self,
        host: str | None = None,
        *,
        mode: str = "local",
        profile: str = "DEFAULT",
        settings: RotationSettings | None = None,
        log: logging.Logger | None = None,
        journal: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.mode = mode
        self.profile = profile
        self.settings = settings or RotationSettings(
            lifetime_seconds=self.token_lifetime, interval_seconds=self.rotation_interval
        )
        if log is not None or self.parent is None:
            self.log = log or LOG
        self._host = normalise_host(host if host is not None else self.host or None)
        self._creds: Credentials | None = None
        self._source: str | None = None
        self._expired = False
        self._last_rotation: float | None = None
        self._last_error: str | None = None
        self._next_rotation: float | None = None
        # Every minted token not yet revoked; all but the current one are due.
        self._minted = MintedTokens(journal)
        self._available: list[Callback] = []
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # -- public API ------------------------------------------------------

    @property
    def credentials(self) -> Credentials | None:
        return self._creds

    def on_available(self, callback: Callback) -> None:
        """Called after every successful ``configure`` or ``load_profile``."""
        self._available.append(callback)

    def usable(self) -> bool:
        """Credentials are held and have not expired: what agents may be configured with."""
        return self._creds is not None and self.state() != "expired"

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
            except (OSError, ConfigFileUnusable) as err:
                await self._revoke_quietly(minted, minted.token_id)
                if isinstance(err, ConfigFileUnusable):
                    raise
                raise CredentialError(f"Could not write {databrickscfg_path()}: {err.strerror}") from None
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

    async def start(self) -> None:
        """At server start: carry on with the token minted last, else (locally) ``local_profile``."""
        # A restart (even after a crash) resumes its own token; the profile
        # the user configured is the fallback, and only locally.
        if await self.resume():
            return
        if self.mode == "local" and self.local_profile and profile_exists(self.local_profile):
            try:
                await self.load_profile(self.local_profile)
            except CredentialError as err:
                self.log.info("coda-jupyter: no usable Databricks profile (%s)", err)

    async def resume(self) -> bool:
        """At start: carry on with the token a previous run of this server wrote, if it still works.

        Only a token this server minted (found in the journal by its hash) is
        picked up, never one the user put in the profile. Tokens the previous
        run left behind (a kill mid-rotation) are revoked with it. Returns
        whether credentials were resumed; any failure is logged and ``False``.
        """
        async with self._lock:
            if self._creds is not None:
                return False
            try:
                found = await self._in_thread(self._last_written)
            except OSError as err:
                self.log.warning("coda: could not read %s (%s)", self._minted.path, err.strerror)
                return False
            if found is None:
                return False
            entry, token = found
            try:
                user = await self._in_thread(self._whoami, entry.host, token)
            except Exception as err:
                self.log.info(
                    "coda: the token in profile %s no longer works (%s)", self.profile, self._describe(err, token)
                )
                return False
            creds = Credentials(entry.host, user, token, entry.token_id, entry.expires_at)
            try:
                await self._in_thread(functools.partial(self._minted.update, entry.comment, pid=os.getpid()))
            except OSError as err:
                self.log.warning("coda: could not update %s (%s)", self._minted.path, err.strerror)
                return False
            self._host = entry.host
            self._install(creds, source="pat")
            # Rotation stays on the schedule of the token's own mint.
            self._last_rotation = entry.minted_at
            self.log.info("coda: resumed Databricks credentials for %s (token id %s)", user, entry.token_id)
            await self._revoke_pending()
            self._task = asyncio.get_running_loop().create_task(self._rotation_loop(), name="coda-token-rotation")
        await self._notify(self._available, creds)
        return True

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
        except (OSError, ConfigFileUnusable) as err:
            if isinstance(err, ConfigFileUnusable):
                self._last_error = str(err)
            else:
                self._last_error = f"Could not write {databrickscfg_path()}: {err.strerror}"
            self.log.warning("coda: %s; keeping the current token", self._last_error)
            await self._revoke_quietly(current, minted.token_id)
            return _Outcome.RETRY
        self._install(minted, source="pat")
        self.log.info("coda: rotated Databricks token (new id %s, previous id %s)", minted.token_id, current.token_id)
        return _Outcome.ROTATED

    async def _revoke_pending(self) -> None:
        """Revoke every minted token but the current one: ours, or left by a server that died."""
        try:
            await self._revoke_journaled()
        except OSError as err:
            # The journal could not be read or written (a full disk): the
            # entries stay, and the next rotation tries again.
            self.log.warning("coda: could not update %s (%s); will retry", self._minted.path, err.strerror)

    async def _revoke_journaled(self) -> None:
        creds = self._creds
        if creds is None or creds.token is None:
            return
        due: list[MintedToken] = []
        for entry in await self._in_thread(self._minted.entries):
            if entry.expired():
                await self._in_thread(functools.partial(self._minted.remove, comment=entry.comment))
            elif (
                entry.host == creds.host
                and entry.token_id != creds.token_id
                and (entry.pid == os.getpid() or entry.orphaned())
            ):
                due.append(entry)
        if any(entry.token_id is None for entry in due):
            due = await self._identify(creds, due)
        for entry in due:
            assert entry.token_id is not None
            try:
                await self._in_thread(self._revoke, creds.host, creds.token, entry.token_id)
            except Exception as err:
                # Already gone counts as revoked; anything else is retried later.
                if not _is_not_found(err):
                    self.log.warning(
                        "coda: could not revoke previous token id %s (%s); will retry",
                        entry.token_id,
                        self._describe(err, creds.token),
                    )
                    continue
            await self._in_thread(functools.partial(self._minted.remove, comment=entry.comment))
            self.log.info("coda: revoked previous token id %s", entry.token_id)

    async def _identify(self, creds: Credentials, due: list[MintedToken]) -> list[MintedToken]:
        """Give ids to the mints whose ``token/create`` never answered, found by their comment.

        A comment the workspace does not list means no such token is alive
        (never created, or already expired): nothing left to revoke.
        """
        assert creds.token is not None
        try:
            alive = await self._in_thread(self._ids_by_comment, creds.host, creds.token)
        except Exception as err:
            self.log.warning("coda: could not list tokens (%s); will retry", self._describe(err, creds.token))
            return [entry for entry in due if entry.token_id is not None]
        known: list[MintedToken] = []
        for entry in due:
            if entry.token_id is not None:
                known.append(entry)
            elif entry.comment in alive:
                token_id = alive[entry.comment]
                await self._in_thread(functools.partial(self._minted.update, entry.comment, token_id=token_id))
                known.append(replace(entry, token_id=token_id))
            else:
                await self._in_thread(functools.partial(self._minted.remove, comment=entry.comment))
        return known

    async def _revoke_quietly(self, auth: Credentials, token_id: str | None) -> None:
        if token_id is None or auth.token is None:
            return
        try:
            await self._in_thread(self._revoke, auth.host, auth.token, token_id)
            await self._in_thread(functools.partial(self._minted.remove, token_id=token_id))
        except Exception as err:
            # Still in the journal: the next round of revocations tries again.
            self.log.warning("coda: could not revoke token id %s (%s)", token_id, self._describe(err, auth.token))

    # -- helpers ---------------------------------------------------------

    def _install(self, creds: Credentials, source: str) -> None:
        self._creds = creds
        self._source = source
        self._expired = False
        self._last_error = None
        self._last_rotation = time.time()
        if self._next_rotation is not None:
            # The loop reschedules only once the rotation's callbacks are done;
            # meanwhile status() must not show a rotation due in the past.
            self._next_rotation = self._last_rotation + self.settings.interval_seconds

    def _holds_live_credentials(self) -> bool:
        return self.state() not in ("missing", "expired")

    async def _stop_loop(self) -> None:
        task, self._task = self._task, None
        self._next_rotation = None
        if task is None or task is asyncio.current_task():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

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
        if _timed_out(err):
            # Said in our words: the SDK reports a timeout as its own retry
            # deadline or as the HTTP library's read timeout, depending on its version.
            return f"Timed out: the workspace did not answer within {self.settings.sdk_http_timeout_seconds:g} s"
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
        # Journaled before asking, under a comment unique to this mint: if the
        # answer never arrives (a crash, a timeout) the token can still be
        # found with token/list and revoked.
        now = time.time()
        comment = f"{self.settings.comment} {secrets.token_hex(4)}"
        self._minted.add(MintedToken(comment, host, os.getpid(), now, now + self.settings.lifetime_seconds))
        created = self._client(host, token).tokens.create(
            lifetime_seconds=self.settings.lifetime_seconds, comment=comment
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
        self._minted.update(
            comment, token_id=info.token_id, sha256=fingerprint(created.token_value), expires_at=expires_at
        )
        return Credentials(host, user, created.token_value, info.token_id, expires_at)

    def _ids_by_comment(self, host: str, token: str) -> dict[str, str]:
        listed = self._client(host, token).tokens.list()
        return {info.comment: info.token_id for info in listed if info.comment and info.token_id}

    def _revoke(self, host: str, token: str, token_id: str) -> None:
        self._client(host, token).tokens.delete(token_id=token_id)

    def _last_written(self) -> tuple[MintedToken, str] | None:
        """The journal entry and value of our profile's token, if we minted it and it has not expired."""
        try:
            text = databrickscfg.read_text(databrickscfg_path())
            values = databrickscfg.profile_values(text or "", self.profile)
        except (OSError, databrickscfg.IniSyntaxError):
            return None
        token = (values or {}).get("token")
        entry = self._minted.find(token) if token else None
        if token is None or entry is None or entry.expired():
            return None
        if entry.pid != os.getpid() and not entry.orphaned():
            return None  # another server sharing this HOME is still rotating it
        if entry.host != normalise_host((values or {}).get("host")):
            return None
        return entry, token

    def _from_profile(self, name: str) -> Credentials:
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.core import Config

        timeouts = {
            "retry_timeout_seconds": self.settings.sdk_retry_timeout_seconds,
            "http_timeout_seconds": self.settings.sdk_http_timeout_seconds,
        }
        arguments: dict[str, Any] = {**sdk_profile_arguments(name), **timeouts}
        config = Config(**arguments)
        user = WorkspaceClient(config=config).current_user.me().user_name
        if not config.host or not user:
            raise ValueError("the profile names no workspace or user")
        token = config.token if config.auth_type == "pat" else None
        return Credentials(config.host.rstrip("/"), user, token, profile=name)
