r"""The one bounded cache every cache of the library is built on, and the memory budget that sizes them.

:class:`BoundedCache` is a least-recently-used map with an optional expiry per entry. A hit is a dictionary lookup,
an expiry comparison and a ``move_to_end``; nothing takes a lock (each ``OrderedDict`` operation is atomic, and a
race between two of them costs at most a miss or one entry fewer). When the cache is full, a new key is admitted
only on its second miss within the last ``capacity / 8`` missed keys (a "doorkeeper" of their hashes, never the
keys): a working set larger than the cache (every user in turn, the worst case of LRU, where every lookup would
miss) then keeps what it holds and gets the hits a cache of its size can give (a share ``capacity / N``), while
a key asked for again and again (a busy user) gets in on its second request. A miss costs a lookup and a hash, so
with everything missing the engine costs what it costs with caching off.

The caches, what they hold, and their bound (``S`` is :attr:`CacheBudget.sessions`, from the engine's
``cache_memory_mb``, default :data:`DEFAULT_CACHE_MEMORY_MB`, 256 MB: about 23,000 sessions on the cookie store,
35,000 on a server-side one):

| cache | where | key -> value | bound | dropped when |
|---|---|---|---|---|
| warm results | ``engine.AuthKit`` | cookie value -> request's answer | ``S`` | token due, sign-out |
| warm headers | ``engine.AuthKit`` | whole ``Cookie`` header -> request's answer | ``S`` | token due, sign-out |
| built ``UserInfo`` | ``engine.AuthKit`` | access token -> (session, ``UserInfo``) | ``S`` | token expired |
| verified bearer tokens | ``engine.AuthKit`` | token -> ``UserInfo`` | ``S`` | token expired |
| verified tokens | ``jwks.JWKSCache`` | token -> claims | ``S`` | token expired (+ leeway) |
| opened cookies | ``storage.CookieSessionStore`` | cookie value -> session | ``S`` | sign-out, new passwords |
| ``Cookie`` header parses* | ``cookies`` | header -> cookies | largest ``S`` | evicted only |
| opened handles* | ``storage.handles`` | (cookie value, passwords) -> handle | largest ``S`` | session deleted |
| sealed handles* | ``storage.handles`` | handle -> cookie value | largest ``S`` | session deleted |
| record ciphers* | ``storage.sealed_payload`` | handle -> AES-GCM key | largest ``S`` | session deleted |
| seal keys* | ``iron`` | (password, salt) -> HMAC and AES keys | largest ``S`` | evicted only |

\* process-wide: one per process, shared by its engines.

``cache_results=False`` (the engine) sets ``S`` to 0 for that engine: none of its caches keeps anything, and it
asks nothing of the process-wide ones beyond what other engines asked. A process-wide cache is as large as the
largest budget any engine of the process asked for. Small pure memos of configuration (a password set's id, a
cookie name's chunk names) stay ``functools.lru_cache`` with a handful of entries.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from .errors import ConfigurationError

__all__ = [
    "DOORKEEPER_SHARE",
    "DEFAULT_CACHE_MEMORY_MB",
    "SESSION_CACHE_BYTES",
    "BoundedCache",
    "CacheBudget",
    "grow_shared",
    "shared_capacity",
]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: The engine's default budget for everything it caches per session.
DEFAULT_CACHE_MEMORY_MB = 256.0
#: A full cache remembers the hashes of its last ``capacity // DOORKEEPER_SHARE`` missed keys (see the module).
DOORKEEPER_SHARE = 8
#: What one cached session costs across every cache, by store kind, measured with ``tracemalloc`` over requests
#: carrying a ~2.1 KB sealed cookie in a ``Cookie`` header (``tests/engine/test_caches.py`` keeps these honest).
#: Cookie store, 11.5 KB: the session itself (tokens, user) and its ``UserInfo`` (the warm result, ~6.4 KB with the
#: cookie value), the header parse (~2.6 KB: the raw header is kept to confirm a hit), the verified claims
#: (~1.2 KB), the rest (opened cookie, built ``UserInfo``, seal keys). Server-side stores, 7.5 KB: the session, its
#: ``UserInfo`` and claims, the header parse, the opened handle and the record cipher.
SESSION_CACHE_BYTES = {"cookie": 11_500, "server": 7_500}

_INFINITY = float("inf")


class BoundedCache(Generic[K, V]):
    """A bounded least-recently-used map whose entries may expire (see the module). ``capacity`` 0 keeps nothing.

    ``clock`` is read only for entries stored with an expiry."""

    __slots__ = ("_data", "_door", "_door_size", "capacity", "clock", "name")

    def __init__(self, name: str, capacity: int, *, clock: Callable[[], float] | None = None) -> None:
        self.name = name
        self.clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._door: OrderedDict[int, None] = OrderedDict()
        self.capacity = self._door_size = 0
        self.resize(capacity)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K) -> V | None:
        """The value stored for ``key``, unless it expired (then it is dropped); ``None`` on a miss."""
        hit = self._data.get(key)
        if hit is None:
            return None
        expires = hit[0]
        if expires != _INFINITY and self.clock is not None and expires <= self.clock():
            self._data.pop(key, None)
            return None
        try:  # noqa: SIM105 (contextlib.suppress costs more than the hit)
            self._data.move_to_end(key)
        except KeyError:  # evicted by another thread meanwhile: still a valid answer for this lookup
            pass
        return hit[1]

    def put(self, key: K, value: V, expires_at: float = _INFINITY) -> bool:
        """Store ``value`` for ``key`` until ``expires_at`` (clock time); whether it was stored (a full cache admits
        a new key only now and then, see the module)."""
        capacity = self.capacity
        if capacity <= 0:
            return False
        data = self._data
        if key not in data and len(data) >= capacity:
            door, seen = self._door, hash(key)
            if seen not in door:  # first miss lately: remember only that it missed
                door[seen] = None
                while len(door) > self._door_size:
                    try:
                        door.popitem(last=False)
                    except KeyError:
                        break
                return False
            door.pop(seen, None)
        data[key] = (expires_at, value)
        try:  # noqa: SIM105 (as in get)
            data.move_to_end(key)  # an update keeps its place otherwise
        except KeyError:  # evicted by another thread between the two lines: stored and dropped, as if evicted
            pass
        while len(data) > capacity:
            try:
                data.popitem(last=False)
            except KeyError:  # emptied by another thread
                break
        return True

    def discard(self, key: K) -> None:
        """Forget ``key``."""
        self._data.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        self._data.clear()
        self._door.clear()

    def resize(self, capacity: int) -> None:
        """Change the bound (shrinking drops the least recently used entries)."""
        self.capacity = max(0, int(capacity))
        self._door_size = max(16, self.capacity // DOORKEEPER_SHARE) if self.capacity else 0
        while len(self._data) > self.capacity:
            try:
                self._data.popitem(last=False)
            except KeyError:
                break


class CacheBudget:
    """A memory budget in megabytes, and how many sessions it holds for a store kind (``cookie``, ``server``)."""

    __slots__ = ("megabytes",)

    def __init__(self, megabytes: float = DEFAULT_CACHE_MEMORY_MB) -> None:
        if megabytes < 0 or megabytes != megabytes:
            raise ConfigurationError("cache_memory_mb must be a number >= 0")
        self.megabytes = float(megabytes)

    def sessions(self, kind: str = "cookie") -> int:
        """How many sessions the budget caches on a store of this kind."""
        return int(self.megabytes * 1024 * 1024 // SESSION_CACHE_BYTES.get(kind, SESSION_CACHE_BYTES["cookie"]))


# the process-wide caches and their entries per session, grown to the largest budget asked
_shared: list[tuple[BoundedCache[Any, Any], int]] = []


def shared_capacity(cache: BoundedCache[K, V], *, per_session: int = 1) -> BoundedCache[K, V]:
    """Register a process-wide cache (``per_session`` entries per cached session), so :func:`grow_shared` sizes
    it; returns it."""
    _shared.append((cache, per_session))
    return cache


def grow_shared(sessions: int) -> None:
    """Make every process-wide cache hold at least ``sessions`` sessions (an engine's budget; never shrinks)."""
    for cache, per_session in _shared:
        if cache.capacity < sessions * per_session:
            cache.resize(sessions * per_session)
