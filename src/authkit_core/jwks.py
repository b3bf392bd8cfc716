"""The JWKS cache: WorkOS's access-token signing keys, fetched rarely and verified against on every request.

The decisions live once, in the pure :class:`JWKSState` (no I/O, the clock is a parameter):

- fetch when there are no keys yet, when the keys are older than ``jwks_cache_ttl_seconds``, or when a token
  names an unknown ``kid`` and ``jwks_refetch_cooldown_seconds`` have passed since the last fetch (a flood of
  tokens with random ``kid``\\ s costs at most one fetch per cooldown);
- after a failed fetch, wait a cooldown before the next attempt (no hammering of a failing endpoint);
- while a refetch is in flight, callers whose ``kid`` the current (still usable) keys know do not wait for it;
- while refetches fail, keep serving the last good keys for ``jwks_stale_seconds`` past their TTL; a JWKS that
  does not parse is such a failure and keeps the old keys.

:class:`JWKSCache` (threads) and :class:`AsyncJWKSCache` (anyio: asyncio or trio, no blocking I/O) are thin
shells: each checks the state without a lock, and only when a fetch is due takes its lock, so concurrent callers
share one in-flight fetch and reuse its result. The fetch is :func:`~authkit_core.workos_api.fetch_jwks_flow`
driven by :func:`~authkit_core.flow.run_sync` or :func:`~authkit_core.flow.run_async`.

When no usable keys exist and the fetch fails, the caches raise :class:`JWKSUnavailableError` (a transient
:class:`~authkit_core.errors.ProviderUnavailableError`), never a :class:`~authkit_core.errors.TokenError`: a JWKS
outage is not a bad token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio
import httpx
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeyParameters, KeySet, RSAKey

from .breaker import CircuitBreaker
from .cache import BoundedCache
from .config import AuthKitConfig
from .errors import AuthKitError, InvalidResponseError, ProviderUnavailableError
from .flow import Flow, run_async, run_sync
from .observe import Observer, observed_async, observed_sync
from .tokens import ALGORITHM, ParsedToken, parse_token, token_expiry, verify_access_token
from .workos_api import fetch_jwks_flow

__all__ = [
    "MIN_RSA_KEY_BITS",
    "AsyncJWKSCache",
    "JWKSCache",
    "JWKSState",
    "JWKSUnavailableError",
    "parse_jwks",
]

_H = TypeVar("_H", httpx.Client, httpx.AsyncClient)
_L = TypeVar("_L", threading.Lock, anyio.Lock)

#: RSA keys shorter than this are ignored.
MIN_RSA_KEY_BITS = 2048
# The members of an RSA JWK that verification needs; anything else (notably private parts) is dropped.
_PUBLIC_RSA_MEMBERS = ("kty", "n", "e", "kid", "use", "alg")


class JWKSUnavailableError(ProviderUnavailableError):
    """No usable signing keys: the JWKS could not be fetched (or parsed) and no recent keys are cached.

    Transient. ``code`` is the cause's (``network_error``, ``timeout``, ``server_error``, ``invalid_response``
    ...); the cause is also in ``cause`` and ``__cause__``.
    """

    def __init__(self, message: str = "", *, cause: AuthKitError | None = None, code: str | None = None) -> None:
        self.cause = cause
        super().__init__(message, code=code if code is not None else getattr(cause, "code", None))


def _import_key(entry: object) -> RSAKey | None:
    if not isinstance(entry, Mapping) or entry.get("kty") != "RSA":
        return None
    if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
        return None
    key_ops = entry.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    modulus = entry.get("n")
    if not isinstance(modulus, str) or len(modulus) * 6 < MIN_RSA_KEY_BITS:  # too short (joserfc would warn)
        return None
    try:
        key = RSAKey.import_key({name: entry[name] for name in _PUBLIC_RSA_MEMBERS if name in entry})
    except (JoseError, ValueError, TypeError, KeyError):
        return None
    return key if key.public_key.key_size >= MIN_RSA_KEY_BITS else None


class _IndexedKeySet(KeySet):
    """The keys of one JWKS document, fixed once imported, with ``get_by_kid`` answered from a dict.

    Same answers as :meth:`KeySet.get_by_kid`: the first key with the ``kid`` among those whose ``use`` and ``alg``
    do not contradict ``parameters``. The dict holds the first key of each ``kid``; when that one is filtered out
    (or no ``kid`` is given) joserfc's own lookup answers.
    """

    def __init__(self, keys: list[Key]) -> None:
        super().__init__(keys)
        self._first: dict[str, tuple[Key, object, object]] = {}
        for key in self.keys:
            if key.kid is not None and key.kid not in self._first:
                self._first[key.kid] = (key, key.get("use"), key.get("alg"))

    def get_by_kid(self, kid: str | None = None, parameters: KeyParameters | None = None) -> Key:
        """The key for ``kid`` (see the class documentation)."""
        hit = self._first.get(kid) if kid is not None else None
        if hit is not None:
            key, use, alg = hit
            if not parameters:
                return key
            wanted_use, wanted_alg = parameters.get("use"), parameters.get("alg")
            if not (use and wanted_use and use != wanted_use) and not (alg and wanted_alg and alg != wanted_alg):
                return key
        return super().get_by_kid(kid, parameters)


def parse_jwks(jwks: object) -> KeySet:
    """Import the RS256 signing keys of a JWKS document, once, as joserfc key objects.

    Entries that are not RSA signature keys usable with RS256 (or of fewer than :data:`MIN_RSA_KEY_BITS` bits)
    are skipped. Raises :class:`~authkit_core.errors.InvalidResponseError` when ``jwks`` is not
    ``{"keys": [...]}`` or holds no usable key.
    """
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(entries, list):
        raise InvalidResponseError("the JWKS has no keys list")
    keys = [key for key in map(_import_key, entries) if key is not None]
    if not keys:
        raise InvalidResponseError("the JWKS holds no RSA signature key usable with RS256")
    return _IndexedKeySet(list(keys))


@dataclass(frozen=True, slots=True)
class _Keys:
    """One successful fetch, replaced as a whole so lock-free readers never see half an update."""

    key_set: KeySet
    kids: frozenset[str | None]
    fetched_at: float


class JWKSState:
    """The cache's memory and every decision it makes. Pure: no I/O, and each method takes the time ``now``.

    Thread-safe for one writer (the shell holding its fetch lock) and any number of lock-free readers.
    """

    def __init__(self, *, ttl: float, stale: float, cooldown: float) -> None:
        self.ttl = ttl
        self.stale = stale
        self.cooldown = cooldown
        self._keys: _Keys | None = None
        self._last_attempt_at: float | None = None
        self._last_failure: AuthKitError | None = None
        self._fetching = False

    @classmethod
    def from_config(cls, config: AuthKitConfig) -> JWKSState:
        """A state with the TTL, stale window and cooldown of ``config``."""
        return cls(
            ttl=config.jwks_cache_ttl_seconds,
            stale=config.jwks_stale_seconds,
            cooldown=config.jwks_refetch_cooldown_seconds,
        )

    @property
    def key_set(self) -> KeySet | None:
        """The last good keys, however old (``None`` before the first successful fetch)."""
        keys = self._keys
        return None if keys is None else keys.key_set

    def knows(self, kid: str | None) -> bool:
        """Whether the last good keys have ``kid``."""
        keys = self._keys
        return keys is not None and kid in keys.kids

    @property
    def fetched_at(self) -> float | None:
        """When the last good keys were fetched."""
        keys = self._keys
        return None if keys is None else keys.fetched_at

    @property
    def last_failure(self) -> AuthKitError | None:
        """The error of the last fetch, or ``None`` when it succeeded (or none happened)."""
        return self._last_failure

    def needs_fetch(self, kid: str | None, now: float) -> bool:
        """Whether a caller with a token signed with ``kid`` (``None``: no particular key) must fetch, or wait for
        the fetch in flight, before verifying.

        Never within a cooldown of a failed fetch. Never while a refetch is in flight if the current keys are
        still usable and know ``kid`` (stale-while-revalidate: requests do not queue behind a slow JWKS
        endpoint). Otherwise: when there are no keys, when they are past their TTL, or when ``kid`` is unknown
        and a cooldown has passed since the last fetch.
        """
        last = self._last_attempt_at
        cooled = last is None or now >= last + self.cooldown
        if self._last_failure is not None and not cooled:
            return False
        keys = self._keys
        if keys is None:
            return True
        known = kid is None or kid in keys.kids
        if self._fetching and known and now < keys.fetched_at + self.ttl + self.stale:
            return False
        if now >= keys.fetched_at + self.ttl:
            return True
        return not known and cooled

    def fresh_key_set(self, kid: str | None, now: float) -> KeySet | None:
        """The keys when they are within their TTL and know ``kid``, else ``None``.

        A shortcut for the common case: then :meth:`needs_fetch` is ``False`` and :meth:`usable_keys` gives these
        keys, whatever else the state holds. ``None`` means "ask those two".
        """
        keys = self._keys
        if keys is None or (kid is not None and kid not in keys.kids):
            return None
        expires = keys.fetched_at + self.ttl
        return keys.key_set if now < expires and now < expires + self.stale else None

    def usable_keys(self, now: float) -> KeySet | None:
        """The keys to verify with: the last good ones within their TTL plus the stale window, else ``None``."""
        keys = self._keys
        if keys is None or now >= keys.fetched_at + self.ttl + self.stale:
            return None
        return keys.key_set

    def key_set_or_raise(self, now: float) -> KeySet:
        """:meth:`usable_keys`, or :class:`JWKSUnavailableError` (carrying the last failure) when there are none."""
        key_set = self.usable_keys(now)
        if key_set is not None:
            return key_set
        cause = self._last_failure
        if cause is None:
            raise JWKSUnavailableError("no signing keys: the JWKS was not fetched recently", code="server_error")
        error = JWKSUnavailableError(f"cannot fetch the signing keys (JWKS): {cause.message}", cause=cause)
        raise error from cause

    def record_success(self, jwks: object, now: float) -> None:
        """Take a fetched JWKS document. One that does not parse counts as a failure and keeps the old keys."""
        try:
            key_set = parse_jwks(jwks)
        except InvalidResponseError as exc:
            self.record_failure(exc, now)
            return
        self._keys = _Keys(key_set, frozenset(key.kid for key in key_set), now)
        self._last_attempt_at = now
        self._last_failure = None

    def record_failure(self, error: AuthKitError, now: float) -> None:
        """Note a failed fetch: the keys stay, and the next attempt waits a cooldown."""
        self._last_attempt_at = now
        self._last_failure = error.with_traceback(None)  # keep the error, not the frames it was raised in

    def refresh_flow(self, fetch: Flow[Any], clock: Callable[[], float]) -> Flow[None]:
        """Run the ``fetch`` flow and record its outcome (an :class:`AuthKitError` is recorded, not raised).

        While it runs, the fetch counts as in flight for :meth:`needs_fetch`.
        """
        self._fetching = True
        try:
            jwks = yield from fetch
        except AuthKitError as exc:
            self.record_failure(exc, clock())
        else:
            self.record_success(jwks, clock())
        finally:
            self._fetching = False


class _CacheShell(Generic[_H, _L]):
    """What both shells share: construction, state, clock and the verification step."""

    def __init__(
        self,
        config: AuthKitConfig,
        *,
        http: _H | None = None,
        clock: Callable[[], float] = time.time,
        verified_cache_size: int = 4096,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.config = config
        #: Told the outcome of every JWKS fetch (see ``http.HttpCall``), when given: the engine's circuit breaker.
        self.breaker = breaker
        self.state = JWKSState.from_config(config)
        self.clock = clock
        self._owns_http = http is None
        self.http: _H = http if http is not None else self._new_client()
        self._lock: _L = self._new_lock()
        # Tokens already verified, with their claims, until they expire: a repeated request costs a dict lookup,
        # not an RSA verification. Bounded, least recently used first out.
        #: Told about every fetch (see ``observe.py``); ``None``: nothing is.
        self.observer: Observer | None = None
        self._verified: BoundedCache[str, dict[str, Any]] = BoundedCache(
            "verified_tokens", verified_cache_size, clock=clock
        )

    @property
    def verified_cache_size(self) -> int:
        """How many verified tokens are remembered (0: none)."""
        return self._verified.capacity

    def _recall(self, token: str) -> dict[str, Any] | None:
        """The claims of ``token`` if it was verified before and has not expired since."""
        hit = self._verified.get(token)
        return None if hit is None else dict(hit)

    def _remember(self, token: str, claims: dict[str, Any]) -> dict[str, Any]:
        exp = token_expiry(claims)
        if exp is not None:
            self._verified.put(token, dict(claims), exp + self.config.jwt_leeway_seconds)
        return claims

    def _note_skip(self, kid: str | None) -> None:
        """Tell the observer about a token whose unknown ``kid`` gets no fetch (inside the refetch cooldown)."""
        if self.observer is not None and kid is not None and not self.state.knows(kid):
            self.observer.count("jwks_cooldown_skip", {})

    def _new_client(self) -> _H:
        raise NotImplementedError

    def _new_lock(self) -> _L:
        raise NotImplementedError

    def _due(self, kid: str | None) -> bool:
        return self.state.needs_fetch(kid, self.clock())

    def _refresh_flow(self) -> Flow[None]:
        return self.state.refresh_flow(fetch_jwks_flow(self.config), self.clock)

    def _key_set(self) -> KeySet:
        return self.state.key_set_or_raise(self.clock())

    def _check(self, parsed: ParsedToken, key_set: KeySet, now: float | None = None) -> dict[str, Any]:
        config = self.config
        return verify_access_token(
            parsed,
            key_set,
            leeway=config.jwt_leeway_seconds,
            issuer=config.jwt_issuer,
            now=self.clock() if now is None else now,
        )


class JWKSCache(_CacheShell[httpx.Client, threading.Lock]):
    """The JWKS cache for threaded (sync) code: concurrent threads that need a fetch share one.

    Constructor: ``(config, *, http=None, clock=time.time, verified_cache_size=4096, breaker=None)``. Tokens
    verified once are remembered (claims until ``exp``, at most ``verified_cache_size``). ``http`` is the
    ``httpx.Client`` to fetch with (one is created, and closed by :meth:`close`, when omitted); ``clock`` gives the
    current Unix time; ``breaker`` (a :class:`~authkit_core.breaker.CircuitBreaker`) is told how each fetch went.
    """

    def _new_client(self) -> httpx.Client:
        return httpx.Client(timeout=self.config.http_timeout_seconds)

    def _new_lock(self) -> threading.Lock:
        return threading.Lock()

    def get_key_set(self, kid: str | None = None) -> KeySet:
        """The keys to verify a token signed with ``kid``, fetching first when the state says so.

        Raises :class:`JWKSUnavailableError` when there are no usable keys and the fetch fails.
        """
        if self._due(kid):
            with self._lock:
                if self._due(kid):  # another thread may have fetched while this one waited
                    if self.observer is None:
                        run_sync(self._refresh_flow(), self)
                    else:
                        attributes = {"authkit.face": "sync"}
                        observed_sync(self.observer, "jwks_fetch", attributes, run_sync, self._refresh_flow(), self)
        elif self.observer is not None:
            self._note_skip(kid)
        return self._key_set()

    def verify(self, token: str) -> dict[str, Any]:
        """Verify an access token and return its claims.

        :class:`~authkit_core.errors.TokenError` for a bad token (``unknown_key`` when its ``kid`` is still not
        in the JWKS after the refetch the cooldown allows); :class:`JWKSUnavailableError` in a JWKS outage.
        """
        claims = self._recall(token)
        if claims is not None:
            return claims
        parsed = parse_token(token)
        now = self.clock()
        key_set = self.state.fresh_key_set(parsed.kid, now)
        if key_set is not None:
            return self._remember(token, self._check(parsed, key_set, now))
        return self._remember(token, self._check(parsed, self.get_key_set(parsed.kid)))

    def close(self) -> None:
        """Close the HTTP client if this cache created it."""
        if self._owns_http:
            self.http.close()


class AsyncJWKSCache(_CacheShell[httpx.AsyncClient, anyio.Lock]):
    """The JWKS cache for async code (anyio: asyncio or trio): concurrent tasks that need a fetch await one.

    Constructor: ``(config, *, http=None, clock=time.time, verified_cache_size=4096, breaker=None)``; verified
    tokens are remembered as in :class:`JWKSCache`. ``http`` is the ``httpx.AsyncClient`` to fetch with (one is
    created, and closed by :meth:`aclose`, when omitted); ``clock`` gives the current Unix time; ``breaker`` as in
    :class:`JWKSCache`. Nothing on this path blocks the event loop.
    """

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.config.http_timeout_seconds)

    def _new_lock(self) -> anyio.Lock:
        return anyio.Lock()

    async def get_key_set(self, kid: str | None = None) -> KeySet:
        """As :meth:`JWKSCache.get_key_set`; the waiters await the one in-flight fetch."""
        if self._due(kid):
            async with self._lock:
                if self._due(kid):  # another task may have fetched while this one waited
                    if self.observer is None:
                        await run_async(self._refresh_flow(), self)
                    else:
                        attributes = {"authkit.face": "async"}
                        flow = self._refresh_flow()
                        await observed_async(self.observer, "jwks_fetch", attributes, run_async, flow, self)
        elif self.observer is not None:
            self._note_skip(kid)
        return self._key_set()

    async def verify(self, token: str) -> dict[str, Any]:
        """Verify an access token and return its claims (errors as :meth:`JWKSCache.verify`)."""
        claims = self._recall(token)
        if claims is not None:
            return claims
        parsed = parse_token(token)
        now = self.clock()
        key_set = self.state.fresh_key_set(parsed.kid, now)
        if key_set is not None:
            return self._remember(token, self._check(parsed, key_set, now))
        return self._remember(token, self._check(parsed, await self.get_key_set(parsed.kid)))

    async def aclose(self) -> None:
        """Close the HTTP client if this cache created it."""
        if self._owns_http:
            await self.http.aclose()
