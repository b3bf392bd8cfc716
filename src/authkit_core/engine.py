"""The session engine: :class:`AuthKit`, created once per application.

For each request it loads the session from the store, verifies the access token, refreshes it when needed (once,
however many requests ask at the same time) and reports which cookies to write back. Every operation is a flow
(see ``flow.py``) written once; ``AuthKit.authenticate`` drives it with blocking I/O and
``AuthKit.authenticate_async`` with anyio, and likewise for the other operations.

Failure policy (the same as authkit-nextjs, plus coordination):

* a terminal refresh failure (``invalid_grant``, a revoked session, an authentication step required) ends the
  session: the store entry is deleted and the cookie expired;
* a transient one (network, timeout, 408/429/5xx, storage outage) keeps everything; if the current access token is
  still valid the request is served with it, otherwise it is served signed out (``AuthResult.error`` says why and
  ``retry_after`` when to come back; the middleware answers a page that requires sign-in with a 503);
* with the circuit breaker (``breaker.py``, on by default), a session whose refresh failed transiently is not
  refreshed again before its back-off passes, nor any session while the provider-wide circuit is open: such a
  request is answered at once (with the still-valid token, or signed out with ``provider_unavailable``). A refresh
  whose token is still valid is tried once, without retries;
* with the server-side stores (memory, SQL), every attempt to spend one refresh token carries the same
  ``Idempotency-Key`` (derived from the token), so a grant WorkOS processed but whose answer or save was lost is
  replayed by the next attempt instead of being refused;
* a cookie that does not unseal, a token with a bad signature or for another user is a signed-out request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from .bearer import user_info_from_claims
from .breaker import CircuitBreaker
from .cache import DEFAULT_CACHE_MEMORY_MB, BoundedCache, CacheBudget, grow_shared
from .config import AuthKitConfig
from .cookies import CookieJar, expired_cookie, header_key
from .coordination import AsyncSingleFlight, SingleFlight
from .engine_effects import _AsyncIO, _Store, _SyncIO, _Verify
from .errors import AuthKitError, ProviderBackoffError, SessionError, TokenError, TokenRefreshError
from .events import Event, EventChannel, RefreshFailed, SessionEnded, SessionRefreshed
from .flow import Flow, run_async, run_sync
from .jwks import AsyncJWKSCache, JWKSCache
from .models import AuthenticationResponse, Session, UserInfo
from .observe import Observer, attach, store_kind
from .redirects import absolute_return_url
from .refresh import RefreshFlows, _sid
from .results import _SIGNED_OUT, AuthResult, log_fields
from .storage.base import LoadedSession, LoadResult, SessionStore
from .storage.cookie import CookieSessionStore, chunk_names
from .tokens import get_token_claims, needs_refresh, refresh_buffer, token_expiry, user_info_from_session
from .workos_api import authenticate_with_code_flow, logout_url, validate_api_key_flow

__all__ = ["AuthKit", "AuthResult", "RefreshErrorCallback", "RefreshSuccessCallback", "WarmHeader", "log_fields"]

#: What :meth:`AuthKit.peek_header` answers: the request's cookies, its ``UserInfo`` and its loaded session.
WarmHeader = tuple[CookieJar, UserInfo, LoadedSession]

logger = logging.getLogger("authkit_session")


#: ``on_session_refresh_success(user_info)``; may be a coroutine function on the async face.
RefreshSuccessCallback = Callable[[UserInfo], Any]
#: ``on_session_refresh_error(error, is_transient)``; may be a coroutine function on the async face.
RefreshErrorCallback = Callable[[TokenRefreshError, bool], Any]

# --- the engine (its refresh flows are in refresh.py, its effects in engine_effects.py) -------------------


class AuthKit(RefreshFlows):
    """The session engine. Create one per application and share it between requests and threads.

    ``store`` defaults to :class:`~authkit_core.storage.CookieSessionStore`. ``lease_seconds`` bounds how long a
    crashed process can hold a shared store's refresh lease; ``lease_wait_seconds`` how long a request waits for
    another process's refresh before giving up (transiently). ``cache_memory_mb`` bounds what the engine and its store
    remember between requests (recently authenticated cookies, verified tokens, built ``UserInfo``, opened cookies;
    see :mod:`authkit_core.cache` for every cache, its key and its bound): the default, 256 MB, holds about 23,000
    sessions on the cookie store and 35,000 on a server-side one, and past it a request pays the uncached path.
    ``cache_results=False`` turns every cache of the engine and its store off, so every request verifies from
    scratch.

    ``breaker`` is the :class:`~authkit_core.breaker.CircuitBreaker` every call to WorkOS reports to and every
    refresh asks first (``True``, the default: one with its default settings; ``False`` or ``None``: none, every
    due refresh is attempted with the configured retries, as before the breaker existed). See
    ``docs/configuration.md``.
    """

    def __init__(
        self,
        config: AuthKitConfig | None = None,
        *,
        store: SessionStore | None = None,
        on_session_refresh_success: RefreshSuccessCallback | None = None,
        on_session_refresh_error: RefreshErrorCallback | None = None,
        http: httpx.Client | None = None,
        async_http: httpx.AsyncClient | None = None,
        lease_seconds: float = 30.0,
        lease_wait_seconds: float = 10.0,
        cache_results: bool = True,
        cache_memory_mb: float = DEFAULT_CACHE_MEMORY_MB,
        clock: Callable[[], float] = time.time,
        breaker: CircuitBreaker | bool | None = True,
    ) -> None:
        self.config = config if config is not None else AuthKitConfig.from_env()
        self.store: SessionStore = store if store is not None else CookieSessionStore()
        self.store.bind(self.config)
        self.on_session_refresh_success = on_session_refresh_success
        self.on_session_refresh_error = on_session_refresh_error
        self.lease_seconds = lease_seconds
        self.lease_wait_seconds = lease_wait_seconds
        self.clock = clock
        #: The circuit breaker (``None``: off).
        self.breaker: CircuitBreaker | None = (
            breaker if isinstance(breaker, CircuitBreaker) else CircuitBreaker() if breaker is True else None
        )
        #: ``host[:port]`` of the WorkOS API, for log lines.
        self._api_host = urlsplit(self.config.api_base_url).netloc
        self._http = http
        self._async_http = async_http
        self.cache_results = cache_results
        #: The caches' memory budget (0 with ``cache_results=False``) and how many sessions it holds here.
        self.cache_budget = CacheBudget(cache_memory_mb if cache_results else 0)
        self._warm_key: Callable[[Mapping[str, str]], str | None] | None = getattr(self.store, "cache_key", None)
        # a store whose load does no I/O (memory): its live entry is checked on the warm path (see peek)
        self._load_now: Callable[[Mapping[str, str]], LoadResult] | None = getattr(self.store, "load_now", None)
        sessions = self.cache_budget.sessions("cookie" if self._warm_key is not None else "server")
        if not cache_results:
            self._warm_key = self._load_now = None
        # access token -> (the session object it was built for, its UserInfo)
        self._infos: BoundedCache[str, tuple[Session, UserInfo]] = BoundedCache("user_info", sessions, clock=clock)
        # recently authenticated cookies of a cookie-only store: value -> (UserInfo, session), until the token is due
        # (UserInfo, session, until when): the entry's own expiry, kept for the header cache below
        self._warm: BoundedCache[str, tuple[UserInfo, LoadedSession, float]] = BoundedCache(
            "warm", sessions, clock=clock
        )
        # the whole Cookie header of a request answered from _warm -> the answer, until the same time (peek_header)
        self._warm_headers: BoundedCache[str | bytes, WarmHeader] = BoundedCache("warm_headers", sessions, clock=clock)
        # bearer tokens verified a moment ago: token -> its UserInfo, until it expires (see peek_bearer)
        self._bearers: BoundedCache[str, UserInfo] = BoundedCache("bearer", sessions, clock=clock)
        self._cache_sessions = sessions
        size_caches = getattr(self.store, "size_caches", None)
        if size_caches is not None:
            size_caches(sessions)
        grow_shared(sessions)
        #: The event channel (see :mod:`authkit_core.events`): subscribe to observe refreshes, sign-outs ...
        self.events = EventChannel()
        if on_session_refresh_success is not None or on_session_refresh_error is not None:
            self.events.subscribe(self._refresh_callbacks)  # errors logged, as the callbacks always were
        #: What times and traces the engine's operations (see :meth:`observe`); ``None``: nothing does.
        self.observer: Observer | None = None
        self._sync_io: _SyncIO | None = None
        self._async_io: _AsyncIO | None = None
        # Stores whose refresh tokens never come from the browser (memory, SQL) get replayable refresh grants.
        self._server_side = bool(getattr(self.store, "keeps_tokens_server_side", False))

    def _user_info(self, session: Session, claims: dict[str, Any]) -> UserInfo:
        """``UserInfo`` for a verified session, remembered per session object (stores that cache what they open
        hand back the same object for the same cookie, so a repeated request builds nothing)."""
        hit = self._infos.get(session.access_token)
        if hit is not None and hit[0] is session:
            return hit[1]
        info = user_info_from_session(session, claims)
        exp = token_expiry(claims)
        if exp is not None:
            self._infos.put(session.access_token, (session, info), exp)
        return info

    def peek(self, cookies: Mapping[str, str]) -> AuthResult | None:
        """What :meth:`authenticate` would answer, without doing anything, when this exact session cookie was
        authenticated a moment ago and its access token is not yet due for a refresh; else ``None``.

        For a store whose session lives wholly in the cookie (``CookieSessionStore``: nothing server-side can
        revoke it, so remembering the answer until the token is due is exactly as strong as recomputing it), a
        repeated request costs one dictionary lookup. For a store whose load does no I/O (``MemorySessionStore``)
        the live entry is read first, and the answer is reused only for that very session object (a deleted,
        revoked, expired or refreshed session is never answered from memory). Stores with I/O (SQL, Redis): never.
        """
        if getattr(cookies, "duplicates", None):
            return None
        if self._warm_key is None:
            return self._peek_live(cookies) if self._load_now is not None else None
        key = self._warm_key(cookies)
        hit = self._warm.get(key) if key is not None else None
        if hit is None:
            return None
        info, loaded, until = hit
        self._remember_header(cookies, info, loaded, until)
        return AuthResult(info, loaded)

    def peek_header(self, header: str | bytes) -> WarmHeader | None:
        """:meth:`peek` for a request whose only ``Cookie`` header is ``header`` (as the server handed it over):
        ``(its cookies, the UserInfo, the loaded session)`` when :meth:`peek` answered for this very header a moment
        ago and that answer still stands (not signed out, the token not due); else ``None``, and the caller parses
        the header and goes on as usual. The middleware's hot path: one lookup keyed on
        :func:`~authkit_core.cookies.header_key`, the whole header compared, and no object built."""
        hit = self._warm_headers.get(header[:: (len(header) >> 5) or 1])  # header_key(header), inlined
        return hit if hit is not None and hit[0].header == header else None

    def _remember_header(self, cookies: Mapping[str, str], info: UserInfo, loaded: LoadedSession, until: float) -> None:
        """Let :meth:`peek_header` answer the next request carrying the very header ``cookies`` were parsed from."""
        if isinstance(cookies, CookieJar) and cookies.header is not None:
            self._warm_headers.put(header_key(cookies.header), (cookies, info, loaded), until)

    def _peek_live(self, cookies: Mapping[str, str]) -> AuthResult | None:
        """The warm path of a store without I/O (memory): its entry is read as :meth:`authenticate` would (so a
        deleted, revoked, expired or refreshed session is never answered from memory), and the answer computed for
        that very session object is reused while its token is not due."""
        assert self._load_now is not None
        loaded = self._load_now(cookies).loaded
        if loaded is None:
            return None
        hit = self._warm.get(loaded.session.access_token)
        if hit is None or hit[1].session is not loaded.session:
            return None
        return AuthResult(hit[0], loaded)

    def _remember_warm(
        self, cookies: Mapping[str, str], info: UserInfo, loaded: LoadedSession, claims: Mapping[str, Any], buffer: int
    ) -> None:
        if self._warm_key is not None:
            key = self._warm_key(cookies)
        elif self._load_now is not None:  # checked against the live entry on the way back (see _peek_live)
            key = loaded.session.access_token
        else:  # results are not remembered (cache_results=False, or a store with I/O)
            return
        exp = token_expiry(claims)
        if key is None or exp is None:
            return
        until = exp - buffer if buffer > 0 else exp
        self._warm.put(key, (info, loaded, until), until)
        if self._warm_key is not None:  # a cookie-only store: the header alone names the session
            self._remember_header(cookies, info, loaded, until)

    def peek_bearer(self, token: str) -> AuthResult | None:
        """What :meth:`verify_bearer` would answer for a token it verified a moment ago and that has not expired
        since (a dictionary lookup); else ``None``. Only successes are remembered, until the token's ``exp``."""
        hit = self._bearers.get(token)
        return None if hit is None else AuthResult(hit, bearer=True)

    def _remember_bearer(self, token: str, info: UserInfo, claims: Mapping[str, Any]) -> None:
        exp = token_expiry(claims)
        if exp is not None:
            self._bearers.put(token, info, exp)

    # resources are created on first use, so an app that is only sync (or only async) never builds the other
    def _sio(self) -> _SyncIO:
        if self._sync_io is None:
            http = self._http or httpx.Client(timeout=self.config.http_timeout_seconds)
            self._sync_io = _SyncIO(
                http,
                JWKSCache(
                    self.config,
                    http=http,
                    clock=self.clock,
                    verified_cache_size=self._cache_sessions,
                    breaker=self.breaker,
                ),
                self.store,
                SingleFlight(),
                self.breaker,
                self.observer,
                store_kind(self.store),
            )
            self._sync_io.jwks.observer = self.observer
        return self._sync_io

    def _aio(self) -> _AsyncIO:
        if self._async_io is None:
            http = self._async_http or httpx.AsyncClient(timeout=self.config.http_timeout_seconds)
            jwks = AsyncJWKSCache(
                self.config,
                http=http,
                clock=self.clock,
                verified_cache_size=self._cache_sessions,
                breaker=self.breaker,
            )
            jwks.observer = self.observer
            self._async_io = _AsyncIO(
                http, jwks, self.store, AsyncSingleFlight(), self.breaker, self.observer, store_kind(self.store)
            )
        return self._async_io

    def _refresh_callbacks(self, event: Event) -> Any:
        """The ``on_session_refresh_*`` callbacks as a subscriber of the event channel (what they return is
        returned: an awaitable is awaited on the async face)."""
        if isinstance(event, SessionRefreshed) and self.on_session_refresh_success is not None:
            return self.on_session_refresh_success(event.user_info)
        if isinstance(event, RefreshFailed) and self.on_session_refresh_error is not None:
            return self.on_session_refresh_error(event.error, event.transient)
        return None

    def observe(self, observer: Observer | None) -> None:
        """Report every operation (authentication, refresh, sign-in, store and WorkOS calls, JWKS fetches) to
        ``observer`` (``None``: stop); see :mod:`authkit_core.observe`. Without one, nothing is timed or traced.
        :func:`authkit_core.telemetry.instrument` attaches OpenTelemetry's."""
        attach(self, observer)

    def close(self) -> None:
        """Close the HTTP client this engine created for the sync face."""
        if self._sync_io is not None and self._http is None:
            self._sync_io.http.close()
        self._sync_io = None

    async def aclose(self) -> None:
        """Close the HTTP client this engine created for the async face."""
        if self._async_io is not None and self._async_http is None:
            await self._async_io.http.aclose()
        self._async_io = None

    # --- public operations: one flow each, two shells -------------------------------------------------------------

    def authenticate(self, cookies: Mapping[str, str], *, refresh: bool = True) -> AuthResult:
        """Load and verify the request's session, refreshing it when it is about to expire.

        ``refresh=False`` never refreshes (for a response that cannot carry cookies, such as a websocket
        handshake: a rotated refresh token that never reaches the browser would end the session). A token near
        expiry is then served as it is, and an expired one makes the request signed out without ending the session.
        """
        warm = self.peek(cookies)
        return warm if warm is not None else self._authenticate_now(cookies, refresh)

    def _authenticate_now(self, cookies: Mapping[str, str], refresh: bool) -> AuthResult:
        return run_sync(self._authenticate_flow(cookies, refresh), self._sio())

    async def _authenticate_now_async(self, cookies: Mapping[str, str], refresh: bool) -> AuthResult:
        return await run_async(self._authenticate_flow(cookies, refresh), self._aio())

    async def authenticate_async(self, cookies: Mapping[str, str], *, refresh: bool = True) -> AuthResult:
        """Async :meth:`authenticate`."""
        warm = self.peek(cookies)
        return warm if warm is not None else await self._authenticate_now_async(cookies, refresh)

    def refresh(
        self, result: AuthResult, cookies: Mapping[str, str], *, organization_id: str | None = None
    ) -> AuthResult:
        """Refresh now (into ``organization_id`` when given, else the current organization). Updates and returns
        ``result``; a failure is in ``result.error`` (a :class:`TokenRefreshError`)."""
        return run_sync(self._explicit_refresh_flow(result, cookies, organization_id), self._sio())

    async def refresh_async(
        self, result: AuthResult, cookies: Mapping[str, str], *, organization_id: str | None = None
    ) -> AuthResult:
        """Async :meth:`refresh`."""
        return await run_async(self._explicit_refresh_flow(result, cookies, organization_id), self._aio())

    def exchange_code(
        self, code: str, code_verifier: str | None, cookies: Mapping[str, str], **client_info: str | None
    ) -> AuthResult:
        """Complete a sign-in: trade the code for tokens and store a new session under a new handle
        (:meth:`authenticate_with_code` then :meth:`save_session`)."""
        return run_sync(self._exchange_code_flow(code, code_verifier, cookies, client_info), self._sio())

    def authenticate_with_code(
        self, code: str, code_verifier: str | None, **client_info: str | None
    ) -> AuthenticationResponse:
        """Trade a sign-in's code (and its PKCE verifier) for tokens, storing nothing: the first half of
        :meth:`exchange_code`, for a caller that decides whether to keep the session (the middleware's
        ``on_success`` runs between the two halves) and then calls :meth:`save_session`. ``client_info`` is
        ``ip_address``/``user_agent``."""
        return run_sync(self._authenticate_code_flow(code, code_verifier, client_info), self._sio())

    async def authenticate_with_code_async(
        self, code: str, code_verifier: str | None, **client_info: str | None
    ) -> AuthenticationResponse:
        """Async :meth:`authenticate_with_code`."""
        return await run_async(self._authenticate_code_flow(code, code_verifier, client_info), self._aio())

    async def exchange_code_async(
        self, code: str, code_verifier: str | None, cookies: Mapping[str, str], **client_info: str | None
    ) -> AuthResult:
        """Async :meth:`exchange_code`."""
        return await run_async(self._exchange_code_flow(code, code_verifier, cookies, client_info), self._aio())

    def verify_bearer(self, token: str) -> AuthResult:
        """Authenticate an ``Authorization: Bearer`` access token (see :mod:`authkit_core.bearer`): signed in with the
        token's :class:`UserInfo`, or signed out with ``reason`` (and ``error``) saying why: a token that fails
        verification (``token_expired``, ``invalid_signature``, ``invalid_audience`` ...), or the JWKS unreachable
        (a transient ``error``). Never refreshed, no cookie; ``AuthResult.bearer`` is set."""
        return run_sync(self._bearer_flow(token), self._sio())

    async def verify_bearer_async(self, token: str) -> AuthResult:
        """Async :meth:`verify_bearer`."""
        return await run_async(self._bearer_flow(token), self._aio())

    def validate_api_key(self, value: str) -> dict[str, Any] | None:
        """Ask WorkOS whether ``value`` is a live API key: its ``api_key`` object, or ``None`` when it is not.

        Runs through the engine's HTTP client and circuit breaker: while the circuit is open it raises
        :class:`~authkit_core.errors.ProviderBackoffError` at once, and after a recent failure it is not retried.
        Other failures raise as :class:`~authkit_core.errors.WorkOSAPIError` subclasses."""
        return run_sync(self._validate_api_key_flow(value), self._sio())

    async def validate_api_key_async(self, value: str) -> dict[str, Any] | None:
        """Async :meth:`validate_api_key`."""
        return await run_async(self._validate_api_key_flow(value), self._aio())

    def save_session(self, result: AuthResult, response: AuthenticationResponse, cookies: Mapping[str, str]) -> None:
        """Store a session obtained elsewhere (e.g. an email/password sign-in your app did itself)."""
        run_sync(self._save_flow(result, response, cookies), self._sio())

    async def save_session_async(
        self, result: AuthResult, response: AuthenticationResponse, cookies: Mapping[str, str]
    ) -> None:
        """Async :meth:`save_session`."""
        await run_async(self._save_flow(result, response, cookies), self._aio())

    def sign_out(self, result: AuthResult, cookies: Mapping[str, str], *, return_to: str | None = None) -> str | None:
        """End the session (store entry deleted, cookies expired on ``result``); returns WorkOS's logout URL when
        there was a session, which the browser should be sent to. ``return_to`` (where WorkOS sends the browser
        next) is checked like every redirect target (:func:`~authkit_core.redirects.absolute_return_url`): a path
        is put on the redirect URI's origin, an absolute URL must be on an allowed origin, else it is left out."""
        return run_sync(self._sign_out_flow(result, cookies, return_to), self._sio())

    async def sign_out_async(
        self, result: AuthResult, cookies: Mapping[str, str], *, return_to: str | None = None
    ) -> str | None:
        """Async :meth:`sign_out`."""
        return await run_async(self._sign_out_flow(result, cookies, return_to), self._aio())

    # --- flows (no I/O: every I/O is a yielded effect) -----------------------------------------------------------

    def ambiguous_cookie_names(self, cookies: Mapping[str, str]) -> list[str]:
        """The session cookie names (the cookie, its chunks) that ``cookies`` carried twice with different values
        (a :class:`~authkit_core.cookies.CookieJar`'s ``duplicates``). Such a request is signed out: one copy may
        be another account's, planted by a sibling subdomain, and nothing tells which is the browser's own."""
        duplicates = getattr(cookies, "duplicates", None)
        if not duplicates:
            return []
        # only names a store could have written (``wos-session.¹`` or 500 junk chunks are not ours: never echoed)
        return [n for n in chunk_names(self.config.cookie_name) if n in duplicates]

    def _authenticate_flow(self, cookies: Mapping[str, str], refresh: bool = True) -> Flow[AuthResult]:
        ambiguous = self.ambiguous_cookie_names(cookies)
        if ambiguous:
            logger.warning(
                "authkit: the session cookie came twice with different values (a planted or stale copy): "
                "the request is signed out and every copy expired",
                extra=log_fields("session_rejected", "ambiguous_session_cookie", False),
            )
            expiries = [expired_cookie(self.config, name) for name in ambiguous]
            if self.events:
                self.events.emit(SessionEnded("ambiguous_session_cookie"))
            return AuthResult(_SIGNED_OUT, cookies=expiries, reason="ambiguous_session_cookie")
        try:
            load: LoadResult = yield _Store("load", (cookies,))
        except SessionError as exc:  # storage outage: keep the cookie, serve signed out this time
            logger.warning(
                "authkit: session store unavailable: %s",
                exc.code,
                extra=log_fields("storage_unavailable", exc.code, True),
            )
            return AuthResult(_SIGNED_OUT, error=exc)
        result = AuthResult(_SIGNED_OUT, cookies=list(load.cookies), reason=load.reason)
        if load.loaded is None:
            if load.reason and self.events:
                self.events.emit(SessionEnded(load.reason))
            if load.reason:
                logger.info(
                    "authkit: session cookie rejected: %s",
                    load.reason,
                    extra=log_fields("session_rejected", load.reason),
                )
            return result
        loaded = load.loaded
        current: UserInfo | None = None
        claims: dict[str, Any] | None = None
        try:
            claims = yield _Verify(loaded.session.access_token)
            current = self._user_info(loaded.session, claims)
        except TokenError as exc:
            # An expired token, or one signed by a key the cached JWKS does not have yet (a rotation that landed
            # inside the refetch cooldown), is refreshed: the refresh needs no JWKS and the seal proves the cookie
            # is ours. Anything else (bad signature, another user's token) ends the session.
            if exc.code not in ("token_expired", "unknown_key"):
                logger.info(
                    "authkit: access token rejected: %s",
                    exc.code,
                    extra=log_fields("session_rejected", exc.code, False),
                )
                result.add_cookies((yield _Store("delete", (loaded, cookies))))
                result.reason = exc.code
                if self.events:
                    self.events.emit(SessionEnded(exc.code))
                return result
        except AuthKitError as exc:  # JWKS unreachable and no usable keys: keep the session, try later
            if not exc.is_transient:
                raise
            logger.warning(
                "authkit: cannot verify the access token now: %s",
                exc.code,
                extra=log_fields("verify_failed", exc.code, True),
            )
            result.loaded, result.error = loaded, exc
            return result
        result.loaded = loaded
        if current is not None and claims is not None:
            result.user_info = current
            buffer = refresh_buffer(claims, self.config.refresh_buffer_seconds)
            if not needs_refresh(claims, now=self.clock(), buffer=buffer):
                self._remember_warm(cookies, current, loaded, claims, buffer)
                return result
            if not refresh:
                return result
        if not refresh:
            result.reason = "token_expired"
            return result
        return (yield from self._refresh_flow(result, cookies, None))

    def _bearer_flow(self, token: str) -> Flow[AuthResult]:
        warm = self.peek_bearer(token)
        if warm is not None:
            return warm
        try:
            if not token:
                raise TokenError("the Authorization header holds no bearer token", code="invalid_token")
            claims = yield _Verify(token)
            info = user_info_from_claims(self.config, token, claims)
        except TokenError as exc:
            fields = log_fields("bearer_rejected", exc.code, False)
            logger.info("authkit: bearer token rejected: %s", exc.code, extra=fields)
            return AuthResult(_SIGNED_OUT, error=exc, reason=exc.code, bearer=True)
        except AuthKitError as exc:  # JWKS unreachable and no usable keys
            if not exc.is_transient:
                raise
            logger.warning(
                "authkit: cannot verify the bearer token now: %s",
                exc.code,
                extra=log_fields("verify_failed", exc.code, True),
            )
            return AuthResult(_SIGNED_OUT, error=exc, bearer=True)
        self._remember_bearer(token, info, claims)
        return AuthResult(info, bearer=True)

    def _validate_api_key_flow(self, value: str) -> Flow[dict[str, Any] | None]:
        breaker = self.breaker
        retries = None
        if breaker is not None:
            refusal = breaker.check()
            if refusal is not None:
                raise ProviderBackoffError(
                    f"API key validation held back: WorkOS at {self._api_host} is failing",
                    retry_after=refusal.retry_after,
                )
            retries = breaker.max_retries(self.config.max_retries, needed=True)
        return (yield from validate_api_key_flow(self.config, value, max_retries=retries))

    def _exchange_code_flow(
        self, code: str, code_verifier: str | None, cookies: Mapping[str, str], client_info: Mapping[str, str | None]
    ) -> Flow[AuthResult]:
        response = yield from self._authenticate_code_flow(code, code_verifier, client_info)
        result = AuthResult(_SIGNED_OUT)
        yield from self._save_flow(result, response, cookies)
        return result

    def _authenticate_code_flow(
        self, code: str, code_verifier: str | None, client_info: Mapping[str, str | None]
    ) -> Flow[AuthenticationResponse]:
        unknown = set(client_info) - {"ip_address", "user_agent"}
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        return (
            yield from authenticate_with_code_flow(
                self.config,
                code,
                code_verifier=code_verifier,
                ip_address=client_info.get("ip_address"),
                user_agent=client_info.get("user_agent"),
            )
        )

    def _save_flow(
        self, result: AuthResult, response: AuthenticationResponse, cookies: Mapping[str, str]
    ) -> Flow[None]:
        # Drop whatever session the browser had (its cookies, and its record in a server-side store) ...
        old = LoadResult(None)
        if not self.ambiguous_cookie_names(cookies):  # an ambiguous cookie names no session to drop
            old = yield _Store("load", (cookies,))
        result.add_cookies((yield _Store("delete", (old.loaded, cookies))))
        # ... and store the new one under a new handle: no session fixation.
        loaded, new_cookies = yield _Store("create", (response.to_session(),))
        result.add_cookies(new_cookies)
        result.loaded = loaded
        result.user_info = user_info_from_session(loaded.session, get_token_claims(loaded.session.access_token))
        result.error, result.reason = None, None

    def _sign_out_flow(self, result: AuthResult, cookies: Mapping[str, str], return_to: str | None) -> Flow[str | None]:
        session = result.session
        key = self._warm_key(cookies) if self._warm_key is not None else None
        if key is not None:  # a signed-out cookie is not answered from memory again
            self._warm.discard(key)
            if isinstance(cookies, CookieJar) and cookies.header is not None:
                self._warm_headers.discard(header_key(cookies.header))
        result.add_cookies((yield _Store("delete", (result.loaded, cookies))))
        result.loaded, result.user_info = None, _SIGNED_OUT
        if session is not None and self.events:
            self.events.emit(SessionEnded("sign_out"))
        sid = _sid(session) if session is not None else None
        # the return URL is checked like every redirect target (WorkOS's allow-list is a second line, not the only one)
        return logout_url(self.config, sid, absolute_return_url(self.config, return_to)) if sid else None
