"""Refreshing a session: the engine's refresh flows, in one place.

One refresh per session however many requests ask (``_SingleFlight`` in a process, the store's lease across
processes); the leader re-checks, spends the refresh token once (with a replayable ``Idempotency-Key`` where the
tokens live server-side), saves and releases; followers use its result. The outcome is told to the circuit breaker
once, applied to the request's :class:`~authkit_core.results.AuthResult` and emitted on the event channel.
:class:`RefreshFlows` is mixed into :class:`~authkit_core.engine.AuthKit`, which owns the attributes it reads.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping

from .breaker import CircuitBreaker
from .config import AuthKitConfig
from .cookies import SetCookie
from .engine_effects import _Emit, _SingleFlight, _Store
from .errors import (
    AuthKitError,
    ProviderBackoffError,
    SessionError,
    SessionUnavailableError,
    TokenError,
    TokenRefreshError,
    WorkOSAPIError,
)
from .events import EventChannel, RefreshCoalesced, RefreshFailed, RefreshGranted, SessionEnded, SessionRefreshed
from .flow import Flow, Sleep
from .models import Session, UserInfo
from .results import _SIGNED_OUT, AuthResult, log_fields
from .storage.base import LoadedSession, SessionStore
from .tokens import get_token_claims, user_info_from_session
from .workos_api import authenticate_with_refresh_token_flow, refresh_idempotency_key

__all__ = ["RefreshFlows"]

logger = logging.getLogger("authkit_session")


class RefreshFlows:
    """The refresh flows of :class:`~authkit_core.engine.AuthKit` (a mixin: the engine sets these attributes)."""

    config: AuthKitConfig
    store: SessionStore
    breaker: CircuitBreaker | None
    events: EventChannel
    clock: Callable[[], float]
    lease_seconds: float
    lease_wait_seconds: float
    _api_host: str
    _server_side: bool

    def _explicit_refresh_flow(
        self, result: AuthResult, cookies: Mapping[str, str], organization_id: str | None
    ) -> Flow[AuthResult]:
        if result.loaded is None:
            return result
        return (yield from self._refresh_flow(result, cookies, organization_id, explicit=True))

    def _refresh_flow(
        self,
        result: AuthResult,
        cookies: Mapping[str, str],
        organization_id: str | None,
        *,
        explicit: bool = False,
    ) -> Flow[AuthResult]:
        """Refresh ``result``'s session through the single-flight, and apply the outcome to ``result``."""
        loaded = result.loaded
        assert loaded is not None
        token_hash = hashlib.sha256(loaded.session.refresh_token.encode()).hexdigest()[:32]
        backoff_key = f"{loaded.key}:{token_hash}"
        key = f"{backoff_key}:{organization_id or ''}:{'x' if explicit else ''}"
        breaker = self.breaker
        retries = self.config.max_retries
        if breaker is not None:
            # an explicit refresh (a user's action: refresh_session, switch_to_organization) is held back only by an
            # open circuit, not by its session's back-off
            refusal = breaker.check(None if explicit else backoff_key)
            if refusal is not None:  # held back: answered at once, the session kept
                logger.debug("authkit: session refresh deferred (%s, %d s)", refusal.scope, refusal.retry_after)
                held = ProviderBackoffError(
                    f"refresh held back by the circuit breaker ({refusal.scope}); WorkOS at {self._api_host}",
                    retry_after=refusal.retry_after,
                )
                result.error = TokenRefreshError.wrap(
                    held, user_id=loaded.session.user.id, session_id=_sid(loaded.session)
                )
                result.retry_after = refusal.retry_after
                return result
            # a refresh the request can do without (its token is still valid) gets one attempt, no retries
            retries = breaker.max_retries(retries, needed=explicit or not isinstance(result.user_info, UserInfo))
        try:
            new_loaded, new_cookies = yield _SingleFlight(
                key,
                lambda: self._refresh_leader_flow(loaded, organization_id, explicit, backoff_key, retries),
                self._coalesced_in_process if self.events else None,
                "refresh",
            )
            info = user_info_from_session(new_loaded.session, get_token_claims(new_loaded.session.access_token))
        except AuthKitError as exc:
            error = TokenRefreshError.wrap(exc, user_id=loaded.session.user.id, session_id=_sid(loaded.session))
            if isinstance(exc, WorkOSAPIError) and exc.is_transient:
                result.retry_after = breaker.retry_after(backoff_key) if breaker is not None else None
                logger.warning(
                    "authkit: session refresh failed: %s (transient: True): WorkOS at %s unreachable or failing%s",
                    error.code,
                    self._api_host,
                    f"; next attempt for this session in {result.retry_after} s" if result.retry_after else "",
                    extra=log_fields("refresh_failed", error.code, True),
                )
            else:
                logger.warning(
                    "authkit: session refresh failed: %s (transient: %s)",
                    error.code,
                    error.is_transient,
                    extra=log_fields("refresh_failed", error.code, error.is_transient),
                )
            if self.events:  # on_session_refresh_error among the subscribers
                yield _Emit(self.events, RefreshFailed(error.code, error.is_transient, error))
            result.error = error
            # A refused organization switch leaves the current session as it was (WorkOS refused the grant, so
            # the refresh token was not spent); any other terminal failure ends the session, and so does a switch
            # whose session was signed out or revoked meanwhile (``session_not_found``).
            kept = explicit and organization_id is not None and error.code != "session_not_found"
            if not error.is_transient and not kept:
                try:
                    result.add_cookies((yield _Store("delete", (loaded, cookies))))
                except SessionError:
                    logger.warning("authkit: could not delete the ended session from the store")
                result.user_info, result.loaded, result.reason = _SIGNED_OUT, None, error.code
                if self.events:
                    self.events.emit(SessionEnded(error.code))
            # transient: the session is kept; a still-valid token keeps serving this request
            return result
        result.loaded, result.user_info, result.refreshed, result.error = new_loaded, info, True, None
        result.add_cookies(new_cookies)
        logger.debug("authkit: session refreshed", extra=log_fields("refreshed"))
        if self.events:  # on_session_refresh_success among the subscribers
            yield _Emit(self.events, SessionRefreshed(info))
        return result

    def _refresh_leader_flow(
        self, loaded: LoadedSession, organization_id: str | None, explicit: bool, backoff_key: str, retries: int
    ) -> Flow[tuple[LoadedSession, list[SetCookie]]]:
        """:meth:`_refresh_once_flow`, and its outcome told to the breaker once (not by every request that joined
        the single-flight): a transient provider failure backs the session off, any answer clears its back-off."""
        breaker = self.breaker
        try:
            outcome = yield from self._refresh_once_flow(loaded, organization_id, explicit, retries)
        except WorkOSAPIError as exc:
            if breaker is not None:
                if exc.is_transient:
                    breaker.session_failed(backoff_key, retry_after=getattr(exc, "retry_after", None))
                else:
                    breaker.session_done(backoff_key)
            raise
        if breaker is not None:
            breaker.session_done(backoff_key)
        return outcome

    def _refresh_once_flow(
        self, loaded: LoadedSession, organization_id: str | None, explicit: bool, retries: int | None = None
    ) -> Flow[tuple[LoadedSession, list[SetCookie]]]:
        """The leader's refresh: lease, re-check, grant, save (releasing the lease).

        With a store whose leases check versions (``lease_checks_version``, the SQL store) and a session read with
        its version, a granted lease proves the session unchanged since it was read, so the re-check needs no
        re-read: a refresh costs the lease and the save. A refusal there means "another process holds the lease"
        or "the session changed since it was read"; one re-read tells which."""
        owner = uuid.uuid4().hex
        started = time.perf_counter()
        old_refresh = loaded.session.refresh_token
        deadline = self.clock() + self.lease_wait_seconds
        delay = 0.02
        checks_version = bool(getattr(self.store, "lease_checks_version", False))
        current = loaded
        recheck = True
        while not (yield _Store("acquire_lease", (current, owner, self.lease_seconds))):
            if self.clock() >= deadline:
                raise SessionUnavailableError(
                    "timed out waiting for another process to refresh the session", code="lease_timeout"
                )
            if recheck and checks_version and current.version is not None:
                recheck = False  # once: afterwards every wait ends with a re-read anyway
                latest = yield _Store("reload", (current,))
                if latest is None:
                    raise TokenRefreshError("the session no longer exists", code="session_not_found")
                if latest.version != current.version:  # changed since read: reuse it, or lease it as it is now
                    if _refreshed_since(latest, old_refresh, organization_id) and not explicit:
                        return self._from_another_process(latest)
                    current = latest
                    continue
            # Another process is refreshing this session: wait for its result rather than race it.
            yield Sleep(delay)
            delay = min(delay * 2, 0.5)
            latest = yield _Store("reload", (current,))
            if latest is None:
                raise SessionError("the session ended while waiting for its refresh", code="session_not_found")
            if _refreshed_since(latest, old_refresh, organization_id):
                return self._from_another_process(latest)
            current = latest
        try:
            if not (checks_version and current.version is not None):  # the lease does not prove it current
                reloaded = yield _Store("reload", (current,))
                if reloaded is None:
                    raise TokenRefreshError("the session no longer exists", code="session_not_found")
                current = reloaded
                if _refreshed_since(current, old_refresh, organization_id) and not explicit:
                    yield _Store("release_lease", (current, owner))
                    return self._from_another_process(current)
            org = organization_id or _org_id(current.session)
            token = current.session.refresh_token
            # Where the tokens live server-side, every attempt to spend this token sends the same key, so a grant
            # whose answer was lost (timeouts, a crash or a storage failure before the save) is replayed later.
            key = refresh_idempotency_key(self.config.client_id, token, org) if self._server_side else None
            try:
                response = yield from authenticate_with_refresh_token_flow(
                    self.config, token, organization_id=org, idempotency_key=key, max_retries=retries
                )
            except AuthKitError as exc:
                if exc.is_transient:
                    raise
                # Refused. If our lease expired during a slow grant, another process may have taken over and
                # refreshed meanwhile (spending our token): its result is the session, which must not be ended.
                latest = yield from self._reload_quietly(current)
                if latest is not None and _refreshed_since(latest, current.session.refresh_token, organization_id):
                    logger.info("authkit: refresh refused, but another process had refreshed the session")
                    return self._from_another_process(latest)
                raise
            saved: tuple[LoadedSession, list[SetCookie]] = yield _Store(
                "update", (current, response.to_session(), owner)
            )
            if self.events:
                self.events.emit(RefreshGranted(time.perf_counter() - started))
            return saved
        except Exception:
            try:
                yield _Store("release_lease", (loaded, owner))
            except Exception:
                logger.warning("authkit: could not release a refresh lease (it will expire)")
            raise

    def _reload_quietly(self, loaded: LoadedSession) -> Flow[LoadedSession | None]:
        """``store.reload``, with a storage failure read as "nothing newer" (the caller reports its own error)."""
        try:
            current: LoadedSession | None = yield _Store("reload", (loaded,))
        except SessionError:
            return None
        return current

    def _coalesced_in_process(self) -> None:
        self.events.emit(RefreshCoalesced("process"))

    def _from_another_process(self, latest: LoadedSession) -> tuple[LoadedSession, list[SetCookie]]:
        """The session another process refreshed while this one waited for its lease: used as it is."""
        if self.events:
            self.events.emit(RefreshCoalesced("processes"))
        return latest, []


def _sid(session: Session) -> str | None:
    try:
        sid = get_token_claims(session.access_token).get("sid")
    except TokenError:
        return None
    return sid if isinstance(sid, str) else None


def _org_id(session: Session) -> str | None:
    try:
        org = get_token_claims(session.access_token).get("org_id")
    except TokenError:
        return None
    return org if isinstance(org, str) else None


def _refreshed_since(current: LoadedSession, old_refresh_token: str, organization_id: str | None) -> bool:
    """Whether someone else already rotated the session (into the wanted organization, if one was asked)."""
    if current.session.refresh_token == old_refresh_token:
        return False
    return organization_id is None or _org_id(current.session) == organization_id
