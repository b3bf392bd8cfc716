"""``MemorySessionStore``: sessions in this process's memory, bounded (LRU) with a time-to-live.

For tests and single-process apps. The cookie holds a sealed random handle (see ``handles.py``); sign-out deletes
the entry, so a copied cookie stops working, and :meth:`MemorySessionStore.revoke_user_sessions` deletes every
entry of a user. An entry that is gone (deleted, revoked, expired or evicted) stays gone: :meth:`update`, the save
at the end of a refresh, only replaces an entry that is still there, so a refresh grant in flight during a sign-out
cannot bring the session back. Everything is lost when the process exits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from ..config import AuthKitConfig
from ..cookies import SetCookie, expired_cookie, session_cookie
from ..errors import ConfigurationError, SealError, SessionError
from ..models import Session
from .base import LoadedSession, LoadResult, SyncStoreMixin
from .handles import forget_handle, handle_id, new_handle, open_handle, seal_handle

logger = logging.getLogger("authkit_session")

__all__ = ["ENTRY_BYTES", "MemorySessionStore"]


#: What one session costs in the store, measured with ``tracemalloc`` (the session with its tokens and user, the
#: entry and its index; ``tests/storage/test_memory_store.py`` keeps it honest).
ENTRY_BYTES = 2400


class MemorySessionStore(SyncStoreMixin):
    """At most ``max_memory_mb`` of sessions (default 32 MB: about 14,000 sessions at :data:`ENTRY_BYTES` each; or
    exactly ``max_entries`` sessions when given), least recently used evicted first, each kept ``ttl_seconds`` after
    its last save (default: the cookie's max age). Sign-out and :meth:`revoke_user_sessions` end a session for good: a
    refresh in flight cannot bring it back (see :meth:`update`).

    An evicted session is a sign-out: that user's next request is signed out (and signs in again). Evictions are
    counted (:attr:`evictions`) and logged on the ``authkit_session`` logger: a warning at the first one and at
    every 1,000th after it, with the bound, so a store too small for its users shows in the logs (and
    :func:`authkit_core.telemetry.instrument` exports the count as ``authkit.store.evictions``). Size the bound for
    the active users of one process, or use a shared store (SQL, Redis), which evicts nothing."""

    shared = False
    #: The ``authkit.store`` attribute of its metrics (see ``observe.py``).
    kind = "memory"
    #: The browser holds only a handle: refresh grants may use a replayable ``Idempotency-Key`` (see the engine).
    keeps_tokens_server_side = True

    def __init__(
        self,
        *,
        max_entries: int | None = None,
        max_memory_mb: float = 32.0,
        ttl_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries is None:
            if not max_memory_mb > 0:
                raise ConfigurationError("max_memory_mb must be a number > 0")
            max_entries = max(1, int(max_memory_mb * 1024 * 1024 // ENTRY_BYTES))
        if max_entries < 1:
            raise ConfigurationError("max_entries must be at least 1")
        #: The bound, in sessions (from ``max_memory_mb`` unless given).
        self.max_entries = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, Session]] = OrderedDict()
        # user id -> the key of that user's entry, or a set of keys when there are several; kept in step with
        # ``_entries`` under ``_lock`` (so it never holds more keys than there are entries: eviction, expiry,
        # delete and revocation all go through ``_drop``). A lone key is stored as itself: most users have one
        # session, and a set per entry would cost more than the rest of the index.
        self._by_user: dict[str, str | set[str]] = {}
        self._config: AuthKitConfig | None = None
        #: How many sessions were evicted to stay within ``max_entries`` (each one a sign-out).
        self.evictions = 0

    def bind(self, config: AuthKitConfig) -> None:
        """Receive the configuration."""
        self._config = config

    @property
    def config(self) -> AuthKitConfig:
        """The bound configuration."""
        if self._config is None:
            raise ConfigurationError("MemorySessionStore is not bound: pass it to AuthKit(store=...)")
        return self._config

    def __len__(self) -> int:
        return len(self._entries)

    def _ttl_seconds(self) -> float:
        return float(self.config.cookie_max_age) if self._ttl is None else self._ttl

    def _get(self, key: str) -> Session | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def _drop(self, key: str) -> None:
        """Remove ``key``'s entry and its place in the per-user index (caller holds ``_lock``)."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._unindex(key, entry)

    def _unindex(self, key: str, entry: tuple[float, Session]) -> None:
        """Remove the dropped ``key`` from the per-user index (caller holds ``_lock``)."""
        user = entry[1].user.id
        keys = self._by_user.get(user)
        if keys is None:
            return
        if isinstance(keys, str):
            if keys == key:
                del self._by_user[user]
            return
        keys.discard(key)
        if len(keys) <= 1:
            if keys:
                self._by_user[user] = next(iter(keys))
            else:
                del self._by_user[user]

    def _index(self, user: str, key: str) -> None:
        """Add ``key`` to ``user``'s keys (caller holds ``_lock``)."""
        keys = self._by_user.get(user)
        if keys is None:
            self._by_user[user] = key
        elif isinstance(keys, str):
            if keys != key:
                self._by_user[user] = {keys, key}
        else:
            keys.add(key)

    def _keys_of(self, user: str) -> list[str]:
        """The keys of ``user``'s entries (caller holds ``_lock``)."""
        keys = self._by_user.get(user)
        if keys is None:
            return []
        return [keys] if isinstance(keys, str) else list(keys)

    def _store(self, key: str, session: Session) -> None:
        """Write ``key``'s entry, most recently used, and evict beyond the bound (caller holds ``_lock``)."""
        old = self._entries.get(key)
        if old is not None and old[1].user.id != session.user.id:
            self._drop(key)
        self._entries[key] = (self._clock() + self._ttl_seconds(), session)
        self._entries.move_to_end(key)
        self._index(session.user.id, key)
        while len(self._entries) > self.max_entries:
            # the least recently used key, found in O(1) (``next(iter(...))`` slows down as the dict churns)
            self._unindex(*self._entries.popitem(last=False))
            self.evictions += 1
            if self.evictions % 1000 == 1:
                logger.warning(
                    "authkit: the memory session store is full (max_entries=%d): the least recently used session "
                    "was evicted, and its user is signed out (%d evictions so far); raise max_memory_mb or use a "
                    "shared store",
                    self.max_entries,
                    self.evictions,
                )

    def _put(self, key: str, session: Session) -> None:
        with self._lock:
            self._store(key, session)

    def _replace(self, key: str, session: Session) -> bool:
        """Replace ``key``'s entry only if it is still there and unexpired; whether it was."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False
            if entry[0] <= self._clock():
                self._drop(key)
                return False
            self._store(key, session)
            return True

    def load_now(self, cookies: Mapping[str, str]) -> LoadResult:
        """:meth:`load`, which does no I/O here: the engine may call it on its warm path (see ``AuthKit.peek``),
        so a repeated request is answered after checking the live entry, not a copy of it."""
        return self.load(cookies)

    def load(self, cookies: Mapping[str, str]) -> LoadResult:
        """The session the cookie's handle points to."""
        name = self.config.cookie_name
        value = cookies.get(name)
        if not value:
            return LoadResult(None)
        try:
            handle = open_handle(value, self.config.cookie_passwords)
        except SealError as exc:
            return LoadResult(None, (expired_cookie(self.config, name),), reason=exc.code)
        key = handle_id(handle)
        session = self._get(key)
        if session is None:
            return LoadResult(None, (expired_cookie(self.config, name),), reason="not_found")
        return LoadResult(LoadedSession(session, key, handle))

    def create(self, session: Session) -> tuple[LoadedSession, list[SetCookie]]:
        """Store under a new handle."""
        handle = new_handle()
        key = handle_id(handle)
        self._put(key, session)
        cookie = session_cookie(self.config, self.config.cookie_name, seal_handle(handle, self.config.cookie_passwords))
        return LoadedSession(session, key, handle), [cookie]

    def update(
        self, loaded: LoadedSession, session: Session, owner: str | None = None
    ) -> tuple[LoadedSession, list[SetCookie]]:
        """Replace the entry; the cookie does not change.

        Only an entry that is still there is replaced: one deleted (sign-out), revoked, expired or evicted since
        ``loaded`` was read is not re-created, and :class:`SessionError` (``session_not_found``, terminal) is
        raised, so the refreshing request ends signed out (the engine then expires its cookie)."""
        if not self._replace(loaded.key, session):
            raise SessionError("the session ended while it was being refreshed", code="session_not_found")
        return LoadedSession(session, loaded.key, loaded.ref), []

    def delete(self, loaded: LoadedSession | None, cookies: Mapping[str, str]) -> list[SetCookie]:
        """Drop the entry (found from ``loaded``, else from the request's cookie) and expire the cookie."""
        key = loaded.key if loaded is not None else self._key_from_cookies(cookies)
        forget_handle(loaded.ref if loaded is not None else None, cookies.get(self.config.cookie_name))
        if key is not None:
            with self._lock:
                self._drop(key)
        return [expired_cookie(self.config, self.config.cookie_name)]

    def revoke_user_sessions(self, user_id: str) -> int:
        """Delete every session of ``user_id`` (sign out everywhere); returns how many. A refresh in flight for
        one of them cannot bring it back (see :meth:`update`)."""
        with self._lock:
            keys = self._keys_of(user_id)
            for key in keys:
                self._drop(key)
        return len(keys)

    async def arevoke_user_sessions(self, user_id: str) -> int:
        """Async :meth:`revoke_user_sessions` (no I/O: the same call)."""
        return self.revoke_user_sessions(user_id)

    def _key_from_cookies(self, cookies: Mapping[str, str]) -> str | None:
        value = cookies.get(self.config.cookie_name)
        if not value:
            return None
        try:
            return handle_id(open_handle(value, self.config.cookie_passwords))
        except SealError:
            return None

    def reload(self, loaded: LoadedSession) -> LoadedSession | None:
        """The entry as it is now."""
        session = self._get(loaded.key)
        return None if session is None else LoadedSession(session, loaded.key, loaded.ref)
