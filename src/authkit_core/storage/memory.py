"""``MemorySessionStore``: sessions in this process's memory, bounded (LRU) with a time-to-live.

For tests and single-process apps. The cookie holds a sealed random handle (see ``handles.py``); sign-out deletes
the entry, so a copied cookie stops working. Everything is lost when the process exits.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from ..config import AuthKitConfig
from ..cookies import SetCookie, expired_cookie, session_cookie
from ..errors import ConfigurationError, SealError
from ..models import Session
from .base import LoadedSession, LoadResult, SyncStoreMixin
from .handles import handle_id, new_handle, open_handle, seal_handle

__all__ = ["MemorySessionStore"]


class MemorySessionStore(SyncStoreMixin):
    """At most ``max_entries`` sessions (least recently used evicted first), each kept ``ttl_seconds`` after its
    last save (default: the cookie's max age)."""

    shared = False
    #: The browser holds only a handle: refresh grants may use a replayable ``Idempotency-Key`` (see the engine).
    keeps_tokens_server_side = True

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        ttl_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ConfigurationError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, Session]] = OrderedDict()
        self._config: AuthKitConfig | None = None

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
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def _put(self, key: str, session: Session) -> None:
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl_seconds(), session)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

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
        """Replace the entry; the cookie does not change."""
        self._put(loaded.key, session)
        return LoadedSession(session, loaded.key, loaded.ref), []

    def delete(self, loaded: LoadedSession | None, cookies: Mapping[str, str]) -> list[SetCookie]:
        """Drop the entry and expire the cookie."""
        if loaded is not None:
            with self._lock:
                self._entries.pop(loaded.key, None)
        return [expired_cookie(self.config, self.config.cookie_name)]

    def reload(self, loaded: LoadedSession) -> LoadedSession | None:
        """The entry as it is now."""
        session = self._get(loaded.key)
        return None if session is None else LoadedSession(session, loaded.key, loaded.ref)
